"""The five methods compared on quality per compute: ``cinediff bench methods``.

Each method is trained from its packaged recipes, on the same data (moving-shapes), to the same
output: ``frames`` frames of ``size``×``size`` at 8 fps, judged on the same prompts and seeds.
Each stage gets a stated share of one budget of training minutes (``train.max_minutes``;
evaluation excluded). The learning rate is constant after warm-up, so cutting a run short
favours no schedule.

- **snap-video**: EDM + σ_in + FIT (one stage);
- **unet-video**: the same EDM recipe with a temporal-attention U-Net (the VDM / ModelScope-style
  baseline of Snap Video's comparison);
- **latent-shift**: a latent image U-Net (½ of the budget), then the parameter-free temporal
  shift fine-tuned on clips (½);
- **pyoco-iid / -mixed / -progressive**: the same image model (one shared run, ½), fine-tuned with
  temporal attention and that noise prior (½); pyoco-iid is the plain latent video U-Net;
- **cmd**: a content-frame U-Net (½) and a motion DiT (½) through the shipped CMD autoencoder;
- **show1**: pixel keyframes at half size (½; K = (frames − 1)/3 + 1), interpolation × 3 (¼),
  super-resolution × 2 (¼).

Training runs in ``rounds``: after round r every stage has had r/rounds of its share. The
method's model (or its pipeline folder) is then exported and judged on ``eval_num`` curve
prompts, so single models and pipelines get their learning curves the same way. A stage that
initialises another (the image models) trains its whole share first; its dependants' curves
start from there. After the last round come ``cinediff eval``'s report (``num`` built-in
prompts: judge, Fréchet distance with its floor, temporal consistency, flicker), sampling
seconds per video, peak memory and TFLOPs in a fresh process, and training TFLOPs per stage.

Runs live in ``out_dir/<run>`` and resume. Running the suite again with a larger budget continues
each run; a folder trained with another model or data config is refused (``bench.runs``).
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from cinediff.bench.runs import arm_config, check_resumable
from cinediff.noise import DEFAULT_ALPHA

FPS = 8.0  # the common output's frame rate
KEYFRAME_STRIDE = 3  # Show-1: frames between keyframes (16 = 5·3 + 1 frames from 6 keyframes)
CURVE_KEYS = ("accuracy_motion", "accuracy_all")
JUDGE_KEYS = ("accuracy_color", "accuracy_shape", "accuracy_motion", "accuracy_count", "accuracy_all")
SCORES = ("accuracy_color", "accuracy_shape", "accuracy_motion", "accuracy_count", "accuracy_all", "frechet_classifier",
          "frechet_classifier_floor", "temporal_consistency", "flicker", "real_temporal_consistency", "real_flicker")
STUDY = ['optim.schedule="constant"', "train.steps=1000000", "train.sample_every=0", "train.eval_every=0",
         "train.checkpoint_every=100"]
PAPER = {"fit_vs_unet_training_time": 3.31, "latent_vdm_vs_cmd_sampling_time": 7.7,
         "pixel_vs_show1_peak_memory": 4.8}

# --quick: every network tiny (seconds per stage); the recipes' structure is kept.
QUICK_FIT = ["model.backbone_args.dim=32", "model.backbone_args.latent_dim=32", "model.backbone_args.num_blocks=1",
             "model.backbone_args.num_latents=16"]
QUICK_UNET = ["model.backbone_args.block_channels=[16, 32, 32]", "model.backbone_args.norm_groups=8",
              "model.backbone_args.temporal_head_dim=16"]
QUICK_LATENT_UNET = ["model.backbone_args.block_channels=[16, 32]", "model.backbone_args.attention_levels=[false, true]",
                     "model.backbone_args.heads=2", "model.backbone_args.norm_groups=8"]
QUICK_DIT = ["model.backbone_args.dim=32", "model.backbone_args.depth=1"]
QUICK_ALL = ["data.batch_size=2", "optim.warmup_steps=1"]
# The baseline U-Net of the recipe study (a small VDM-style pixel U-Net, temporal attention).
UNET = ['model.backbone="unet"', 'model.backbone_args={in_channels=3, out_channels=3, block_channels=[32, 64, 128], '
        'attention_levels=[false, false, true], heads=4, temporal="attention", temporal_head_dim=32}']


@dataclass(frozen=True)
class Stage:
    """One training run of a method: ``run`` names its folder (methods that share a run share it)."""

    run: str
    recipe: str
    overrides: tuple[str, ...]
    share: float  # fraction of the method's budget
    init_from: str | None = None  # the run whose weights start this one (trained in full first)


@dataclass(frozen=True)
class Method:
    name: str
    about: str
    stages: tuple[Stage, ...]
    pipeline: str | None = None  # "show1" / "cmd": the stages run as that pipeline; None: the last stage's model
    pipeline_stages: tuple[tuple[str, str], ...] = ()  # (pipeline stage name, run)

    def runs(self) -> list[str]:
        return [s.run for s in self.stages]


def clip(frames: int, size: int, fps: float = FPS) -> list[str]:
    """Data overrides for moving-shapes clips of ``frames`` × ``size`` × ``size`` at ``fps``."""
    return ['data.dataset="moving-shapes"', f"data.args.frames={frames}", f"data.args.height={size}",
            f"data.args.width={size}", f"data.args.fps={fps}"]


def edm_size(size: int) -> list[str]:
    """σ_in and FIT's positions are set for the clip's resolution."""
    return [f"model.formulation_args.base_resolution=[{size}, {size}]"]


def keyframes(frames: int) -> int:
    if (frames - 1) % KEYFRAME_STRIDE:
        raise ValueError(f"bench methods: frames must be 3k + 1 (Show-1 interpolates every {KEYFRAME_STRIDE}rd frame "
                         f"from keyframes), got {frames}")
    return (frames - 1) // KEYFRAME_STRIDE + 1


def methods(frames: int = 16, size: int = 32, quick: bool = False) -> dict[str, Method]:
    """Every method at the common output (see the module doc)."""
    q = lambda *lists: [o for part in lists for o in part] + QUICK_ALL if quick else []  # noqa: E731
    t, s, half = frames, size, size // 2
    image = Stage("image", "latent-shift-image", (*clip(t, s), *q(QUICK_LATENT_UNET)), 0.5)
    found = {
        "snap-video": Method("snap-video", "EDM + σ_in + the FIT transformer in pixels", (
            Stage("snap-video", "snap-video", (*clip(t, s), *edm_size(s), f"model.backbone_args.base_frames={t}",
                                               f"model.backbone_args.base_size=[{s}, {s}]", *q(QUICK_FIT)), 1.0),)),
        "unet-video": Method("unet-video", "the same EDM recipe with a temporal-attention U-Net in pixels", (
            Stage("unet-video", "snap-video", (*UNET, *clip(t, s), *edm_size(s), *q(QUICK_UNET)), 1.0),)),
        "latent-shift": Method("latent-shift", "latent image U-Net, then the parameter-free temporal shift", (
            image, Stage("latent-shift", "latent-shift-video", (*clip(t, s), *q(QUICK_LATENT_UNET)), 0.5, "image"))),
    }
    for prior in ("iid", "mixed", "progressive"):
        found[f"pyoco-{prior}"] = Method(
            f"pyoco-{prior}", f"the same image model + temporal attention, fine-tuned with {prior} noise", (
                image, Stage(f"pyoco-{prior}", "pyoco-mixed", (*clip(t, s), f'model.noise_prior="{prior}"',
                                                               f"model.noise_alpha={DEFAULT_ALPHA[prior]}",
                                                               *q(QUICK_LATENT_UNET)), 0.5, "image")))
    found["cmd"] = Method("cmd", "content-frame U-Net + motion DiT, shipped CMD autoencoder", (
        Stage("cmd-content", "cmd-content", (*clip(t, s), *q(QUICK_UNET)), 0.5),
        Stage("cmd-motion", "cmd-motion", (*clip(t, s), *q(QUICK_DIT)), 0.5)),
        "cmd", (("content", "cmd-content"), ("motion", "cmd-motion")))
    k = keyframes(t)
    found["show1"] = Method("show1", "pixel keyframes → interpolation ×3 → super-resolution ×2", (
        Stage("show1-keyframes", "show1-keyframes", (*clip(k, half, FPS / KEYFRAME_STRIDE), *q(QUICK_UNET)), 0.5),
        Stage("show1-interpolation", "show1-interpolation",
              (*clip(t, half), f"model.target_args={{stride={KEYFRAME_STRIDE}}}", *q(QUICK_UNET)), 0.25),
        Stage("show1-superres", "show1-superres",
              (*clip(min(8, t), s), "model.target_args={factor=2}", *q(QUICK_UNET)), 0.25)),
        "show1", (("keyframes", "show1-keyframes"), ("interpolation", "show1-interpolation"),
                  ("superres", "show1-superres")))
    return found


# ---------------------------------------------------------------- training


def stage_config(stage: Stage, out: Path, minutes: float, steps: int | None):
    """The run config of ``stage`` trained to ``minutes`` of training time (or exactly ``steps``)."""
    budget = [f"train.steps={steps}", "train.max_minutes=0"] if steps else [f"train.max_minutes={minutes}"]
    init = [f"model.init_from={json.dumps(str(out / stage.init_from))}"] if stage.init_from else []
    return arm_config(stage.recipe, out / stage.run, [*stage.overrides, *STUDY, *budget, *init])


def train_stage(stage: Stage, out: Path, minutes: float, steps: int | None) -> Path:
    from cinediff.training.trainer import train

    config = stage_config(stage, out, minutes, steps)
    check_resumable(config)
    return train(config)


def run_state(run_dir: Path) -> dict:
    """Step and training seconds of a run's latest checkpoint (zeros before the first)."""
    from cinediff.training.checkpoint import latest_checkpoint

    latest = latest_checkpoint(run_dir / "checkpoints")
    if latest is None:
        return {"step": 0, "train_seconds": 0.0}
    state = json.loads((latest / "state.json").read_text())
    return {"step": state["step"], "train_seconds": state["counters"]["train_seconds"]}


