"""The loss-curve PNG read as a user would: nothing clipped, nothing hidden, whole epochs."""

import numpy as np

from keras_lossopt.cli import common, plots, specs


def _run(loss, optimizer, val_loss):
    nan = float("nan")
    return specs.RunResult(
        task="multiclass", dataset="wine", loss=loss, optimizer=optimizer, learning_rate=1e-3,
        batch_size=32, epochs=len(val_loss), metric="val_accuracy", goal=0.9,
        final_val_loss=val_loss[-1], best_val_loss=min(val_loss), best_epoch=1,
        final_metric=nan, best_metric=nan, epochs_to_goal=None, wall_time_s=0.1,
        doctor="healthy", history={"val_loss": list(val_loss)})


def _drawn(figure):
    figure.canvas.draw()
    return figure.canvas.get_renderer()


def _inside(box, outer):
    return box.x0 >= outer.x0 - 0.5 and box.x1 <= outer.x1 + 0.5 and \
        box.y0 >= outer.y0 - 0.5 and box.y1 <= outer.y1 + 0.5


def test_titles_and_legend_fit_and_cover_no_curve():
    results = [_run("sparse_categorical_crossentropy(label_smoothing=0.1)", name,
                    [1.2, 0.9 - i * 0.1, 0.7 - i * 0.1])
               for i, name in enumerate(["gd (full batch)", "sgd (momentum 0.9)", "adam",
                                         "rmsprop", "radam", "lookahead", "prodigy"])]
    figure = plots.loss_curves_figure(results, "my_own_data_set_name: validation loss per "
                                      "epoch, one line per optimizer")
    renderer = _drawn(figure)
    page = figure.bbox
    assert tuple(map(int, page.size)) == plots.loss_curves_size(1)
    texts = [figure._suptitle] + [ax.title for ax in figure.axes]
    for text in texts:
        assert _inside(text.get_window_extent(renderer), page), text.get_text()
    (legend,) = figure.legends
    box = legend.get_window_extent(renderer)
    assert _inside(box, page)
    assert len(legend.get_texts()) == 7
    for ax in figure.axes:  # below the panels, over no curve
        assert not box.overlaps(ax.get_window_extent(renderer))


def test_epochs_are_whole_numbers():
    figure = plots.loss_curves_figure([_run("mse", "adam", [1.0, 0.8, 0.7])], "three epochs")
    _drawn(figure)
    (ax,) = figure.axes
    low, high = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if low <= t <= high]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_one_run_s_dip_does_not_flatten_the_others():
    steady = [_run("cce", name, list(np.linspace(1.4, 0.7 + 0.01 * i, 8)))
              for i, name in enumerate(["gd", "sgd", "adam"])]
    dip = _run("cce", "prodigy", [1.5, 1.3, 0.1, 0.13, 1.7e-5, 0.6, 0.55, 0.27])
    figure = plots.loss_curves_figure(steady + [dip], "wine")
    _drawn(figure)
    (ax,) = figure.axes
    low, high = ax.get_ylim()
    assert ax.get_yscale() == "log"
    assert high / low < 100  # about a decade and a half, not five
    for run in steady + [dip]:
        values = run.history["val_loss"]
        assert low < values[0] < high and low < values[-1] < high


def test_a_plan_named_after_its_data_set_names_it_once():
    class Plan:
        def __init__(self, key, name):
            self.key, self.dataset = key, type("D", (), {"name": name})

    assert common._plot_name(Plan("wine", "wine")) == "wine"
    assert common._plot_name(Plan("regression", "diabetes")) == "regression (diabetes)"
