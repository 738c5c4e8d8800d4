"""``cinediff eval``: generate for a prompt set, score, and write ``metrics.json`` + an HTML report."""

from __future__ import annotations

import html
import json
from pathlib import Path

import torch

from cinediff.evaluation.judge import judge_video
from cinediff.evaluation.temporal import flicker, temporal_consistency


def builtin_prompts(num: int, split: str = "train", seed: int = 1234) -> list[str]:
    """Captions of moving-shapes clips (``split="heldout"``: the held-out combinations)."""
    from cinediff.data.shapes import MovingShapes

    shapes = MovingShapes(split=split, seed=seed, length=max(num, 1))
    return [shapes.attributes(i)["caption"] for i in range(num)]


def read_prompts(source: str, num: int) -> list[str]:
    """``builtin`` / ``builtin-heldout`` or a text file with one prompt per line (cycled to ``num``)."""
    if source in ("builtin", "builtin-train"):
        return builtin_prompts(num, "train")
    if source == "builtin-heldout":
        return builtin_prompts(num, "heldout")
    lines = [line.strip() for line in Path(source).read_text().splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"prompt file {source} has no prompts")
    return [lines[i % len(lines)] for i in range(num)]


def score_videos(videos: torch.Tensor, prompts: list[str]) -> tuple[dict, list[dict]]:
    """Per-attribute accuracy of the judge, temporal consistency and flicker; and per-video verdicts."""
    verdicts = [judge_video(v, p) for v, p in zip(videos, prompts)]
    metrics = {}
    for name in ("color", "shape", "motion", "count"):
        judged = [v[name]["correct"] for v in verdicts if v[name]["correct"] is not None]
        metrics[f"accuracy_{name}"] = sum(judged) / len(judged) if judged else None
    metrics["accuracy_all"] = sum(all(v[a]["correct"] is not False for a in ("color", "shape", "motion", "count"))
                                  for v in verdicts) / len(verdicts)
    metrics["temporal_consistency"] = temporal_consistency(videos).mean().item()
    metrics["flicker"] = flicker(videos).mean().item()
    metrics["num_videos"] = len(prompts)
    return metrics, verdicts


def write_report(out_dir: Path, metrics: dict, prompts: list[str], verdicts: list[dict], videos: torch.Tensor,
                 fps: float, info: dict) -> Path:
    """``metrics.json``, one GIF per sample and ``index.html`` (table of metrics, per-sample verdicts)."""
    from cinediff.io import write_gif

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps({"metrics": metrics, "info": info}, indent=1))
    cells = []
    for i, (prompt, verdict, video) in enumerate(zip(prompts, verdicts, videos)):
        write_gif(out_dir / f"sample_{i:03d}.gif", video, fps=fps)
        marks = " ".join(f"{a}:{'✓' if verdict[a]['correct'] else '✗'}" for a in ("color", "shape", "motion")
                         if verdict[a]["correct"] is not None)
        cells.append(f'<figure><img src="sample_{i:03d}.gif" width="128"><figcaption>{html.escape(prompt)}'
                     f"<br><small>{marks}</small></figcaption></figure>")
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v if not isinstance(v, float) else f'{v:.4f}'}</td></tr>"
                   for k, v in metrics.items())
    page = (f"<!doctype html><meta charset=utf-8><title>cinediff eval</title><style>body{{font-family:sans-serif}}"
            f"figure{{display:inline-block;margin:6px;width:140px;vertical-align:top}}img{{image-rendering:pixelated}}"
            f"</style><h1>cinediff eval</h1><pre>{html.escape(json.dumps(info, indent=1))}</pre>"
            f"<table border=1 cellpadding=4>{rows}</table><h2>Samples</h2>{''.join(cells)}")
    (out_dir / "index.html").write_text(page)
    return out_dir / "index.html"


def evaluate(model: str | None, prompts: list[str], out_dir: Path, seed: int = 0, batch_size: int = 8,
             generation: dict | None = None, device: str = "cpu") -> dict:
    """Generate one video per prompt (seeds seed, seed+1, ...), score them and write the report."""
    import dataclasses

    from cinediff.pipelines import GenerationConfig, generate_videos, load_model

    loaded = load_model(model, device)
    config = dataclasses.replace(GenerationConfig(**loaded.config.get("generation", {}), fps=loaded.fps), **(generation or {}))
    chunks = []
    for start in range(0, len(prompts), batch_size):
        part = prompts[start:start + batch_size]
        chunks.append(generate_videos(loaded.denoiser, loaded.text_encoder, part, loaded.shape,
                                      list(range(seed + start, seed + start + len(part))), config, device,
                                      autoencoder=loaded.autoencoder).float().cpu())
    videos = torch.cat(chunks)
    metrics, verdicts = score_videos(videos, prompts)
    info = {"model": model or "default", "model_step": loaded.config.get("step"), "seed": seed,
            "generation": dataclasses.asdict(config)}
    write_report(Path(out_dir), metrics, prompts, verdicts, videos, loaded.fps, info)
    return metrics