def method_minutes(method: Method, out: Path) -> float:
    return sum(run_state(out / run)["train_seconds"] for run in dict.fromkeys(method.runs())) / 60


def export_method(method: Method, out: Path) -> Path:
    """The method's model as ``cinediff.load`` reads it: an exported folder, or a pipeline folder of its stages."""
    from cinediff.pipelines import save_pipeline
    from cinediff.training.export import export_model

    folder = out / "exports" / method.name
    if folder.exists():
        shutil.rmtree(folder)
    if method.pipeline is None:
        return export_model(out / method.stages[-1].run, folder)
    stages = {name: export_model(out / run, folder / name) for name, run in method.pipeline_stages}
    return save_pipeline(folder, method.pipeline, stages)


def judge_point(folder: Path, prompts: list[str], sample_steps: int, device: str) -> tuple[dict, object]:
    """The judge's scores of one video per prompt (seeds 0..N-1) and the videos."""
    from cinediff.evaluation.curve import judge_scores
    from cinediff.evaluation.report import generate_from

    videos, _, _ = generate_from(folder, prompts, 0, {"steps": sample_steps}, 8, device)
    return judge_scores(videos, prompts), videos


def train_method(method: Method, out: Path, budget: float, rounds: int, steps: int | None, prompts: list[str],
                 sample_steps: int, device: str) -> tuple[list[dict], object, Path]:
    """Train ``method`` round by round (see the module doc); its learning curve, the last round's videos
    and export."""
    first = {s.init_from for s in method.stages if s.init_from}
    for stage in method.stages:  # what initialises another stage trains in full before it
        if stage.run in first:
            train_stage(stage, out, budget * stage.share, steps and steps * rounds)
    curve, videos, folder = [], None, None
    for r in range(1, rounds + 1):
        for stage in method.stages:
            if stage.run not in first:
                train_stage(stage, out, budget * stage.share * r / rounds, steps and steps * r)
        folder = export_method(method, out)
        scores, videos = judge_point(folder, prompts, sample_steps, device)
        curve.append({"round": r, "minutes": method_minutes(method, out), **scores})
        print(f"  {method.name} round {r}/{rounds}: " + ", ".join(f"{k} {v:.3g}" for k, v in curve[-1].items()
                                                                    if isinstance(v, float)), flush=True)
    return curve, videos, folder


