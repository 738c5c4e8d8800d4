"""``cinediff eval``: generate for a prompt set, score against real clips, and write
``metrics.json``, plots and an HTML report.

Real clips: moving-shapes clips 0..N-1 of a split, seed :data:`PROMPT_SEED`, rendered at the
generated size (T, H, W). The built-in prompt sets are the captions of exactly these clips;
a prompt file is compared with train clips. Every Fréchet distance comes with its *floor*:
the distance from clips N..2N-1 of the same split (disjoint, same size) to the same
reference, i.e. what a model that draws real clips scores at this N.

Metrics of a set of clips (the generated ones; the real ones prefixed ``real_``): judge
accuracy ``accuracy_*``, in-domain classifier accuracy ``classifier_accuracy_*`` (first
object), ``temporal_consistency``, ``flicker``, ``clipsim``. Distances: ``frechet_classifier``,
``fvd`` and their ``*_floor``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from statistics import fmean

import torch

from cinediff.data import parse_caption
from cinediff.evaluation.classifier import (
    VideoClassifier,
    accuracy,
    classifier_features,
    load_classifier,
)
from cinediff.evaluation.clipsim import CLIP, clipsim, load_clip
from cinediff.evaluation.frechet import frechet_distance_of_features
from cinediff.evaluation.fvd import FRAMES, I3D, MIN_SAMPLES, i3d_features, load_i3d
from cinediff.evaluation.judge import ATTRIBUTES, judge_video, verdict_accuracy
from cinediff.evaluation.temporal import flicker, temporal_consistency

PROMPT_SEED = 1234  # seed of the built-in prompt sets and of the real clips they caption
REAL = "real_"  # prefix of the metrics of the real clips
ACCURACY = {"judge": "accuracy_", "classifier": "classifier_accuracy_"}  # scorer -> metric prefix
ACCURACY_ROWS = (*ATTRIBUTES, "digit", "all")  # attributes that may have an accuracy


# ---------------------------------------------------------------- prompts and real clips


def builtin_prompts(num: int, split: str = "train", seed: int = PROMPT_SEED) -> list[str]:
    """Captions of moving-shapes clips 0..num-1 (``split="heldout"``: the held-out combinations)."""
    from cinediff.data.shapes import MovingShapes

    shapes = MovingShapes(split=split, seed=seed, length=max(num, 1))
    return [shapes.attributes(i)["caption"] for i in range(num)]


def reworded_prompts(num: int, seed: int = PROMPT_SEED) -> list[str]:
    """The clips of :func:`builtin_prompts` described in wording no training caption uses
    (:func:`~cinediff.data.captions.reworded_caption`: other colour and shape words, other sentences)."""
    from cinediff.data.captions import reworded_caption
    from cinediff.data.rng import item_rng
    from cinediff.data.shapes import MovingShapes

    shapes = MovingShapes(split="train", seed=seed, length=max(num, 1))
    return [reworded_caption(shapes.attributes(i)["objects"], item_rng(seed, i, "moving-shapes/reworded"))
            for i in range(num)]


def reworded_clauses(num: int, seed: int = PROMPT_SEED) -> list[tuple[str, str, str]]:
    """The object clauses of :func:`reworded_prompts` with what they describe: (clause, shape, motion)."""
    from cinediff.data.shapes import MovingShapes

    shapes = MovingShapes(split="train", seed=seed, length=max(num, 1))
    return [(clause, obj["shape"], obj["motion"]) for i, prompt in enumerate(reworded_prompts(num, seed))
            for obj, clause in zip(shapes.attributes(i)["objects"], prompt.split(" and "))]


def clause_accuracy(read: Callable[[list[str]], list[str]], items: list[tuple[str, str, str]]
                    ) -> tuple[float, float]:
    """(shape, motion) accuracy of (clause, shape, motion) ``items`` as ``read`` (clauses -> clauses as
    read, e.g. a model's :meth:`~cinediff.models.loading.LoadedModel.read_prompts`) reads them."""
    from cinediff.data.captions import parse_clause

    parsed = [parse_clause(clause) for clause in read([c for c, _, _ in items])]
    return (fmean(p.get("shape") == shape for p, (_, shape, _) in zip(parsed, items)),
            fmean(p.get("motion") == motion for p, (_, _, motion) in zip(parsed, items)))


def read_prompts(source: str, num: int) -> list[str]:
    """``builtin`` / ``builtin-heldout`` / ``builtin-reworded`` or a text file with one prompt per
    line (cycled to ``num``)."""
    if source in ("builtin", "builtin-train"):
        return builtin_prompts(num, "train")
    if source == "builtin-heldout":
        return builtin_prompts(num, "heldout")
    if source == "builtin-reworded":
        return reworded_prompts(num)
    lines = [line.strip() for line in Path(source).read_text().splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"prompt file {source} has no prompts")
    return [lines[i % len(lines)] for i in range(num)]


def reference_split(source: str) -> str:
    """The moving-shapes split of the real clips for a ``--prompts`` source (a file: train)."""
    return "heldout" if source == "builtin-heldout" else "train"


def real_clips(split: str, indices: range, size: tuple[int, int, int]) -> tuple[torch.Tensor, list[dict]]:
    """Moving-shapes clips (N, 3, T, H, W) in [-1, 1] at ``indices`` of ``split`` (seed
    :data:`PROMPT_SEED`), rendered at ``size`` (T, H, W), and their records."""
    from cinediff.data.shapes import MovingShapes

    frames, height, width = (int(s) for s in size)
    shapes = MovingShapes(split=split, seed=PROMPT_SEED, frames=frames, height=height, width=width,
                          length=max(indices.stop, 1))
    return shapes.render_batch(indices)


def prompt_records(prompts: list[str]) -> list[dict]:
    """The attributes each prompt names (:func:`parse_caption`), shaped like clip records."""
    return [{"objects": parse_caption(p).get("objects") or [{}]} for p in prompts]


# ---------------------------------------------------------------- scorers


@dataclass
class Scorers:
    """The optional networks of the report; ``notes`` say which are absent and why."""

    classifier: VideoClassifier | None = None
    i3d: I3D | None = None
    clip: CLIP | None = None
    notes: list[str] = field(default_factory=list)


def _classifier_or_note(choice: str | Path | VideoClassifier | None) -> tuple[VideoClassifier | None, str | None]:
    if isinstance(choice, VideoClassifier):
        return choice.eval(), None
    if choice is None or choice == "none":
        return None, "in-domain classifier skipped (--classifier none): no frechet_classifier, no classifier accuracies"
    if choice != "shipped":
        return load_classifier(choice), None  # a path the user gave: missing is an error
    try:
        return load_classifier(), None
    except FileNotFoundError as err:
        return None, f"{err}: frechet_classifier and classifier accuracies skipped"


def load_scorers(classifier: str | Path | VideoClassifier | None = "shipped", i3d: str | Path | None = None,
                 clip: str | Path | None = None, device: str = "cpu") -> Scorers:
    """``classifier``: "shipped" (skipped with a note when not installed), "none", a folder from
    :func:`save_classifier` or a model; ``i3d`` / ``clip``: local files (see :mod:`.fvd`, :mod:`.clipsim`)."""
    model, note = _classifier_or_note(classifier)
    scorers = Scorers(model, load_i3d(i3d, device=device) if i3d else None, load_clip(clip, device) if clip else None)
    scorers.notes += [note] if note else []
    scorers.notes += [] if i3d else ["FVD not computed (pass --i3d with a local I3D file)"]
    scorers.notes += [] if clip else ["CLIPSIM not computed (pass --clip with a local CLIP directory)"]
    return scorers


# ---------------------------------------------------------------- metrics


def score_videos(videos: torch.Tensor, captions: list[str], records: list[dict] | None = None,
                 scorers: Scorers | None = None) -> tuple[dict, list[dict]]:
    """Metrics of clips (B, C, T, H, W) in [-1, 1]: the judge's accuracy against ``captions``,
    mean temporal consistency and flicker, and with those scorers the classifier's accuracy
    on ``records`` (default: what the captions name) and mean CLIPSIM. Also per clip: the
    judge's verdict with its ``temporal_consistency`` and ``flicker``."""
    scorers = scorers or Scorers()
    consistency, flick = temporal_consistency(videos).tolist(), flicker(videos).tolist()
    scores = [judge_video(v, c) | {"temporal_consistency": tc, "flicker": f}
              for v, c, tc, f in zip(videos, captions, consistency, flick)]
    metrics = {ACCURACY["judge"] + k: None if math.isnan(v) else v for k, v in verdict_accuracy(scores).items()}
    metrics |= {"temporal_consistency": fmean(consistency), "flicker": fmean(flick)}
    if scorers.classifier is not None:
        found = accuracy(scorers.classifier, videos, records or prompt_records(captions))
        metrics |= {ACCURACY["classifier"] + k: v for k, v in found.items()}
    if scorers.clip is not None:
        metrics["clipsim"] = clipsim(videos, list(captions), scorers.clip).mean().item()
    return metrics, scores


def frechet_with_floor(extract, generated: torch.Tensor, real: torch.Tensor, floor: torch.Tensor, name: str) -> dict:
    """``name``: Fréchet distance between the features ``extract(clips)`` (N, D) of generated
    and real clips; ``name_floor``: the same from ``floor``, real clips disjoint from ``real``."""
    reference = extract(real)
    return {name: frechet_distance_of_features(extract(generated), reference),
            f"{name}_floor": frechet_distance_of_features(extract(floor), reference)}


def fvd_with_floor(i3d: I3D, generated: torch.Tensor, real: torch.Tensor, floor: torch.Tensor) -> tuple[dict, str]:
    """``fvd`` and ``fvd_floor`` at the clips' own length, with a note on what they compare with."""
    frames = generated.shape[2]
    try:
        out = frechet_with_floor(partial(i3d_features, detector=i3d, allow_other_lengths=True),
                                 generated, real, floor, "fvd")
    except RuntimeError as err:  # e.g. clips too short for the network's temporal pooling
        return {}, f"FVD skipped: {i3d.describe()} cannot take {frames}-frame clips ({str(err).splitlines()[0]})"
    caveats = [f"biased upwards below {MIN_SAMPLES} clips"] if len(real) < MIN_SAMPLES else []
    caveats += [f"published FVDs use {FRAMES} frames"] if frames != FRAMES else []
    return out, (f"FVD with {i3d.describe()} on {len(real)} clips per set, {frames} frames"
                 + "".join(f"; {c}" for c in caveats) + ("; compare it with fvd_floor" if caveats else ""))


def distance_metrics(scorers: Scorers, generated: torch.Tensor, real: torch.Tensor,
                     floor: torch.Tensor) -> tuple[dict, list[str]]:
    """Fréchet distances with floors in the classifier's and the I3D's feature spaces, and notes."""
    if len(real) < 2:
        return {}, ["Fréchet distances need at least 2 clips per set"]
    out, notes = {}, []
    if scorers.classifier is not None:
        out |= frechet_with_floor(partial(classifier_features, scorers.classifier), generated, real, floor,
                                  "frechet_classifier")
    if scorers.i3d is not None:
        found, note = fvd_with_floor(scorers.i3d, generated, real, floor)
        out, notes = out | found, notes + [note]
    return out, notes


def accuracy_grid(metrics: dict) -> tuple[list[str], dict[str, list[float | None]]]:
    """Per-attribute accuracies: column names ("judge, generated", ...) and a row of values
    per attribute; columns and rows without any value are left out."""
    prefixes = {f"{scorer}, {name}": set_prefix + prefix for scorer, prefix in ACCURACY.items()
                for name, set_prefix in (("generated", ""), ("real", REAL))}
    grid = {row: [metrics.get(p + row) for p in prefixes.values()] for row in ACCURACY_ROWS}
    keep = [i for i in range(len(prefixes)) if any(values[i] is not None for values in grid.values())]
    rows = {row: [values[i] for i in keep] for row, values in grid.items() if any(values[i] is not None for i in keep)}
    return [list(prefixes)[i] for i in keep], rows


# ---------------------------------------------------------------- report


def write_report(out_dir: Path, metrics: dict, info: dict, per_video: dict, prompts: list[str], scores: list[dict],
                 videos: torch.Tensor, fps: float) -> Path:
    """``metrics.json``, one GIF per sample, the plots and ``index.html``; ``per_video``:
    ``{"generated" | "real": {"temporal_consistency" | "flicker": [values]}}``."""
    from cinediff.evaluation.page import write_page
    from cinediff.evaluation.plots import accuracy_chart, temporal_histogram
    from cinediff.io import write_gif

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps({"metrics": metrics, "info": info, "per_video": per_video},
                                                     indent=1))
    for i, video in enumerate(videos):
        write_gif(out_dir / f"sample_{i:03d}.gif", video, fps=fps)
    plots = [accuracy_chart(*accuracy_grid(metrics), out_dir / "accuracy.png"),
             temporal_histogram(per_video, out_dir / "temporal.png")]
    return write_page(out_dir / "index.html", metrics, info, [p.name for p in plots], prompts, scores)


