"""CMD generation cost: content frame + motion latent against video models that denoise every frame.

CMD's claim (METHODS.md §4): a 512×1024×16 video in 3.1 s, 7.7× faster than prior latent VDMs
(46.8 TFLOPs, 5.56 GB). CMD runs its image network on one content frame and a light DiT on the
small motion latent, instead of a video network on all T frames. Side by side, at the same
output clip, each in a process of its own, randomly initialised (cost does not depend on weights):

- **CMD**: the ``cmd-content`` recipe's image U-Net (``content_steps`` DDIM steps) → the
  ``cmd-motion`` recipe's DiT (``motion_steps``) → the shipped CMD autoencoder's decoder;
- **CMD, latent content**: the same, the content U-Net making the content frame's latent under
  the shipped frame VAE (``target_args.latent = "vae"``; the paper's content frame comes from a
  latent image model), decoded by the VAE before the motion stage;
- **pixel video U-Net**: the same content U-Net plus temporal attention, denoising the whole
  clip in the same (pixel) space (``video_steps``): CMD's decomposition at an equal network;
- **latent VDM**: a latent video U-Net with temporal attention over frame-VAE latents
  (``latent_recipe``, default the ``pyoco-mixed`` network; ``video_steps``), decoded by the VAE.

Every model samples with DDIM and classifier-free guidance 7.5 (two network evaluations per
step, batched), CMD's settings; defaults are the paper's step counts (50 / 100 / 50). Figures per
row: wall seconds, model TFLOPs (torch's FlopCounterMode), peak memory over the weights and total.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from cinediff.bench.timing import count_flops, in_fresh_process, measure_once
from cinediff.runtime import default_device

PROMPT = "a red circle moving left"
QUICK_UNET = ["model.backbone_args.block_channels=[16, 32, 32]", "model.backbone_args.norm_groups=8",
              "model.backbone_args.temporal_head_dim=16"]
QUICK_DATA = ["data.args.frames=4", "data.args.height=32", "data.args.width=32"]
QUICK = {"content": QUICK_UNET + QUICK_DATA,
         "motion": QUICK_DATA + ["model.backbone_args.dim=32", "model.backbone_args.depth=1",
                                 "model.backbone_args.content_patch_size=8"],
         "pixel": QUICK_UNET + QUICK_DATA, "latent": QUICK_UNET + QUICK_DATA}


def generation(steps: int) -> dict:
    return {"steps": steps, "sampler": "ddim", "schedule": "uniform", "guidance": 7.5}


@dataclass(frozen=True)
class Setup:
    """What every measuring process needs (picklable). ``size``: H = W of the clip instead of the recipes'."""

    quick: bool = False
    steps: dict[str, int] = field(default_factory=lambda: {"content": 50, "motion": 100, "video": 50})
    latent_recipe: str = "pyoco-mixed"
    device: str = "cpu"
    flops: bool = True
    size: int | None = None

    def config(self, what: str):
        """The run config of a measured model: ``content`` (``latent-content``), ``motion``, ``pixel`` or ``latent``."""
        from cinediff.training.config import load_config

        recipe, extra = {"content": ("cmd-content", []), "motion": ("cmd-motion", []),
                         "latent-content": ("cmd-content", ['model.target_args={latent="vae"}',
                                                            "model.backbone_args.in_channels=4",
                                                            "model.backbone_args.out_channels=4"]),
                         "pixel": ("cmd-content", ['model.target="video"', 'model.autoencoder=""',
                                                   'model.backbone_args.temporal="attention"']),
                         "latent": (self.latent_recipe, [])}[what]
        sized = [f"data.args.height={self.size}", f"data.args.width={self.size}"] if self.size else []
        return load_config(recipe, extra + (QUICK[what.removeprefix("latent-")] if self.quick else []) + sized)


