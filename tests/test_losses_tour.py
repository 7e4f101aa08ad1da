"""examples/losses_tour.py: runs with fewer epochs and each family shows its effect."""

import importlib.util
import pathlib

import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "losses_tour.py"


@pytest.mark.slow
def test_losses_tour_runs_and_each_example_shows_its_point(capsys):
    spec = importlib.util.spec_from_file_location("losses_tour", EXAMPLE)
    tour = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tour)
    curves = {}
    results = tour.main(scale=0.4, curves=curves)
    out = capsys.readouterr().out
    assert "1. Quantile regression" in out and "4. Metric learning" in out

    quantile = results["quantile_regression"]
    assert quantile["below"][0] < quantile["below"][1] < quantile["below"][2]
    assert quantile["width_far"] > 1.5 * quantile["width_near"]  # the band follows the noise

    robust = results["robust_regression"]  # errors on the clean line
    assert robust["barron"] < 0.5 * robust["mean_squared_error"]
    assert robust["huber"] < robust["mean_squared_error"]

    assert set(results["imbalanced_binary"]) == {
        "binary_crossentropy", "focal (TFA default a=0.25)", "focal (alpha=0.75)"}

    metric = results["metric_learning"]
    assert metric["loss_end"] < metric["loss_start"]
    assert metric["ratio_embedding"] < metric["ratio_pca"]  # tighter classes than PCA

    # The gallery's figures: one per example, drawn from the collected arrays.
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    tour.plot(curves)
    assert sorted(plt.figure(n).get_label() for n in plt.get_fignums()) == [
        "embedding", "precision_recall", "quantile_band", "robust_regression"]
    plt.close("all")