# ---------------------------------------------------------------- cost


def training_step_tflops(config) -> float:
    """Model TFLOPs of one optimizer step of a run (forward + backward, torch's FlopCounterMode); a run
    that mixes image steps is weighted by ``data.image_batch_fraction``."""
    from cinediff.bench.timing import count_flops
    from cinediff.data.collate import collate
    from cinediff.training.data import PositionedDataset, position_generators
    from cinediff.training.tasks import build_task
    from cinediff.training.trainer import as_image_batch, build_dataset_from

    task = build_task(config.model)
    items = PositionedDataset(build_dataset_from(config), config.train.seed).__getitems__(range(config.data.batch_size))
    batch = collate(items)
    generators = position_generators(config.train.seed, batch["position"].tolist())
    fraction = config.data.image_batch_fraction

    def step(image: bool):
        loss, _ = task(as_image_batch(batch, generators) if image else batch, generators)
        loss.float().mean().backward()

    flops = {image: count_flops(lambda: step(image)) for image in {fraction > 0, fraction < 1}}
    return (fraction * flops.get(True, 0) + (1 - fraction) * flops.get(False, 0)) / 1e12


def stage_rows(method: Method, out: Path, budget: float, steps: int | None, flops: bool) -> list[dict]:
    rows = []
    for stage in method.stages:
        state, config = run_state(out / stage.run), stage_config(stage, out, budget * stage.share, steps)
        per_step = training_step_tflops(config) if flops else math.nan
        rows.append({"run": stage.run, "recipe": stage.recipe, "share": stage.share,
                     "budget_minutes": budget * stage.share, "minutes": state["train_seconds"] / 60,
                     "steps": state["step"], "clips": state["step"] * config.data.batch_size,
                     "train_tflops": per_step * state["step"], "shared_with_other_methods": stage.run == "image"})
    return rows


