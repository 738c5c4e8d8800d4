"""PNG plots of an eval report, drawn with matplotlib's non-interactive Agg canvas (no
display, no global pyplot state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

HISTOGRAM_BINS = 20


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    FigureCanvasAgg(fig).print_png(str(path))
    return path


def accuracy_chart(columns: list[str], rows: dict[str, list[float | None]], path: Path) -> Path:
    """Grouped bars: one group per attribute (``rows``), one bar per column ("judge,
    generated", ...); accuracies in [0, 1], missing ones not drawn."""
    fig = Figure(figsize=(7, 3.2), dpi=100)
    ax = fig.add_subplot()
    x, width = np.arange(len(rows)), 0.8 / max(len(columns), 1)
    for i, name in enumerate(columns):
        values = [np.nan if row[i] is None else row[i] for row in rows.values()]
        ax.bar(x + (i - (len(columns) - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(x, list(rows))
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.set_title("Per-attribute accuracy")
    if columns:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1, 1))
    return _save(fig, path)


def temporal_histogram(per_video: dict[str, dict[str, list[float]]], path: Path) -> Path:
    """One panel per per-video metric (temporal consistency, flicker), one histogram per set
    of clips (``{"generated" | "real": {metric: [values]}}``) on shared bins."""
    metrics = list(next(iter(per_video.values())))
    fig = Figure(figsize=(3.5 * len(metrics), 3), dpi=100)
    for j, metric in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), j + 1)
        bins = np.histogram_bin_edges(np.concatenate([v[metric] for v in per_video.values()]), HISTOGRAM_BINS)
        for name, values in per_video.items():
            ax.hist(values[metric], bins=bins, alpha=0.6, label=name)
        ax.set_xlabel(metric.replace("_", " "))
        ax.set_ylabel("videos")
        ax.legend(fontsize="small")
    return _save(fig, path)


def line_chart(runs: dict[str, list[dict]], keys: tuple[str, ...], path: Path, x: str = "minutes",
               title: str = "", marks: tuple[float, ...] = ()) -> Path:
    """Learning curves from records (dicts with ``x`` and ``keys``). One run: one panel, a line
    per key. Several runs: a panel per key, a line per run. Values are accuracies in [0, 1];
    ``marks``: x values drawn as dashed vertical lines (e.g. where a training stage begins)."""
    single = len(runs) == 1
    panels = [title or next(iter(runs))] if single else list(keys)
    fig = Figure(figsize=(4.5 if single else 3.2 * len(panels), 3.2), dpi=100)
    for j, panel in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), j + 1)
        lines = [(key, next(iter(runs.values())), key) for key in keys] if single else \
            [(name, records, panel) for name, records in runs.items()]
        for label, records, key in lines:
            points = sorted((r[x], r[key]) for r in records if r.get(key) is not None and r.get(x) is not None)
            if points:
                ax.plot(*zip(*points), marker=".", label=label.removeprefix("accuracy_"))
        for mark in marks:
            ax.axvline(mark, color="0.6", linestyle="--", linewidth=0.8)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel(x.replace("_", " "))
        ax.set_title(panel.removeprefix("accuracy_"), fontsize="medium")
        if j == 0:
            ax.set_ylabel("judge accuracy")
        if single or j == len(panels) - 1:
            ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1, 1))
    return _save(fig, path)
