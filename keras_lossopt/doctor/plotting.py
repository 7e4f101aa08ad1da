"""Plots of the learning-rate finder and of the training doctor (matplotlib, optional).

matplotlib is imported only when a plot is drawn; without it the plotting
functions raise an ImportError that names `pip install keras_lossopt[plot]`.
"""

import numpy as np

__all__ = ["plot_lr_finder", "plot_training"]


def require_matplotlib():
    """Imports matplotlib, or raises an ImportError naming the `plot` extra."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "Plotting needs matplotlib, an optional dependency of keras_lossopt. "
            "Install it with `pip install keras_lossopt[plot]`."
        ) from error
    return Figure


def _axes(ax):
    if ax is not None:
        return ax.figure, ax
    figure_cls = require_matplotlib()
    fig = figure_cls(figsize=(6.4, 4.0))
    return fig, fig.add_subplot(1, 1, 1)


def _finish(fig, path):
    if path is not None:
        fig.tight_layout()
        fig.savefig(path, dpi=110)


def _log_axis_ticks(axis):
    """Decade ticks only, labelled 1e-05 ... (no crowded minor labels, no offset)."""
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10.0, numticks=12))
    axis.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=True))
    axis.set_minor_locator(LogLocator(base=10.0, subs=np.arange(2, 10), numticks=12))
    axis.set_minor_formatter(NullFormatter())


def plot_lr_finder(result, path=None, ax=None, show_raw=True):
    """Plots loss against learning rate (log scale), marking every suggestion.

    The x axis spans the whole range asked for (so a test that stopped early shows
    where it stopped), with decade ticks; the point where the smoothed loss started
    to rise is marked, and an unreliable result says why in a box on the plot.

    Args:
        result: an `LRFinderResult`.
        path: file to save the figure to. Defaults to `None` (not saved).
        ax: matplotlib axes to draw on. Defaults to `None` (a new figure).
        show_raw: also draw the unsmoothed batch losses. Defaults to `True`.

    Returns:
        The matplotlib axes.
    """
    import textwrap

    require_matplotlib()
    fig, ax = _axes(ax)
    lrs = np.asarray(result.lrs)
    losses = np.asarray(result.losses)
    raw = np.asarray(result.raw_losses)
    if show_raw:
        ax.plot(lrs, raw, color="0.7", lw=0.8, marker="." if len(lrs) < 20 else None,
                label="batch loss")
    ax.plot(lrs, losses, color="C0", lw=1.8, marker="o" if len(lrs) < 20 else None, ms=4,
            label="smoothed loss")
    rise_lr = getattr(result, "rise_lr", float("nan"))
    if np.isfinite(rise_lr):
        ax.axvline(rise_lr, color="C3", lw=0.8, ls="--", label=f"loss rises from {rise_lr:.2g}")
    markers = {"valley": ("C3", "o"), "steep": ("C2", "^"), "minimum": ("C1", "s")}
    for method, lr in result.suggestions.items():
        if lr is None or not np.isfinite(lr):
            continue
        color, marker = markers.get(method, ("C4", "d"))
        idx = int(np.argmin(np.abs(np.log(lrs) - np.log(lr))))
        star = " (suggestion)" if lr == result.suggestion and method == result.method else ""
        ax.plot([lr], [losses[idx]], marker=marker, color=color, ms=9, ls="none",
                label=f"{method}: {lr:.2g}{star}")
    ax.set_xscale("log")
    low_lr, high_lr = getattr(result, "planned_range", (lrs[0], lrs[-1]))
    if np.isfinite(low_lr) and np.isfinite(high_lr) and high_lr > low_lr:
        ax.set_xlim(low_lr / 1.5, high_lr * 1.5)
    _log_axis_ticks(ax.xaxis)
    finite = losses[np.isfinite(losses)]
    raw = raw[np.isfinite(raw)]
    if finite.size:
        # From the lowest loss seen to the top of the curve before it rose: the
        # blow-up at the end would otherwise flatten everything else.
        low = min(finite.min(), raw.min()) if (show_raw and raw.size) else finite.min()
        rise = int(np.argmin(finite))
        high = finite[: max(1, rise + 1, len(finite) // 2)].max()
        if high / max(low, 1e-300) > 50 and low > 0:
            ax.set_yscale("log")
            ax.set_ylim(low / 1.3, high * 1.3)
        else:
            pad = 0.05 * max(high - low, 0.05 * abs(high), 1e-12)
            ax.set_ylim(low - pad, high + 3 * pad)
            ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.set_title("Learning-rate range test" + ("" if result.reliable else ": unreliable"))
    if not result.reliable:
        ax.text(0.02, 0.04, textwrap.fill(f"No reliable suggestion: {result.reason}", 60),
                transform=ax.transAxes, ha="left", va="bottom", fontsize="small",
                bbox={"boxstyle": "round", "fc": "#fff3e0", "ec": "C1", "alpha": 0.95})
    ax.legend(fontsize="small", loc="upper left", framealpha=0.9)
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    _finish(fig, path)
    return ax


def plot_training(report, path=None, ax=None):
    """Plots the loss curves seen by a `TrainingDoctor`, with its verdicts marked.

    Args:
        report: a `DoctorReport` (from `TrainingDoctor.report()`).
        path: file to save the figure to. Defaults to `None`.
        ax: matplotlib axes to draw on. Defaults to `None` (a new figure).

    Returns:
        The matplotlib axes.
    """
    require_matplotlib()
    fig, ax = _axes(ax)
    history = report.history
    batch = np.asarray(history.get("batch_loss", []), dtype="float64")
    epochs = np.asarray(history.get("loss", []), dtype="float64")
    val = np.asarray(history.get("val_loss", []), dtype="float64")
    steps = np.asarray(history.get("epoch_end_step", []), dtype="float64")
    if batch.size:
        ax.plot(np.arange(1, batch.size + 1), batch, color="0.7", lw=0.7, label="batch loss")
    if epochs.size:
        x = steps if steps.size == epochs.size else np.arange(1, epochs.size + 1)
        ax.plot(x, epochs, "o-", color="C0", ms=3, label="train loss (epoch)")
        if val.size == epochs.size:
            ax.plot(x, val, "o-", color="C1", ms=3, label="validation loss")
    ax.set_xlabel("step" if batch.size else "epoch")
    ax.set_ylabel("loss")
    finite = np.concatenate([a[np.isfinite(a)] for a in (batch, epochs, val)] or [[]])
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 50:
        ax.set_yscale("log")
    text = "\n".join(f"{v.severity}: {v.code}" for v in report.verdicts)
    ax.text(0.98, 0.97, text, transform=ax.transAxes, ha="right", va="top",
            fontsize="small", bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8})
    ax.set_title(f"Training doctor: {report.primary}")
    ax.legend(fontsize="small", loc="lower left")
    ax.grid(True, alpha=0.3)
    _finish(fig, path)
    return ax
