"""`keras-lossopt plot-losses`: the loss-shape figure from the command line."""

from tests.cli.conftest import assert_one_line_error, assert_valid_png, cli  # noqa: F401


def test_plot_losses_writes_one_row_per_axis_and_says_which(cli, tmp_path):  # noqa: F811
    path = tmp_path / "shapes.png"
    ran = cli("plot-losses", "l1,l2,huber", "--out", path, "--points", 31)
    assert ran.code == 0, ran.err
    assert_valid_png(path, (1000, 360))
    assert ran.out.splitlines() == ["regression losses against the residual: l1, l2, huber",
                                    f"Wrote {path}"]
    path = tmp_path / "mixed.png"
    ran = cli("plot-losses", "hinge,l1,binary_crossentropy", "--out", path, "--points", 31,
              "--title", "mixed")
    assert ran.code == 0, ran.err
    assert_valid_png(path, (1000, 1120))  # three rows and the title
    assert ran.out.splitlines()[:3] == [
        "regression losses against the residual: l1",
        "classification losses against the probability of the true class: binary_crossentropy",
        "margin losses against the margin: hinge"]


def test_plot_losses_bad_input_is_one_line_and_writes_nothing(cli, tmp_path):  # noqa: F811
    path = tmp_path / "shapes.png"
    assert_one_line_error(cli("plot-losses", "l1,hubre", "--out", path),
                          "Unknown loss name: 'hubre'", "'huber'")
    assert_one_line_error(cli("plot-losses", "l1,giou", "--out", path), "'giou' takes boxes")
    assert_one_line_error(cli("plot-losses", "bce", "--probability-range", "0", "1", "--out",
                              path), "--probability-range must lie inside (0, 1)",
                          "--probability-range=(0.0, 1.0)")
    assert_one_line_error(cli("plot-losses", "l1,", "--out", path), "LOSSES")
    assert_one_line_error(cli("plot-losses", "l1", "--out", tmp_path / "no" / "x.png"),
                          "does not exist")
    assert not path.exists()
