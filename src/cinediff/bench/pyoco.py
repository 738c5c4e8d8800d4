"""The PYoCo study: one image model fine-tuned on video with each noise prior at an equal budget.

PYoCo's claim (METHODS.md §1): fine-tuning an image diffusion model on video works better with
noise correlated across frames than with i.i.d. noise. The suite runs that experiment end to end
with the project's own recipes, so the arms differ in the noise prior alone:

1. the **image model**: ``image_recipe`` (default ``latent-shift-image``: a latent U-Net trained on
   single frames), trained once;
2. one **fine-tune per prior** from its EMA weights: ``video_recipe`` (default ``pyoco-mixed``: the
   same U-Net plus zero-initialised temporal attention) with ``model.noise_prior`` / ``noise_alpha``
   set per arm; the same steps, batch, seed — hence the same clips in the same order and the same
   per-sample random streams — for every arm;
3. every model **evaluated** like ``cinediff eval`` (a report per arm): the same ``num`` built-in
   prompts and seeds, each model sampled with its own training prior; the image model is also
   sampled, without fine-tuning, with each prior ("zero-shot" rows: correlated noise alone).

Runs live in ``out_dir/<arm>`` and resume: running the suite again finishes interrupted runs and
re-evaluates; a folder trained with another config is an error, not silently reused.
Rows: ``arm``, ``prior``, ``alpha``, training budget and speed, the in-domain Fréchet distance
with its floor, judge accuracies (color / shape / motion / all) with their binomial standard
errors, temporal consistency and flicker (real clips: ``real_*``). Ratios: each correlated
prior's fine-tune against the i.i.d. fine-tune.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import fmean

from cinediff.bench.runs import arm_config, check_resumable
from cinediff.noise import DEFAULT_ALPHA

METRICS = ("frechet_classifier", "frechet_classifier_floor", "accuracy_color", "accuracy_shape", "accuracy_motion",
           "accuracy_all", "temporal_consistency", "flicker", "real_temporal_consistency", "real_flicker")
ACCURACIES = ("accuracy_color", "accuracy_shape", "accuracy_motion", "accuracy_all")
# --quick: a U-Net small enough to train and sample in seconds, on short low-resolution clips.
QUICK_OVERRIDES = ["model.backbone_args.block_channels=[16, 32]", "model.backbone_args.attention_levels=[false, true]",
                   "model.backbone_args.heads=2", "model.backbone_args.norm_groups=8", "data.args.frames=4",
                   "data.args.height=32", "data.args.width=32", "data.batch_size=2", "optim.warmup_steps=1",
                   "train.checkpoint_every=1000"]


def train_arm(config) -> dict:
    """Train (or finish) one run; its budget and mean throughput from ``metrics.jsonl``."""
    from cinediff.training.trainer import train

    check_resumable(config)
    run_dir = train(config)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    speed = fmean(r["samples_per_s"] for r in records) if records else float("nan")
    samples = config.train.steps * config.data.batch_size
    return {"run": str(run_dir), "train_steps": config.train.steps, "batch_size": config.data.batch_size,
            "train_samples_per_s": speed, "train_minutes": samples / speed / 60,
            "final_loss": fmean(r["loss"] for r in records[-10:]) if records else float("nan")}


def score_model(export: Path, name: str, out_dir: Path, prompts: list[str], generation: dict, device: str) -> dict:
    """Score an exported model like ``cinediff eval`` (report in ``out_dir/reports/<name>``)."""
    from cinediff.evaluation.report import evaluate

    metrics = evaluate(str(export), prompts, out_dir / "reports" / name, seed=0, generation=generation, device=device)
    row = {key: metrics.get(key) for key in METRICS}
    n = metrics["num_videos"]
    row |= {f"{key}_stderr": math.sqrt(row[key] * (1 - row[key]) / n) for key in ACCURACIES if row[key] is not None}
    return row


def run(quick: bool = False, image_recipe: str = "latent-shift-image", video_recipe: str = "pyoco-mixed",
        priors: tuple[str, ...] = ("iid", "mixed", "progressive"), alphas: dict | None = None,
        image_steps: int | None = None, steps: int = 2000, num: int = 256, sample_steps: int = 24,
        zero_shot: bool = True, out_dir: str = "runs/bench-pyoco", device: str | None = None) -> dict:
    """``image_steps``: the image recipe's own when None; ``steps``: every fine-tune's;
    ``alphas``: per-prior α (default :data:`cinediff.noise.DEFAULT_ALPHA`); ``num``: prompts scored
    (256: with 64 the Fréchet floor of the 128-dimensional features is 4× higher)."""
    from cinediff.evaluation.report import builtin_prompts
    from cinediff.runtime import default_device

    device = device or str(default_device())
    out = Path(out_dir)
    quick_overrides = QUICK_OVERRIDES if quick else []
    if quick:
        image_steps, steps, num, sample_steps = 2, 2, 2, 2
    alphas = {**DEFAULT_ALPHA, **(alphas or {})}
    prompts = builtin_prompts(num)

    image = arm_config(image_recipe, out / "image", quick_overrides + ([f"train.steps={image_steps}"] if image_steps else []))
    image_info = train_arm(image)
    arms = {}
    for prior in priors:
        overrides = [f"model.noise_prior={json.dumps(prior)}", f"model.noise_alpha={alphas[prior]}",
                     f"model.init_from={json.dumps(image_info['run'])}", f"train.steps={steps}"]
        arms[prior] = train_arm(arm_config(video_recipe, out / prior, quick_overrides + overrides))

    from cinediff.training.export import export_model

    rows = []
    image_export = export_model(image_info["run"], out / "exports" / "image")
    for prior in priors if zero_shot else ():
        generation = {"steps": sample_steps, "noise_prior": prior, "noise_alpha": alphas[prior]}
        scores = score_model(image_export, f"image-{prior}", out, prompts, generation, device)
        rows.append({"arm": f"image model, {prior} noise (no fine-tune)", "prior": prior, "alpha": alphas[prior],
                     **{k: v for k, v in image_info.items() if k != "run"}, "finetune_steps": 0, **scores})
    for prior, info in arms.items():
        export = export_model(info["run"], out / "exports" / prior)
        scores = score_model(export, prior, out, prompts, {"steps": sample_steps}, device)  # its own prior
        rows.append({"arm": f"fine-tuned, {prior} noise", "prior": prior, "alpha": alphas[prior],
                     **{k: v for k, v in info.items() if k != "run"}, "finetune_steps": info["train_steps"], **scores})
    return {"rows": rows, "ratios": ratios(rows),
            "input": {"image_recipe": image_recipe, "video_recipe": video_recipe, "num_prompts": num,
                      "sample_steps": sample_steps, "image_run": image_info["run"],
                      "runs": {p: info["run"] for p, info in arms.items()}, "quick_overrides": quick_overrides},
            "notes": ["accuracies are judge accuracies on the same built-in prompts and seeds for every arm; "
                      "*_stderr is the binomial standard error sqrt(p(1-p)/num)",
                      "frechet_classifier_floor: two disjoint sets of real clips of this size (what real clips score)"]}


def ratios(rows: list[dict]) -> dict:
    """Each correlated prior against i.i.d. noise, among the fine-tunes and among the zero-shot
    samples of the image model (``zero_shot_`` keys): Fréchet ratio (< 1: closer to real clips)
    and differences of accuracy and temporal consistency (> 0: better)."""
    out = {}
    for tuned, prefix in ((True, ""), (False, "zero_shot_")):
        arms = {r["prior"]: r for r in rows if (r["finetune_steps"] > 0) == tuned}
        iid = arms.get("iid")
        for prior, row in arms.items() if iid is not None else ():
            if prior == "iid":
                continue
            if row["frechet_classifier"] is not None and iid["frechet_classifier"]:
                out[f"{prefix}{prior}_vs_iid_frechet"] = row["frechet_classifier"] / iid["frechet_classifier"]
            for key in (*ACCURACIES, "temporal_consistency"):
                if row[key] is not None and iid[key] is not None:
                    out[f"{prefix}{prior}_minus_iid_{key}"] = row[key] - iid[key]
    return out
