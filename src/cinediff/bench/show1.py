"""Show-1 memory: the chain (pixel keyframes → pixel interpolation → pixel super-resolution
[→ latent expert]) against one pixel model that makes the final clip directly.

Show-1's claim (METHODS.md §5): 15 GB of inference memory for the chain vs 72 GB for a
pixel-only model at the same output size (4.8× less). Each stage is the packaged recipe's
model (``show1-keyframes``, ``show1-interpolation``, ``show1-superres``; the expert: a latent
text-to-video recipe, default ``latent-shift-video``), randomly initialised — memory and time do
not depend on the weights. The pixel-only model is the keyframe model's U-Net at the final
frame count and size. Every configuration runs in a process of its own (its peak is its own);
each stage is also measured alone, on random input of the shape the stage before makes.

Memory: the rise of the peak over what is in use before generating (activations: what grows with
the clip), and the process's total peak (weights and libraries included). Every stage runs
``steps`` sampler steps (super-resolution and the expert the SDEdit tail of them, as in the chain).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cinediff.bench.timing import in_fresh_process, measure_once
from cinediff.runtime import default_device

RECIPES = {"keyframes": "show1-keyframes", "interpolation": "show1-interpolation", "superres": "show1-superres"}
# --quick: the same chain at toy sizes (3 keyframes of 8×8 → 5 frames → 16×16) with narrow U-Nets.
QUICK_UNET = ["model.backbone_args.block_channels=[16, 32, 32]", "model.backbone_args.norm_groups=8",
              "model.backbone_args.temporal_head_dim=16"]
QUICK = {"keyframes": ["data.args.frames=3", "data.args.height=8", "data.args.width=8", *QUICK_UNET],
         "interpolation": ["data.args.frames=5", "data.args.height=8", "data.args.width=8", "model.target_args.stride=2",
                           *QUICK_UNET],
         "superres": ["data.args.frames=3", "data.args.height=16", "data.args.width=16", "model.target_args.factor=2",
                      *QUICK_UNET],
         "expert": ["data.args.frames=4", "data.args.height=32", "data.args.width=32"]}


@dataclass(frozen=True)
class Plan:
    """What every measuring process needs (picklable)."""

    quick: bool
    steps: int
    batch: int
    device: str
    expert_recipe: str
    expert_size: tuple[int, int] | None  # None: no expert stage

    @property
    def prompts(self) -> tuple[list[str], list[int]]:
        """The prompts and seeds every configuration generates."""
        return ["a red circle moving left"] * self.batch, list(range(self.batch))

    @property
    def chain(self) -> tuple[str, ...]:
        return (*RECIPES, *(("expert",) if self.expert_size else ()))

    def config(self, name: str, extra: tuple[str, ...] = ()):
        """The run config of stage ``name`` (``expert``: the latent expert)."""
        from cinediff.training.config import load_config

        recipe = self.expert_recipe if name == "expert" else RECIPES[name]
        if name == "expert":  # the expert works at its own size: the chain's output
            extra = (f"data.args.height={self.expert_size[0]}", f"data.args.width={self.expert_size[1]}", *extra)
        return load_config(recipe, [*(QUICK[name] if self.quick else []), *extra])

    def target_arg(self, name: str, key: str, default: int) -> int:
        return self.config(name).model.target_args.get(key, default)

    def keyframe_shape(self) -> tuple[int, ...]:
        from cinediff.training.export import output_shape

        return tuple(output_shape(self.config("keyframes"))[0])  # (C, K, h, w)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """What each stage makes, (C, T, H, W): K keyframes at h×w → (K − 1)·s + 1 frames → × f → expert size."""
        c, k, h, w = self.keyframe_shape()
        t, f = (k - 1) * self.target_arg("interpolation", "stride", 4) + 1, self.target_arg("superres", "factor", 4)
        out = {"keyframes": (c, k, h, w), "interpolation": (c, t, h, w), "superres": (c, t, f * h, f * w)}
        return out | ({"expert": (c, t, *self.expert_size)} if self.expert_size else {})


def stage_runner(name: str, plan: Plan, text) -> tuple[dict, callable]:
    """Stage ``name`` alone on random input shaped like the previous stage's output."""
    from cinediff.pipelines import Show1Config
    from cinediff.pipelines import show1 as stages
    from cinediff.training.export import untrained_model

    model = untrained_model(plan.config(name), plan.device, text)
    prompts, seeds = plan.prompts
    strength = {"superres": Show1Config.superres_strength, "expert": Show1Config.expert_strength}.get(name)
    generation = model.generation_config({"steps": plan.steps, "strength": strength})
    fn = {"keyframes": stages.keyframes, "interpolation": stages.interpolate, "superres": stages.super_resolve,
          "expert": stages.translate}[name]
    if name == "keyframes":
        return {name: model}, lambda: fn(model, prompts, seeds, generation, plan.device)
    previous = plan.shapes()[plan.chain[plan.chain.index(name) - 1]]
    x = (torch.rand(plan.batch, *previous) * 2 - 1).to(plan.device)
    return {name: model}, lambda: fn(model, x, prompts, seeds, generation, plan.device)


