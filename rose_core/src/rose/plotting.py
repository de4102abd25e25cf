"""Learning curves of a campaign: the criterion metric against labels (or iterations).

``rose.plotting.learning_curve(run_dir)`` writes ``<run_dir>/learning_curve.png``: one
line per learner, the stop threshold drawn as a dashed line, the iteration where a
learner met its criterion marked. The x axis is the number of labeled samples when the
tasks report ``labeled_count`` (see :mod:`rose.runs`), else the iteration.

matplotlib is optional for ROSE: it is imported only here, only when a plot is drawn
(``pip install matplotlib``, or ``pip install 'rose-core[cli]'``). Drawing uses the
object-oriented API with the Agg canvas, so it never touches pyplot's global state or
opens a window.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from rose.errors import RoseError
from rose.runs import Run, load_run, reached_target

__all__ = ["PLOT_NAME", "SHOW_MAKER", "learning_curve", "metric_label", "plot_maker", "short_metric_name"]

PLOT_NAME = "learning_curve.png"

#: the PNG ``Software`` value of plots ``rose show`` draws (it redraws those, never others)
SHOW_MAKER = "ROSE (rose show)"
#: the PNG ``Software`` value of every other plot drawn here
DEFAULT_MAKER = "ROSE (rose.plotting)"

# distinct, colour-blind friendly line colours (Okabe-Ito), in learner order
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
THRESHOLD_COLOR = "#666666"

#: readable names (and units) of ROSE's built-in metrics
_METRIC_LABELS = {
    "mean_squared_error_mse": "MSE", "root_mean_squared_error_rmse": "RMSE", "mean_absolute_error_mae": "MAE",
    "r2_score": "R²", "model_accuracy": "accuracy (fraction correct)", "training_time": "training time (s)",
    "time_to_convergence": "time to convergence (s)", "number_of_iterations": "iterations",
    "predictive_entropy": "predictive entropy (nats)", "mutual_information": "mutual information (nats)",
    "negative_log_likelihood": "negative log-likelihood (nats)", "f1_score": "F1 score",
}
#: name endings that are abbreviations, shown in capitals (``holdout_rmse``: ``RMSE``)
_ABBREVIATIONS = {"mse", "rmse", "mae", "r2", "auc", "emi", "nll"}
_UNIT_SUFFIXES = {"_s": "s", "_seconds": "s", "_ms": "ms", "_bytes": "bytes", "_mb": "MB", "_percent": "%", "_pct": "%"}


def short_metric_name(name: str | None) -> str:
    """A metric's short name for one-line texts: ``root_mean_squared_error_rmse`` -> ``RMSE`` (a name ending in
    an abbreviation such as ``_rmse``, ``_mae``, ``_auc`` or ``_nll``); other names are kept, None is ``metric``."""
    if not name:
        return "metric"
    tail = name.rsplit("_", 1)[-1]
    return tail.upper() if tail != name and tail.lower() in _ABBREVIATIONS else name


def metric_label(name: str | None, units: str | None = None) -> str:
    """A readable axis label for a metric: ``RMSE`` for ``root_mean_squared_error_rmse``, units where known.

    ROSE's built-in metrics have readable names (``training time (s)``); a name ending in an
    abbreviation is that abbreviation (see :func:`short_metric_name`); else a suffix such as
    ``_s`` or ``_seconds`` gives the units and underscores become spaces. ``units``
    (``"eV/atom"``) wins over units found in the name.
    """
    if not name:
        return f"metric ({units})" if units else "metric"
    known = _METRIC_LABELS.get(name)
    if known is not None:
        return f"{known.split(' (')[0]} ({units})" if units else known
    short = short_metric_name(name)
    if short != name:
        return f"{short} ({units})" if units else short
    text, found_unit = name, None
    for suffix, unit in _UNIT_SUFFIXES.items():
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            text, found_unit = name[: -len(suffix)], unit
            break
    text, shown = text.replace("_", " ").strip() or name, units or found_unit
    return f"{text} ({shown})" if shown else text


def _matplotlib() -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise RoseError(
            "plotting learning curves needs matplotlib, which is not installed: "
            "`pip install matplotlib` (or `pip install 'rose-core[cli]'`)"
        ) from exc
    return Figure, FigureCanvasAgg


def learning_curve(
    run: Run | str | os.PathLike[str],
    path: str | os.PathLike[str] | None = None,
    *,
    labels: Mapping[Any, str] | None = None,
    title: str | None = None,
    log_y: bool | None = None,
    maker: str = DEFAULT_MAKER,
    units: str | None = None,
) -> str:
    """Draw ``run``'s learning curve to ``path`` (default ``<run_dir>/learning_curve.png``).

    ``run`` is a campaign directory or a :class:`rose.runs.Run`. ``labels`` maps learner
    ids to legend names (default: each learner's ``learner_label`` or ``learner <id>``).
    ``log_y`` defaults to a log scale when the values span more than a factor of 20.
    The y axis is labeled by :func:`metric_label` (``units``, such as ``"eV/atom"``, shown there).
    Returns the path written. The PNG's metadata records the curves' names
    (``Description``), so tools can tell what the image shows without reading pixels, and
    ``maker`` as ``Software`` (see :func:`plot_maker`).
    """
    loaded = run if isinstance(run, Run) else load_run(run)
    target = os.fspath(path) if path is not None else os.path.join(loaded.path, PLOT_NAME)
    Figure, FigureCanvasAgg = _matplotlib()
    figure = Figure(figsize=(7.5, 4.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    names: list[str] = []
    values_all: list[float] = []
    x_kind = "iteration"
    for index, history in enumerate(loaded.ordered_learners()):
        x_kind_i, xs = history.x_values()
        ys = history.metric_values()
        if not ys:
            continue
        x_kind = x_kind_i if index == 0 or x_kind == x_kind_i else "iteration"
        name = (labels or {}).get(history.learner_id) or history.label
        names.append(name)
        values_all.extend(ys)
        color = COLORS[index % len(COLORS)]
        hit = reached_target(history, loaded.threshold, loaded.operator)
        legend = name
        if hit is not None:
            hx = float(hit["labeled_count"]) if x_kind_i == "labeled_count" else float(hit["iteration"])
            legend += f" (target met at {hx:g})"
        # the line as drawn at this size (see _drawn), a marker on at most ~500 points: a
        # million-task campaign plots as quickly as a small one
        xs, ys = _drawn(xs, ys)
        axes.plot(xs, ys, marker="o", markersize=3.5, markevery=max(1, len(xs) // 500), linewidth=2.0, color=color,
                  label=legend)
        if hit is not None:
            axes.plot([hx], [float(hit["metric_value"])], marker="*", markersize=15, color=color,
                      markeredgecolor="black", linestyle="none")
    if loaded.threshold is not None:
        op = loaded.operator or ""
        axes.axhline(loaded.threshold, color=THRESHOLD_COLOR, linestyle="--", linewidth=1.2,
                     label=f"target {op} {loaded.threshold:g}".replace("  ", " "))
        values_all.append(loaded.threshold)
    positive = [v for v in values_all if v > 0]
    if log_y is None:
        log_y = bool(positive) and len(positive) == len(values_all) and max(positive) / min(positive) > 20
    if log_y:
        axes.set_yscale("log")
    axes.set_xlabel("labeled samples (simulations)" if x_kind == "labeled_count" else "iteration")
    axes.set_ylabel(metric_label(loaded.metric_name, units))
    heading = title or f"{loaded.name}: {loaded.learner_type}"
    if loaded.dry_run:  # never let placeholder values pass for results
        heading = f"DRY RUN (no task ran, placeholder values): {heading}"
        axes.text(0.5, 0.5, "DRY RUN", transform=axes.transAxes, fontsize=40, color="#999999", alpha=0.4,
                  ha="center", va="center", rotation=20)
    axes.set_title(heading, fontsize=11)
    axes.grid(True, which="both", alpha=0.3)
    if names or loaded.threshold is not None:
        axes.legend(loc="best", fontsize=9)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    description = f"learning curves: {'; '.join(names)}"
    if loaded.dry_run:
        description = f"DRY RUN, placeholder values | {description}"
    if loaded.threshold is not None:
        description += f" | threshold: {loaded.operator or ''} {loaded.threshold:g}"
    figure.savefig(target, format="png", metadata={"Title": title or loaded.name, "Description": description,
                                                    "Software": maker})
    return target


def _drawn(xs: list[float], ys: list[float], columns: int = 2000) -> tuple[list[float], list[float]]:
    """The points of a long line that decide how it looks: per column of x, the first, lowest,
    highest and last point, in x order (the figure is about 800 pixels wide, so 2,000 columns
    draw the same picture as every point; 250,000 points took 0.6 s to draw, twice)."""
    if len(xs) <= 4 * columns:
        return xs, ys
    low, high = xs[0], xs[-1]
    width = (high - low) / columns or 1.0
    keep: list[int] = []
    start = 0
    while start < len(xs):
        column = int((xs[start] - low) / width)
        end = start
        while end + 1 < len(xs) and int((xs[end + 1] - low) / width) == column:
            end += 1
        span = range(start, end + 1)
        lowest = min(span, key=ys.__getitem__)
        highest = max(span, key=ys.__getitem__)
        keep.extend(sorted({start, lowest, highest, end}))
        start = end + 1
    return [xs[i] for i in keep], [ys[i] for i in keep]


def plot_maker(path: str | os.PathLike[str]) -> str | None:
    """The ``Software`` text of a PNG file (who drew it), or None (not a PNG, or no such text).

    Reads the PNG's ``tEXt`` chunks directly, so it needs neither matplotlib nor Pillow.
    """
    import struct

    try:
        with open(path, "rb") as handle:
            if handle.read(8) != b"\x89PNG\r\n\x1a\n":
                return None
            while True:
                header = handle.read(8)
                if len(header) < 8:
                    return None
                length, kind = struct.unpack(">I4s", header)
                if kind == b"IDAT" or kind == b"IEND":
                    return None
                data = handle.read(length)
                handle.read(4)  # CRC
                if kind == b"tEXt":
                    key, _, value = data.partition(b"\0")
                    if key == b"Software":
                        return value.decode("latin-1")
    except OSError:
        return None
