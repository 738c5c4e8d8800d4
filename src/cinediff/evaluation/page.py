"""The ``index.html`` of an eval report: the metrics in three tables with a line on each, the
plots and the sample grid. One self-contained file (inline style, no scripts, nothing
fetched); the PNGs and GIFs it shows lie beside it."""

from __future__ import annotations

import html
import json
from pathlib import Path

from cinediff.evaluation.report import REAL, accuracy_grid

ACCURACY_TEXT = (
    "judge: measured on the pixels (palette colour, centroid track and area trend, shape moments) for every "
    "object the caption names; count: the number of objects; all: no judged attribute wrong. classifier: the "
    "in-domain classifier's prediction for the first object named. real: the same scorer on the real clips "
    "against their own captions, i.e. the best that scorer can confirm.")
DISTANCES = {
    "frechet_classifier": "Fréchet distance between Gaussians fitted to the in-domain classifier's features of "
                          "the generated and of the real clips; lower is better.",
    "fvd": "Fréchet Video Distance: the same with the features of the I3D given; lower is better.",
}
FLOOR_TEXT = ("floor: the same distance from as many other real clips (disjoint indices) to the same real clips, "
              "what a perfect model would score with this many videos. Fréchet distances are biased upwards at "
              "small N: read the distance against its floor.")
PER_CLIP = {
    "temporal_consistency": "mean cosine similarity of the pixels of consecutive frames (1: static).",
    "flicker": "mean |frame t+1 - frame t| in [0, 1] pixel units (0: static); compare with the real clips.",
    "clipsim": "mean cosine similarity of CLIP embeddings of each frame and the caption (raw, x1).",
}
STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:auto;padding:0 12px}"
         "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #bbb;padding:4px 8px}"
         "td.num{text-align:right;font-family:monospace}.note{color:#a40}"
         "figure{display:inline-block;margin:6px;width:140px;vertical-align:top;font-size:small}"
         "figure img{image-rendering:pixelated}")


def _text(v) -> str:
    return html.escape(str(v))


def _last(end) -> object:
    """The last index of a half-open range ``[start, end)``."""
    return end - 1 if isinstance(end, int) else end


def _value(v) -> str:
    return "–" if v is None else f"{v:.4f}" if isinstance(v, float) else html.escape(str(v))


def table(header: list[str], rows: list[list], numeric: int = 0) -> str:
    """An HTML table; the ``numeric`` cells after the first of each row are numbers."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="num">{_value(c)}</td>' if 0 < j <= numeric else f"<td>{_value(c)}</td>"
                                    for j, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def metric_tables(metrics: dict) -> str:
    """Alignment accuracies, distances with floors, per-clip quality of generated vs real clips."""
    columns, rows = accuracy_grid(metrics)
    accuracy = table(["attribute", *columns], [[name, *values] for name, values in rows.items()], len(columns))
    distances = [[k, metrics[k], metrics.get(f"{k}_floor"), text] for k, text in DISTANCES.items() if k in metrics]
    per_clip = [[k, metrics[k], metrics.get(REAL + k), text] for k, text in PER_CLIP.items() if k in metrics]
    distances = table(["metric", "generated ↔ real", "floor: real ↔ real", "meaning"], distances, 2)
    per_clip = table(["metric", "generated", "real", "meaning"], per_clip, 2)
    return (f"<h2>Alignment: per-attribute accuracy</h2>{accuracy}<p>{html.escape(ACCURACY_TEXT)}</p>"
            f"<h2>Distances to real clips</h2>{distances}<p>{html.escape(FLOOR_TEXT)}</p>"
            f"<h2>Per-clip quality</h2>{per_clip}")


def sample_grid(prompts: list[str], scores: list[dict]) -> str:
    """One figure per ``sample_NNN.gif`` with its prompt and the judge's marks."""
    cells = []
    for i, (prompt, score) in enumerate(zip(prompts, scores)):
        marks = " ".join(f"{a}:{'✓' if score[a]['correct'] else '✗'}" for a in ("color", "shape", "motion")
                         if score[a]["correct"] is not None)
        cells.append(f'<figure><img src="sample_{i:03d}.gif" width="128"><figcaption>{html.escape(prompt)}'
                     f"<br><small>{marks}</small></figcaption></figure>")
    return "".join(cells)


def write_page(path: Path, metrics: dict, info: dict, plots: list[str], prompts: list[str], scores: list[dict]) -> Path:
    """Write ``index.html``: header, notes, metric tables, ``plots`` (file names), samples, settings."""
    notes = "".join(f'<li class="note">{html.escape(n)}</li>' for n in info.get("notes", []))
    images = "".join(f'<p><img src="{html.escape(p)}" alt="{html.escape(p)}"></p>' for p in plots)
    real = info["real_clips"]
    (a, b), (c, d) = real["reference"], real["floor"]
    e = _text  # every value below may come from a file (a downloaded model's config.json): escape all
    page = (f"<!doctype html><meta charset=utf-8><title>cinediff eval</title><style>{STYLE}</style>"
            f"<h1>cinediff eval</h1><p>Model {e(info['model'])} (step {e(info['model_step'])}), "
            f"{e(metrics['num_videos'])} generated videos. Real clips: {e(real['dataset'])} {e(real['split'])} split, "
            f"seed {e(real['seed'])}, clips {e(a)}..{e(_last(b))} (floor: clips {e(c)}..{e(_last(d))}), rendered at "
            f"{e(real['size'])} (T, H, W).</p><ul>{notes}</ul>"
            f"{metric_tables(metrics)}<h2>Plots</h2>{images}<h2>Samples</h2>{sample_grid(prompts, scores)}"
            f"<h2>Settings</h2><pre>{e(json.dumps(info, indent=1))}</pre>")
    path.write_text(page)
    return path
