"""Backbone speed and memory: U-Net (none / shift / attention mixers) vs FIT at matched size.

Snap Video's claim (METHODS.md §3b): FIT trains 3.31× and samples ~4.5× faster than an
equal-quality U-Net. Latent-Shift's: the shift U-Net costs what the image U-Net costs, and
less than temporal attention. Every model gets the same input, ``(B, C, T, H, W)`` with
C = 4 channels (a VAE latent; 16×64×64 latents are 512×512 pixel frames), the same text
tokens, and is measured in the same process set-up, in fp32 and under bf16 autocast.
"""

from __future__ import annotations

import torch

from cinediff.backbones import build_backbone
from cinediff.bench.timing import in_fresh_process, peak_memory_mb, time_call
from cinediff.runtime import bf16_is_fast, default_device, prepare_cpu_math

UNET = dict(in_channels=4, out_channels=4, block_channels=(64, 128, 128), layers_per_block=2,
            attention_levels=(False, True, True), heads=4, text_dim=384, norm_groups=32)
FIT_BASE = dict(in_channels=4, out_channels=4, patch_size=(1, 4, 4), dim=256, latent_dim=512, num_latents=256,
                frames_per_group=4, num_blocks=4, self_attn_layers_per_block=4, dim_head=64, text_dim=384,
                base_frames=16, base_size=(64, 64))
QUICK_UNET = dict(UNET, block_channels=(32, 64), layers_per_block=1, attention_levels=(False, True), heads=2, norm_groups=8)
QUICK_FIT = dict(FIT_BASE, dim=64, latent_dim=64, num_latents=16, num_blocks=1, self_attn_layers_per_block=1,
                 dim_head=32, base_frames=4, base_size=(16, 16), frames_per_group=2)


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def matched_fit_args(target: int, base: dict) -> dict:
    """FIT config whose parameter count is closest to ``target``: search width and block count
    (models are built on the meta device, so the search allocates nothing)."""
    from cinediff.configuration import make_config
    from cinediff.backbones.fit import FITConfig

    candidates = []
    for blocks in range(1, 9):
        for width in [x / 16 for x in range(4, 48)]:
            cfg = make_config(FITConfig, {**base, "num_blocks": blocks}).scaled(width=width)
            args = {**base, "num_blocks": cfg.num_blocks, "dim": cfg.dim, "latent_dim": cfg.latent_dim}
            with torch.device("meta"):
                count = parameter_count(build_backbone("fit", **args))
            candidates.append((abs(count - target), args))
            if count > 1.3 * target:
                break
    return min(candidates, key=lambda c: c[0])[1]


def _measure(name: str, args: dict, shape: tuple, precision: str, device: str, repeats: int, threads) -> dict:
    """Forward+backward and forward timings, peak memory (run in a fresh process: :func:`measure`)."""
    prepare_cpu_math(device)
    if threads:
        torch.set_num_threads(threads)
    device = torch.device(device)
    model = build_backbone(name.split("-")[0], **args).to(device)
    x = torch.randn(shape, device=device)
    c_noise = torch.zeros(shape[0], device=device)
    text = torch.randn(shape[0], 16, 384, device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")

    def train_step():
        with autocast:
            out = model(x, c_noise, text=text)
        out.float().square().mean().backward()
        model.zero_grad(set_to_none=True)

    @torch.no_grad()
    def forward():
        with autocast:
            model(x, c_noise, text=text)

    model.eval()  # FIT: no self-conditioning pass; timings are of one network evaluation
    row = {"model": name, "precision": precision, "params": parameter_count(model)}
    row["peak_memory_mb"] = peak_memory_mb(train_step, device)
    row["train_s_per_video"] = time_call(train_step, device, warmup=1, repeats=repeats) / shape[0]
    row["forward_s_per_video"] = time_call(forward, device, warmup=1, repeats=repeats) / shape[0]
    return row


def measure(name: str, args: dict, shape: tuple, precision: str, device: str, repeats: int, threads=None) -> dict:
    """:func:`_measure` in a fresh process, so the peak memory is this model's alone."""
    return in_fresh_process(_measure, name, args, shape, precision, device, repeats, threads)


def run(quick: bool = False, frames: int = 16, size: int = 64, batch: int = 1, repeats: int = 3,
        device: str | None = None, precisions: tuple[str, ...] | None = None, threads: int | None = None) -> dict:
    """``precisions`` default: fp32, plus bf16 autocast where bf16 is native (CUDA, AVX512-BF16/AMX)."""
    device = device or str(default_device())
    precisions = precisions or (("fp32", "bf16") if bf16_is_fast(device) else ("fp32",))
    unet, fit_base = (QUICK_UNET, QUICK_FIT) if quick else (UNET, FIT_BASE)
    if quick:
        frames, size = 4, 16
    shape = (batch, 4, frames, size, size)
    image_params = parameter_count(build_backbone("unet", **unet))
    fit = matched_fit_args(image_params, {**fit_base, "base_frames": frames, "base_size": (size, size)})
    models = {"unet-none": dict(unet, temporal="none"), "unet-shift": dict(unet, temporal="shift"),
              "unet-attention": dict(unet, temporal="attention"), "fit": fit}
    rows = []
    for precision in precisions:
        for name, args in models.items():
            rows.append(measure(name, args, shape, precision, device, repeats, threads))
            print(f"  measured {name} {precision}: {rows[-1]}", flush=True)
    return {"rows": rows, "ratios": ratios(rows), "input": {"shape": list(shape), "space": "latent (4 channels)"},
            "configs": models}


def ratios(rows: list[dict]) -> dict:
    """Speed-ups relative to the U-Nets, per precision (> 1 means the first is faster)."""
    out = {}
    for precision in {r["precision"] for r in rows}:
        by = {r["model"]: r for r in rows if r["precision"] == precision}
        speed = lambda a, b, key: by[b][key] / by[a][key]  # noqa: E731
        out[precision] = {
            "fit_vs_unet_attention_train": speed("fit", "unet-attention", "train_s_per_video"),
            "fit_vs_unet_attention_inference": speed("fit", "unet-attention", "forward_s_per_video"),
            "fit_vs_unet_shift_train": speed("fit", "unet-shift", "train_s_per_video"),
            "fit_vs_unet_shift_inference": speed("fit", "unet-shift", "forward_s_per_video"),
            "shift_overhead_vs_image_train": by["unet-shift"]["train_s_per_video"] / by["unet-none"]["train_s_per_video"] - 1,
            "shift_vs_attention_train": speed("unet-shift", "unet-attention", "train_s_per_video"),
            "fit_memory_vs_unet_attention": by["fit"]["peak_memory_mb"] / by["unet-attention"]["peak_memory_mb"],
        }
    return out