def generate_for_prompts(loaded, prompts: list[str], seed: int, config, batch_size: int, device: str) -> torch.Tensor:
    """Videos (N, C, T, H, W) in [-1, 1], float32 on the CPU, one per prompt (seeds seed, seed+1, ...)."""
    from cinediff.models.generate import generate

    return torch.cat([generate(loaded, part, seeds, config, device, disable_progress=None).float().cpu()
                      for part, seeds in batches_of(prompts, seed, batch_size)])


def batches_of(prompts: list[str], seed: int, batch_size: int) -> list[tuple[list[str], list[int]]]:
    """``prompts`` in chunks of ``batch_size`` with their seeds (prompt i gets seed + i)."""
    return [(prompts[start:start + batch_size], list(range(seed + start, seed + min(start + batch_size, len(prompts)))))
            for start in range(0, len(prompts), batch_size)]


def generate_from(model: str | Path | None, prompts: list[str], seed: int, generation: dict, batch_size: int,
                  device: str) -> tuple[torch.Tensor, float, dict]:
    """Videos (N, C, T, H, W) in [-1, 1] on the CPU from an exported model (or a shipped name) or a
    multi-stage pipeline folder (``generation`` overrides every stage); their fps; what was used."""
    from cinediff.models.loading import load_model
    from cinediff.pipelines import is_pipeline, load_pipeline

    if is_pipeline(model):
        pipeline = load_pipeline(model, device)
        videos = torch.cat([pipeline(part, seeds, device, **generation).video.float().cpu()
                            for part, seeds in batches_of(prompts, seed, batch_size)])
        return videos, pipeline.fps, {"model_step": None, "generation": {"pipeline": pipeline.method, **generation}}
    loaded = load_model(model, device)
    config = loaded.generation_config(generation)
    read, literal = loaded.read_for_generation(prompts, config)
    videos = generate_for_prompts(loaded, read, seed, literal, batch_size, device)
    return videos, loaded.fps, {"model_step": loaded.config.get("step"), "generation": dataclasses.asdict(config),
                                "read_as": read}