def measure_sampling(folder: str, device: str, steps: int, flops: bool) -> dict:
    """In a fresh process: one video of ``folder`` (seconds, peak memory over the weights, total peak, TFLOPs)."""
    import torch

    from cinediff.bench.timing import count_flops, measure_once
    from cinediff.pipelines.api import load
    from cinediff.runtime import prepare_cpu_math

    prepare_cpu_math(device)
    pipe = load(folder, device)
    generate = lambda: pipe("a red circle moving left", seed=0, num_inference_steps=steps, output_type="pt")  # noqa: E731
    with torch.no_grad():
        found = measure_once(generate, torch.device(device))
        found.pop("result")
        found["sample_tflops"] = count_flops(generate) / 1e12 if flops else math.nan
    return {"sample_seconds": found.pop("seconds"), **found}


# ---------------------------------------------------------------- equal-quality ratios


def minutes_to(curve: list[dict], key: str, level: float) -> float | None:
    """Training minutes at which ``curve`` first reaches ``level`` of ``key``, linearly interpolated
    between its points (from 0 accuracy at 0 minutes); None if it never does."""
    previous = (0.0, 0.0)
    for point in curve:
        x, y = point["minutes"], point.get(key) or 0.0
        if y >= level:
            (x0, y0) = previous
            return x0 + (x - x0) * (level - y0) / (y - y0) if y > y0 else x
        previous = (x, y)
    return None


def time_to_equal_quality(curves: dict[str, list[dict]], slow: str, fast: str, key: str) -> dict:
    """``slow``'s training minutes over ``fast``'s to reach the best level both reach."""
    if slow not in curves or fast not in curves:
        return {}
    best = {name: max((p.get(key) or 0.0 for p in curves[name]), default=0.0) for name in (slow, fast)}
    level = min(best.values())
    if level <= 0:
        return {"ratio": None, "level": 0.0, "note": f"{min(best, key=best.get)} never scores above 0 on {key}"}
    ratio = minutes_to(curves[slow], key, level) / minutes_to(curves[fast], key, level)
    note = ("both reach the same best level" if best[slow] == best[fast] else
            f"{min(best, key=best.get)} never reaches {max(best, key=best.get)}'s best {max(best.values()):.3f}; "
            f"ratio at the best common level")
    return {"ratio": ratio, "level": level, "note": note}


def cost_at_quality(rows: dict[str, dict], baseline: str, method: str, cost: str, key: str) -> dict:
    """``baseline``'s ``cost`` over ``method``'s, with both models' quality (equal only within two standard errors)."""
    if baseline not in rows or method not in rows:
        return {}
    (a, b), n = (rows[baseline], rows[method]), max(rows[method].get("num_videos") or 1, 1)
    qa, qb = a[key] or 0.0, b[key] or 0.0
    equal = abs(qa - qb) <= 2 * math.sqrt((qa * (1 - qa) + qb * (1 - qb)) / n)
    return {"ratio": a[cost] / b[cost] if b[cost] else None, f"{baseline}_{key}": qa, f"{method}_{key}": qb,
            "note": "equal quality within two standard errors" if equal else
                    f"quality differs ({baseline} {qa:.3f}, {method} {qb:.3f}): not an equal-quality ratio"}