def chain_runner(plan: Plan, text) -> tuple[dict, callable]:
    from cinediff.pipelines import generate_show1
    from cinediff.training.export import untrained_model

    models = {name: untrained_model(plan.config(name), plan.device, text) for name in plan.chain}
    prompts, seeds = plan.prompts
    return models, lambda: generate_show1(models, prompts, seeds, device=plan.device, steps=plan.steps).video


def pixel_runner(plan: Plan, text) -> tuple[dict, callable]:
    """The keyframe model's network making the chain's final clip directly."""
    from cinediff.models.generate import generate_videos
    from cinediff.training.export import untrained_model

    _, t, h, w = plan.shapes()[plan.chain[-1]]
    model = untrained_model(plan.config("keyframes", (f"data.args.frames={t}", f"data.args.height={h}",
                                                      f"data.args.width={w}")), plan.device, text)
    prompts, seeds = plan.prompts
    generation = model.generation_config({"steps": plan.steps})
    return {"pixel": model}, lambda: generate_videos(model.denoiser, text, prompts, model.shape, seeds, generation,
                                                     plan.device, disable_progress=True)


def _measure(label: str, what: str, plan: Plan) -> dict:
    """In a fresh process: build the models of ``what`` ("chain", "pixel" or a stage name),
    generate once; wall time and peaks."""
    from cinediff.runtime import prepare_cpu_math
    from cinediff.text import load_text_encoder

    prepare_cpu_math(plan.device)
    text = load_text_encoder().to(plan.device)
    runners = {"chain": chain_runner, "pixel": pixel_runner}
    models, generate = runners[what](plan, text) if what in runners else stage_runner(what, plan, text)
    with torch.no_grad():
        found = measure_once(generate, torch.device(plan.device))
    params = sum(p.numel() for m in models.values() for p in m.denoiser.parameters())
    return {"config": label, "output": list(found.pop("result").shape[1:]), "params_m": params / 1e6, **found}


def run(quick: bool = False, steps: int = 4, batch: int = 1, device: str | None = None, expert: bool = False,
        expert_recipe: str = "latent-shift-video", expert_size: tuple[int, int] | None = None,
        per_stage: bool = True) -> dict:
    """``expert``: add the latent expert at ``expert_size`` (default: twice the super-resolution
    output); the pixel-only model then makes that size. ``per_stage``: also measure each stage alone."""
    device = device or str(default_device())
    steps = 2 if quick else steps
    plan = Plan(quick, steps, batch, device, expert_recipe, None)
    if expert:
        size = expert_size or tuple(2 * n for n in plan.shapes()["superres"][2:])
        plan = Plan(quick, steps, batch, device, expert_recipe, tuple(size))
    jobs = [("Show-1 chain", "chain")]
    jobs += [(f"{name} alone", name) for name in plan.chain] if per_stage else []
    jobs += [("pixel-only at the final size", "pixel")]
    rows = []
    for label, what in jobs:
        rows.append(in_fresh_process(_measure, label, what, plan))
        print(f"  measured {label}: {rows[-1]}", flush=True)
    chain, pixel = rows[0], rows[-1]
    return {"rows": rows,
            "ratios": {"pixel_vs_chain_peak_memory": pixel["peak_memory_mb"] / max(chain["peak_memory_mb"], 1e-6),
                       "pixel_vs_chain_peak_total": pixel["peak_total_mb"] / chain["peak_total_mb"],
                       "pixel_vs_chain_seconds": pixel["seconds"] / chain["seconds"]},
            "input": {"steps": steps, "batch": batch, "device": device, "shapes": plan.shapes()}}
