"""The README's examples (tutorials.py, sam_label_noise.py): keep them working."""

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


@pytest.mark.slow
def test_sam_label_noise_example_runs(capsys):
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("sam_label_noise",
                                                  EXAMPLES / "sam_label_noise.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    # A smoke run (the README's numbers come from the default 30 epochs, 5 seeds).
    curves = example.main(seeds=1, epochs=2)
    (plain,), (sam,) = curves.values()
    assert len(plain) == len(sam) == 2
    assert 0.5 < plain[-1] <= 1 and 0.5 < sam[-1] <= 1  # 2 epochs already beat chance (0.1)
    assert "SAM + SGD + momentum" in capsys.readouterr().out
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    example.plot(curves)  # the gallery's figure
    assert len(plt.figure("validation_accuracy").axes[0].lines) == 2
    plt.close("all")