def ratios(curves: dict, rows: dict[str, dict], key: str) -> dict:
    found = {"fit_vs_unet_training_time": time_to_equal_quality(curves, "unet-video", "snap-video", key),
             "latent_vdm_vs_cmd_sampling_time": cost_at_quality(rows, "pyoco-iid", "cmd", "sample_seconds", key),
             "pixel_vs_show1_peak_memory": cost_at_quality(rows, "unet-video", "show1", "peak_memory_mb", key)}
    found = {name: {**value, "paper": PAPER[name]} for name, value in found.items() if value}
    iid = rows.get("pyoco-iid")
    for prior in ("mixed", "progressive"):
        row = rows.get(f"pyoco-{prior}")
        if row is None or iid is None:
            continue
        found[f"pyoco_{prior}_vs_iid"] = {f"{k}_difference": (row[k] or 0) - (iid[k] or 0) for k in CURVE_KEYS} | {
            "frechet_ratio": (row["frechet_classifier"] / iid["frechet_classifier"]
                              if row["frechet_classifier"] is not None and iid["frechet_classifier"] else None),
            "paper": "better than i.i.d. at equal fine-tuning budget"}
    return found


def measured_ratio(found: dict) -> float | None:
    """The figure of one entry of :func:`ratios`: its ``ratio``, or a PYoCo entry's Fréchet ratio."""
    return found.get("ratio", found.get("frechet_ratio"))


def ratios_at(curves: dict, rows: dict[str, dict], keys: tuple[str, ...] = JUDGE_KEYS) -> dict[str, dict]:
    """The equal-quality ratios read at each judge accuracy: at a small budget only some of them
    (colour first) have been learnt by both models of a pair."""
    return {key: ratios(curves, rows, key) for key in keys}


# ---------------------------------------------------------------- the suite


def run(quick: bool = False, budget: float = 40.0, size: int = 32, frames: int = 16, rounds: int = 4,
        eval_num: int = 24, num: int = 64, sample_steps: int = 24, quality: str = "accuracy_all",
        names: tuple[str, ...] | None = None, steps: int | None = None, flops: bool = True,
        out_dir: str = "runs/bench-methods", page: str | None = None, device: str | None = None) -> dict:
    """``budget``: training minutes per method; ``names``: the methods (default all); ``steps``:
    train every stage exactly ``steps`` optimizer steps per round instead of by time (tests);
    ``quality``: the judge accuracy the equal-quality ratios are read at; ``page``: the HTML page
    (default ``out_dir/index.html``), its images in ``<page stem>-files/`` beside it."""
    from cinediff.bench.timing import in_fresh_process
    from cinediff.evaluation.curve import curve_prompts
    from cinediff.evaluation.report import builtin_prompts, evaluate
    from cinediff.runtime import default_device

    if size not in (16, 32, 64) or (size == 16 and not quick):
        raise ValueError(f"bench methods: size must be 32 or 64, got {size}")
    if rounds < 1 or (budget <= 0 and not steps and not quick):
        raise ValueError(f"bench methods: rounds must be ≥ 1 and budget > 0 minutes, got {rounds} and {budget}")
    if quick:
        budget, size, frames, rounds, eval_num, num, sample_steps, steps = 0.0, 16, 4, 2, 2, 2, 2, steps or 1
    device = device or str(default_device())
    every = methods(frames, size, quick)
    chosen = list(names or every)
    unknown = [n for n in chosen if n not in every]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {list(every)}")
    out, prompts = Path(out_dir), curve_prompts(eval_num)
    curves, rows, stages, gifs = {}, {}, {}, {}
    for name in chosen:
        method = every[name]
        curves[name], videos, folder = train_method(method, out, budget, rounds, steps, prompts, sample_steps, device)
        gifs[name] = videos[:8]
        metrics = evaluate(str(folder), builtin_prompts(num), out / "reports" / name, generation={"steps": sample_steps},
                           device=device)
        stages[name] = stage_rows(method, out, budget, steps, flops)
        cost = in_fresh_process(measure_sampling, str(folder), device, sample_steps, flops)
        rows[name] = {"method": name, "about": method.about,
                      "train_minutes": sum(s["minutes"] for s in stages[name]),
                      "train_tflops": sum(s["train_tflops"] for s in stages[name]),
                      "stage_minutes": " + ".join(f"{s['run']} {s['minutes']:.1f}" for s in stages[name]),
                      **cost, **{k: metrics.get(k) for k in SCORES}, "num_videos": metrics["num_videos"]}
    found, every_key = ratios(curves, rows, quality), ratios_at(curves, rows)
    page_path = write_page(Path(page) if page else out / "index.html", list(rows.values()), curves, found, gifs,
                           prompts[:8], every_key)
    return {"rows": list(rows.values()), "ratios": found, "ratios_at": every_key, "curves": curves, "stages": stages,
            "input": {"budget_minutes": budget, "size": size, "frames": frames, "fps": FPS, "rounds": rounds,
                      "eval_num": eval_num, "num": num, "sample_steps": sample_steps, "quality": quality,
                      "steps": steps, "out_dir": str(out), "page": str(page_path), "device": device},
            "notes": ["train_minutes: training time (evaluation excluded) on this machine, summed over the method's "
                      "stages; the image model (run 'image') is one run shared by latent-shift and the PyoCo arms, "
                      "counted in full in each of their rows",
                      "accuracies, Fréchet and temporal figures: cinediff eval on the same built-in prompts and seeds; "
                      "curves: the judge on curve_prompts(eval_num) after each round",
                      f"every stage samples with {sample_steps} steps; sampling cost: one video in a fresh process",
                      "latent VDM = pyoco-iid (latent U-Net + temporal attention); pixel model = unet-video"]}


