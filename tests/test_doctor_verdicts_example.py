"""examples/doctor_verdicts.py: each run gets the verdict its picture illustrates.

The "Reading a loss curve" guide shows these runs' figures under the verdict's name,
so a change in the doctor or in Keras that moves a run to another verdict fails here.
"""

import importlib.util
import pathlib

import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "doctor_verdicts.py"


def _load():
    spec = importlib.util.spec_from_file_location("doctor_verdicts", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_each_run_gets_the_verdict_it_is_named_after(capsys):
    example = _load()
    reports = example.main()
    assert list(reports) == [setup.__name__ for setup in example.RUNS]
    for name, report in reports.items():
        assert report.primary == name, f"{name}: {report}"
    assert capsys.readouterr().out.count("Training doctor: ") == len(example.RUNS)

    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    example.plot(reports)
    labels = [plt.figure(n).get_label() for n in plt.get_fignums()]
    assert labels == list(reports)
    assert plt.figure("diverged").axes[0].get_title() == "Training doctor: diverged"
    plt.close("all")