def _measure(label: str, what: str, setup: Setup) -> dict:
    """In a fresh process: build ``what`` ("cmd", "cmd-latent", "pixel" or "latent"), generate once (timed, peak
    memory), then once more under the FLOP counter."""
    from cinediff.models.generate import generate_videos
    from cinediff.pipelines import CMDConfig, generate_cmd
    from cinediff.training.export import untrained_model
    from cinediff.runtime import prepare_cpu_math
    from cinediff.text import load_text_encoder

    device, steps = setup.device, setup.steps
    prepare_cpu_math(device)
    text = load_text_encoder().to(device)
    if what.startswith("cmd"):
        content = "latent-content" if what == "cmd-latent" else "content"
        models = {name: untrained_model(setup.config(recipe), device, text)
                  for name, recipe in (("content", content), ("motion", "motion"))}
        config = CMDConfig(stages={name: generation(steps[name]) for name in models})
        generate = lambda: generate_cmd(models, [PROMPT], [0], config, device).video  # noqa: E731
    else:
        model = untrained_model(setup.config(what), device, text)
        models, config = {what: model}, model.generation_config(generation(steps["video"]))
        generate = lambda: generate_videos(model.denoiser, text, [PROMPT], model.shape, [0], config, device,  # noqa: E731
                                           disable_progress=True, autoencoder=model.decoder)
    with torch.no_grad():
        found = measure_once(generate, torch.device(device))
        model_flops = count_flops(generate) if setup.flops else float("nan")
    params = sum(p.numel() for m in models.values() for p in m.denoiser.parameters())
    return {"model": label, "output": list(found.pop("result").shape[1:]), "params_m": params / 1e6,
            "steps": "+".join(str(steps[n]) for n in (("content", "motion") if what.startswith("cmd") else ("video",))),
            "tflops": model_flops / 1e12, **found}


def run(quick: bool = False, content_steps: int = 50, motion_steps: int = 100, video_steps: int = 50,
        latent_recipe: str = "pyoco-mixed", device: str | None = None, flops: bool = True,
        size: int | None = None) -> dict:
    """``size``: clip height = width (default: the recipes' 64); the cost of a latent VDM grows with
    the pixel count, CMD's motion latent with height + width."""
    device = device or str(default_device())
    if quick:
        content_steps, motion_steps, video_steps = 2, 2, 2
    steps = {"content": content_steps, "motion": motion_steps, "video": video_steps}
    setup = Setup(quick, steps, latent_recipe, device, flops, size)
    jobs = [("CMD", "cmd"), ("CMD, latent content", "cmd-latent"), ("pixel video U-Net", "pixel"),
            ("latent VDM", "latent")]
    rows = []
    for label, what in jobs:
        rows.append(in_fresh_process(_measure, label, what, setup))
        print(f"  measured {label}: {rows[-1]}", flush=True)
    cmd, cmd_latent, pixel, latent = rows
    ratios = {}
    for name, row in (("pixel_video_unet", pixel), ("latent_vdm", latent)):
        for base_name, base in (("cmd", cmd), ("cmd_latent_content", cmd_latent)):
            ratios |= {f"{name}_vs_{base_name}_seconds": row["seconds"] / base["seconds"],
                       f"{name}_vs_{base_name}_tflops": row["tflops"] / base["tflops"] if flops else None,
                       f"{name}_vs_{base_name}_peak_memory": row["peak_memory_mb"] / max(base["peak_memory_mb"], 1e-6)}
    return {"rows": rows, "ratios": ratios,
            "input": {"steps": steps, "size": size, "device": device, "sampler": "ddim", "guidance": 7.5,
                      "output": cmd["output"]},
            "notes": ["CMD: the cmd-content U-Net on the content frame, the cmd-motion DiT on the motion latent, "
                      "the shipped CMD autoencoder's decoder",
                      "CMD, latent content: its content U-Net on the shipped frame VAE's latent of the content frame",
                      "pixel video U-Net: the cmd-content U-Net + temporal attention on every frame (pixels)",
                      f"latent VDM: the {latent_recipe} network (U-Net + temporal attention) on frame-VAE latents, "
                      "+ the VAE decoder"]}