def write_page(path: Path, rows: list[dict], curves: dict, found: dict, gifs: dict, prompts: list[str],
               every_key: dict[str, dict] | None = None) -> Path:
    """The table, the curves and one GIF per method (the same prompts and seeds) as one HTML page."""
    import html

    from cinediff.evaluation.page import STYLE, table
    from cinediff.evaluation.plots import line_chart
    from cinediff.io import make_grid, write_gif

    files = path.parent / f"{path.stem}-files"
    files.mkdir(parents=True, exist_ok=True)
    plot = line_chart(curves, CURVE_KEYS, files / "curves.png", title="judge accuracy vs training minutes")
    figures = []
    for name, videos in gifs.items():
        write_gif(files / f"{name}.gif", make_grid(videos.float(), nrow=4), fps=FPS)
        figures.append(f'<figure style="width:auto"><img src="{files.name}/{name}.gif" width="{videos.shape[-1] * 8}">'
                       f"<figcaption>{html.escape(name)}</figcaption></figure>")
    columns = ["method", "train_minutes", "train_tflops", "sample_seconds", "peak_memory_mb", *SCORES[:7],
               "temporal_consistency", "flicker"]
    body = table(columns, [[r.get(c) for c in columns] for r in rows], len(columns) - 1)
    ratio_rows = [[name, measured_ratio(v), v.get("paper"), v.get("note", "")] for name, v in found.items()]
    keys = list(every_key or {})
    by_key = [[name, *[measured_ratio(every_key[k].get(name, {})) for k in keys]] for name in found]
    by_key_table = (f"<p>The same ratios read at each judge accuracy:</p>"
                    f"{table(['ratio', *[k.removeprefix('accuracy_') for k in keys]], by_key, len(keys))}" if keys else "")
    listing = "".join(f"<li>{html.escape(p)}</li>" for p in prompts)
    path.write_text(f"<!doctype html><meta charset=utf-8><title>cinediff bench methods</title><style>{STYLE}</style>"
                    f"<h1>The methods on quality per compute</h1>{body}<h2>Equal-quality ratios</h2>"
                    f"{table(['ratio', 'measured', 'paper', 'note'], ratio_rows, 2)}{by_key_table}"
                    f'<h2>Learning curves</h2><p><img src="{files.name}/{plot.name}"></p>'
                    f"<h2>Samples</h2><p>The same prompts and seeds, in reading order:</p><ol>{listing}</ol>"
                    f"{''.join(figures)}")
    return path
