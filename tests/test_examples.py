"""The README's main job runs examples/tutorials.py: keep it working."""

import importlib.util
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.slow
def test_tutorials_example_runs_and_every_run_lowers_validation_loss(capsys):
    spec = importlib.util.spec_from_file_location("tutorials", EXAMPLES / "tutorials.py")
    tutorials = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tutorials)
    runs = tutorials.main(epochs=3)  # asserts internally that each run's val loss decreases
    out = capsys.readouterr().out
    assert out.count("tutorial ") == 3 and out.count("keras_lossopt ") == 3
    assert [len(r["val_loss"]) for r in runs] == [3] * 6

    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    tutorials.plot(runs)  # the gallery's figure: one panel per task
    assert len(plt.figure("validation_loss").axes) == 3
    plt.close("all")