def evaluate(model: str | None, prompts: list[str], out_dir: Path, seed: int = 0, batch_size: int = 8,
             generation: dict | None = None, device: str = "cpu", real_split: str = "train",
             classifier: str | Path | VideoClassifier | None = "shipped", i3d: str | Path | None = None,
             clip: str | Path | None = None) -> dict:
    """Generate one video per prompt (seeds seed, seed+1, ...) with an exported model or a pipeline
    folder, score them and moving-shapes clips of ``real_split`` (see the module doc), write the
    report; returns the metrics."""
    # Phase 1: networks first, so that a wrong path fails before any generation
    scorers = load_scorers(classifier, i3d, clip, device)
    videos, fps, used = generate_from(model, prompts, seed, generation or {}, batch_size, device)
    # Phase 2: real clips: the reference 0..N-1 (the built-in prompts' own clips), the floor N..2N-1
    n = len(prompts)
    real, records = real_clips(real_split, range(n), videos.shape[2:])
    floor, _ = real_clips(real_split, range(n, 2 * n), videos.shape[2:])
    # Phase 3: scores of both sets, distances between them
    metrics, scores = score_videos(videos, prompts, scorers=scorers)
    real_metrics, real_scores = score_videos(real, [r["caption"] for r in records], records, scorers)
    distances, notes = distance_metrics(scorers, videos, real, floor)
    metrics |= {REAL + k: v for k, v in real_metrics.items()} | distances | {"num_videos": n}
    # Phase 4: the report
    info = {"model": str(model or "default"), **used, "seed": seed,
            "real_clips": {"dataset": "moving-shapes", "split": real_split, "seed": PROMPT_SEED,
                           "size": list(videos.shape[2:]), "reference": [0, n], "floor": [n, 2 * n],
                           "captions_are_prompts": [r["caption"] for r in records] == prompts},
            "notes": scorers.notes + notes}
    per_video = {name: {k: [s[k] for s in found] for k in ("temporal_consistency", "flicker")}
                 for name, found in (("generated", scores), ("real", real_scores))}
    write_report(Path(out_dir), metrics, info, per_video, prompts, scores, videos, fps)
    return metrics
