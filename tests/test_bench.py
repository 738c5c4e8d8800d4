"""Benchmark machinery: FLOP counting against the matmul formula, and the suites run end to end (--quick).

No timing thresholds: the figures themselves are noise on shared machines."""

import json

import torch

from cinediff.backbones import build_backbone
from cinediff.bench import run_suite
from cinediff.bench.timing import count_flops

TINY_FIT = dict(in_channels=3, out_channels=3, dim=32, latent_dim=32, num_latents=4, num_blocks=1,
                self_attn_layers_per_block=1, dim_head=16, base_frames=4, base_size=(16, 16), frames_per_group=2,
                time_embed_dim=32, patch_size=(1, 4, 4))


def test_count_flops_of_a_matmul_is_2mnk():
    a, b = torch.randn(8, 16), torch.randn(16, 32)
    assert count_flops(lambda: a @ b) == 2 * 8 * 16 * 32


def test_count_flops_through_fit_self_conditioning():
    """The no-grad self-conditioning pass used to break torch's per-module tracker; it now counts."""
    x, c_noise = torch.randn(2, 3, 4, 16, 16), torch.zeros(2)

    def step(prob):
        model = build_backbone("fit", **TINY_FIT, self_conditioning_prob=prob).train()
        return count_flops(lambda: model(x, c_noise).square().mean().backward())

    without, with_pass = step(0.0), step(1.0)
    assert without > 0 and with_pass > without  # the extra forward pass is counted


def test_train_suite_quick_writes_json(tmp_path):
    result = run_suite("train", tmp_path / "train.json", quick=True, repeats=1)
    saved = json.loads((tmp_path / "train.json").read_text())
    assert {r["model"] for r in saved["rows"]} == {"fit", "unet-shift"}
    assert all(r["samples_per_s"] > 0 and 0 < r["mfu"] for r in result["rows"])
