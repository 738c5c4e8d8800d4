"""Training throughput: samples/s of a full optimizer step and model FLOPs utilisation (MFU)
against this machine's measured dense-matmul peak."""

from __future__ import annotations

import torch

from cinediff.bench.timing import count_flops, matmul_peak_flops, time_call
from cinediff.noise import noise_prior
from cinediff.runtime import bf16_is_fast, default_device, prepare_cpu_math
from cinediff.models.config import ModelConfig
from cinediff.training.tasks import DiffusionTask

MODELS = {
    "fit": dict(backbone="fit", backbone_args=dict(in_channels=3, out_channels=3, dim=128, latent_dim=256, num_latents=64,
                                                  num_blocks=2, self_attn_layers_per_block=2, base_frames=16, base_size=(64, 64))),
    "unet-shift": dict(backbone="unet", backbone_args=dict(in_channels=3, out_channels=3, block_channels=(64, 128, 128),
                                                          temporal="shift", norm_groups=32)),
}


def run(quick: bool = False, batch: int = 4, frames: int = 16, size: int = 64, repeats: int = 3,
        precisions: tuple[str, ...] | None = None) -> dict:
    device = default_device()
    precisions = precisions or (("fp32", "bf16") if bf16_is_fast(device) else ("fp32",))
    prepare_cpu_math(device)
    if quick:
        batch, frames, size = 2, 4, 16
    rows = []
    peaks = {p: matmul_peak_flops(device, torch.float32 if p == "fp32" else torch.bfloat16) for p in precisions}
    for name, spec in MODELS.items():
        args = dict(spec["backbone_args"])
        if quick:
            args = {**args, **({"base_frames": frames, "base_size": (size, size), "frames_per_group": 2}
                               if spec["backbone"] == "fit" else {"block_channels": (32, 64, 64), "norm_groups": 8})}
        task = DiffusionTask(ModelConfig(backbone=spec["backbone"], backbone_args=args, text_encoder="")).to(device)
        optimizer = torch.optim.AdamW(task.parameters(), lr=1e-4)
        batch_data = {"video": torch.rand(batch, 3, frames, size, size, device=device) * 2 - 1}
        prior = noise_prior("mixed")
        for precision in precisions:
            def step():
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                    loss = task.denoiser.training_loss(batch_data["video"], prior).mean()
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)

            flops = count_flops(step)
            seconds = time_call(step, device, warmup=1, repeats=repeats)
            rows.append({"model": name, "precision": precision, "samples_per_s": batch / seconds,
                         "model_tflops_per_step": flops / 1e12, "mfu": flops / seconds / peaks[precision],
                         "matmul_peak_tflops": peaks[precision] / 1e12})
    return {"rows": rows, "ratios": {f"{r['model']}_{r['precision']}_mfu": r["mfu"] for r in rows},
            "input": {"batch": batch, "shape": [3, frames, size, size], "device": str(device)}}
