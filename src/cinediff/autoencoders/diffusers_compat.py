"""Adapters at the edge: a diffusers ``AutoencoderKL`` folder → :class:`FrameVAE` config and state dict.

Read with ``json`` and safetensors only; diffusers itself is never imported at runtime.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch


def config_from_diffusers(path: Path) -> dict:
    """Map a diffusers AutoencoderKL config.json to VAEConfig fields (only the architecture it supports)."""
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"no config.json in {path}: not a diffusers AutoencoderKL folder")
    try:
        d = json.loads((path / "config.json").read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"corrupt diffusers config {path / 'config.json'}: {e}") from e
    blocks = set(d.get("down_block_types", ["DownEncoderBlock2D"])) | set(d.get("up_block_types", ["UpDecoderBlock2D"]))
    if d.get("_class_name", "AutoencoderKL") != "AutoencoderKL" or blocks - {"DownEncoderBlock2D", "UpDecoderBlock2D"}:
        raise ValueError(f"{path} is not a plain AutoencoderKL ({d.get('_class_name')}, {sorted(blocks)})")
    if d.get("act_fn", "silu") != "silu" or d.get("in_channels", 3) != d.get("out_channels", 3):
        raise ValueError(f"{path}: only act_fn='silu' and in_channels == out_channels are supported")
    if d.get("use_quant_conv", True) != d.get("use_post_quant_conv", True):
        raise ValueError(f"{path}: use_quant_conv and use_post_quant_conv must agree")
    return dict(
        in_channels=d.get("in_channels", 3),
        latent_channels=d.get("latent_channels", 4),
        block_channels=tuple(d.get("block_out_channels", (64,))),
        layers_per_block=d.get("layers_per_block", 1),
        norm_groups=d.get("norm_num_groups", 32),
        mid_attention=d.get("mid_block_add_attention", True),
        use_quant_conv=d.get("use_quant_conv", True),
        scaling_factor=float(d.get("scaling_factor", 0.18215)),
        shift_factor=float(d.get("shift_factor") or 0.0),
    )


def rename_legacy_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Old diffusers attention names (query/key/value/proj_attn, 1×1-conv weights) → to_q/to_k/to_v/to_out.0."""
    names = {".query.": ".to_q.", ".key.": ".to_k.", ".value.": ".to_v.", ".proj_attn.": ".to_out.0."}
    out = {}
    for k, v in state.items():
        if ".attentions." in k:
            for old, new in names.items():
                k = k.replace(old, new)
            v = v.flatten(1) if v.ndim == 4 else v
        out[k] = v
    return out
