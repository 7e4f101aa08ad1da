"""examples/optimizers_tour.py: runs, reads the registry, and the optimizers train."""

import importlib.util
import math
import pathlib

import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "optimizers_tour.py"


def _load():
    spec = importlib.util.spec_from_file_location("optimizers_tour", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tour_lists_every_keras_lossopt_optimizer():
    from keras_lossopt import registry

    names = _load().optimizer_names()
    ours = {e.name for e in registry.entries("optimizer") if not e.builtin}
    assert ours <= set(names) and "adam" in names
    assert "lamb" not in names  # Keras built-ins other than the baselines are skipped


@pytest.mark.slow
def test_tour_trains_and_prints_a_table(capsys):
    tour = _load()
    rows = tour.main(names=["adam", "radam"], epochs=2)
    out = capsys.readouterr().out
    assert [r["name"] for r in rows] == ["adam", "radam"]
    assert all(r["steps"] == 2 * 23 for r in rows)  # 1437 images, batch 64
    assert all(math.isfinite(r["loss"]) for r in rows)
    assert rows[0]["loss"] < 2.2 and rows[0]["accuracy"] > 0.3  # Adam learns in 46 steps
    assert "val acc" in out and "FAILED" not in out

    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    tour.plot(rows)  # the gallery's figure
    fig = plt.figure("optimizers_on_digits")
    assert {t.get_text() for t in fig.axes[0].get_yticklabels()} == {"adam", "radam"}
    assert [len(ax.patches) for ax in fig.axes] == [2, 2]  # accuracy and loss bars
    plt.close("all")
