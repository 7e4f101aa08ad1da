"""PNG plots of the lab (matplotlib, Agg, imported lazily; no pyplot global state).

Figures have a fixed size in pixels (`loss_curves_size`, `ROSENBROCK_SIZE`) so
that tests and READMEs can rely on it.
"""

import math

from keras_lossopt.cli._errors import missing_extra

DPI = 100
PANEL_INCHES = (4.0, 3.5)
ROSENBROCK_INCHES = (7.0, 5.5)
ROSENBROCK_SIZE = (int(ROSENBROCK_INCHES[0] * DPI), int(ROSENBROCK_INCHES[1] * DPI))


def _figure(inches):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise missing_extra("matplotlib", "plot") from error
    figure = Figure(figsize=inches, dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def check_matplotlib():
    """Raises the one-line CLIError early when matplotlib is missing."""
    _figure((1, 1))


def loss_curves_size(n_panels):
    """(width, height) in pixels of a loss-curve figure with `n_panels` panels."""
    return int(PANEL_INCHES[0] * n_panels * DPI), int(PANEL_INCHES[1] * DPI)


def _colors(labels):
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
               "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    return {label: palette[i % len(palette)] for i, label in enumerate(labels)}


def loss_curves(path, results, title):
    """One panel per loss, one line per optimizer: the validation loss per epoch.
    For the protocol's results (cli.protocol.PairResult) the line is the mean over
    the seeds at the optimizer's chosen learning rate, their range shaded; a
    single run (RunResult) is its own curve."""
    loss_curves_figure(results, title).savefig(path, dpi=DPI)
    return path


def seed_curves(result):
    """The validation-loss curves behind one result: one per seed."""
    curves = getattr(result, "val_loss_curves", None)
    return curves if curves else [result.history.get("val_loss", [])]


def seed_band(curves):
    """(mean, min, max) per epoch over `curves` (NaN where no seed is finite)."""
    import warnings

    import numpy as np

    length = max((len(c) for c in curves), default=0)
    grid = np.full((len(curves), length), np.nan)
    for i, curve in enumerate(curves):
        grid[i, :len(curve)] = [v if v is not None and math.isfinite(v) else np.nan
                                for v in curve]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an epoch where every seed is NaN
        return np.nanmean(grid, 0), np.nanmin(grid, 0), np.nanmax(grid, 0)


def loss_curves_figure(results, title):
    """The figure of `loss_curves`: the title wrapped to the figure's width, whole
    epochs on the x axis, the legend below the panels (never over a curve), and
    y limits that show every run's typical values (`y_limits`), so one run's dip
    or blow-up does not flatten the others (its line leaves the panel there)."""
    from matplotlib.ticker import MaxNLocator

    losses = list(dict.fromkeys(r.loss for r in results))
    optimizers = list(dict.fromkeys(r.optimizer for r in results))
    colors = _colors(optimizers)
    inches = (PANEL_INCHES[0] * len(losses), PANEL_INCHES[1])
    figure = _figure(inches)
    figure.set_layout_engine("constrained")
    axes = figure.subplots(1, len(losses), squeeze=False)[0]
    for ax, loss in zip(axes, losses):
        curves = []
        for result in (r for r in results if r.loss == loss):
            runs = seed_curves(result)
            mean, low, high = seed_band(runs)
            epochs = range(1, len(mean) + 1)
            ax.plot(epochs, mean, label=result.optimizer, color=colors[result.optimizer],
                    linewidth=1.5)
            if len(runs) > 1:
                ax.fill_between(epochs, low, high, color=colors[result.optimizer],
                                alpha=0.15, linewidth=0)
            curves.append(list(mean))
        log, limits = y_limits(curves)
        if log:
            ax.set_yscale("log")
            _plain_log_labels(ax, limits)
        if limits is not None:
            ax.set_ylim(*limits)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_title(wrap_title(loss, PANEL_INCHES[0], fontsize=9), fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("validation loss")
    handles, labels = axes[0].get_legend_handles_labels()
    # As many columns as fit the width: a 7-point character is about 4 points
    # wide, an entry's line and gaps about 5 characters.
    entry = max(len(label) for label in labels) + 5
    columns = max(1, min(len(labels), int(inches[0] * 72 / 4.0) // entry))
    figure.legend(handles, labels, loc="outside lower center", fontsize=7, frameon=False,
                  ncols=columns)
    figure.suptitle(wrap_title(title, inches[0], fontsize=10), fontsize=10)
    return figure


def y_limits(curves):
    """`(log, (low, high) or None)` for the panel of these validation-loss curves.

    Log scale when every finite value is positive. The limits cover, for every
    run, its first and final values and its middle half (25th to 75th
    percentile), with a margin: a short dip or burst of one run then leaves the
    panel instead of squashing every other curve into a line.
    """
    import numpy as np

    runs = [np.asarray([v for v in c if v is not None and math.isfinite(v)], dtype="float64")
            for c in curves]
    runs = [r for r in runs if len(r)]
    if not runs:
        return False, None
    log = all((r > 0).all() for r in runs)
    kept = np.concatenate([[r[0], r[-1], *np.percentile(r, [25, 75])] for r in runs])
    low, high = float(kept.min()), float(kept.max())
    if log:
        pad = max(high / low, 1.5) ** 0.08
        return True, (low / pad, high * pad)
    pad = 0.08 * (high - low) or 0.1 * (abs(high) or 1.0)
    return False, (low - pad, high + pad)


def _plain_log_labels(ax, limits):
    """Log-axis labels as plain numbers ("0.5", "2"), not 5x10^-1; within about a
    decade the 2s and 5s between powers of ten are labelled too."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
    if limits is None or limits[1] / limits[0] > 30:
        ax.yaxis.set_minor_formatter(NullFormatter())
        return

    def minor(value, _):
        mantissa = round(value / 10 ** math.floor(math.log10(value)))
        return f"{value:.2g}" if mantissa in (2, 5) else ""

    ax.yaxis.set_minor_formatter(FuncFormatter(minor))


def wrap_title(title, width_inches, fontsize):
    """`title` broken into lines that fit `width_inches` at `fontsize` points, at
    spaces or after `_`, `(`, `,` and `=` (loss names have no spaces).

    >>> wrap_title("sparse_categorical_crossentropy(label_smoothing=0.1)", 2.0, 9).split()
    ['sparse_categorical_', 'crossentropy(label_', 'smoothing=0.1)']
    """
    import re

    # A character is at most about 0.62 em wide on average in the default
    # sans-serif font (underscores and lower case letters, as in loss names).
    per_line = max(16, int(width_inches * 72 / (0.62 * fontsize)) - 2)
    lines, line = [], ""
    for piece in re.findall(r"[^\s_(,=]*(?:[\s_(,=]|$)", title):
        if line and len((line + piece).rstrip()) > per_line:
            lines.append(line.rstrip())
            line = piece.lstrip()
        else:
            line += piece
    lines.append(line.rstrip())
    return "\n".join(lines)


def rosenbrock_plot(path, paths, minimum=(1.0, 1.0)):
    """Contours of the Rosenbrock function and each optimizer's walk on it."""
    import numpy as np

    from keras_lossopt.cli.rosenbrock import rosenbrock

    figure = _figure(ROSENBROCK_INCHES)
    ax = figure.subplots()
    xs = np.linspace(-2.0, 2.0, 300)
    ys = np.linspace(-1.0, 3.0, 300)
    grid_x, grid_y = np.meshgrid(xs, ys)
    ax.contour(grid_x, grid_y, np.log10(rosenbrock(grid_x, grid_y) + 1e-3),
               levels=25, cmap="Greys", linewidths=0.6)
    colors = _colors(list(paths))
    for i, (label, walk) in enumerate(paths.items()):
        walk = np.asarray(walk)
        shown = walk[np.all(np.isfinite(walk), axis=1)]
        # Wider lines first, so that walks sharing the valley floor stay visible.
        ax.plot(shown[:, 0], shown[:, 1], "-", linewidth=max(4.5 - 1.1 * i, 1.0),
                color=colors[label], alpha=0.85,
                label=f"{label}: f = {rosenbrock(*shown[-1]):.2g} after {len(shown) - 1} steps")
        ax.plot(*shown[-1], "o", color=colors[label], markersize=6)
    start = np.asarray(next(iter(paths.values())))[0]
    ax.plot(*start, "ks", markersize=6, label="start")
    ax.plot(*minimum, "r*", markersize=12, label="minimum (1, 1)")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Optimizers on f(x, y) = (1 - x)^2 + 100 (y - x^2)^2", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    return path
