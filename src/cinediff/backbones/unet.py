"""Stable-Diffusion-family 2D latent U-Net that runs on videos by folding time into batch.

Module names and parameter layout equal diffusers' ``UNet2DConditionModel`` built from
``CrossAttnDownBlock2D``/``DownBlock2D``, ``UNetMidBlock2DCrossAttn``, ``CrossAttnUpBlock2D``/
``UpBlock2D`` with GEGLU feed-forwards, so ``UNet.from_diffusers(path)`` loads a saved diffusers
U-Net (e.g. a Stable Diffusion ``unet/`` folder) and computes the same function.

Frames talk through the temporal mixer slot of every ResBlock (``temporal.py``): ``"none"``
(frames independent), ``"shift"`` (Latent-Shift, no new parameters), ``"attention"`` (temporal
attention + conv, zero-initialised). ``inflate_unet`` turns an image U-Net into a video one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from safetensors.torch import load_file
from torch import nn
from torch.utils.checkpoint import checkpoint

from cinediff.backbones.attention import FrameValueAttention, TransformerBlock
from cinediff.backbones.embeddings import (
    FrameTextProduct,
    TimestepEmbedding,
    TokenEmbedding,
    sinusoidal_embedding,
)
from cinediff.backbones.temporal import make_temporal_mixer
from cinediff.text.encoders import masked_mean


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int = 4  # latent channels of x
    out_channels: int = 4
    block_channels: tuple[int, ...] = (64, 128, 128)  # channels per resolution level (diffusers block_out_channels)
    layers_per_block: int = 1  # ResBlocks per down level (up levels get one more)
    attention_levels: tuple[bool, ...] = (False, True, True)  # levels with self+cross attention
    heads: int | tuple[int, ...] = 4  # attention heads, per level or shared (diffusers' attention_head_dim)
    head_dim: int | None = None  # if set: heads = channels // head_dim (SD 2.x style)
    text_dim: int = 384  # text token width (MiniLM); diffusers cross_attention_dim
    norm_groups: int = 32
    linear_projection: bool = False  # proj_in/proj_out as Linear (SD 2.x) or 1x1 Conv2d (SD 1.x)
    temporal: str = "none"  # "none" | "shift" | "attention" (temporal.py)
    shift_fold_div: int = 8  # shift C/8 channels each way
    temporal_head_dim: int = 64  # head width of "attention" mixers
    fps_embedding: bool = False  # add an embedding of fps to the time embedding (Snap Video)
    resolution_embedding: bool = False  # add embeddings of the input H and W
    frame_embedding: bool = False  # add an embedding of each frame's index to its time embedding (videos only)
    text_embedding: bool = False  # add an MLP of the prompt's mean token state to the time embedding (Imagen's pooled text)
    frame_text_embedding: bool = False  # add an MLP of [mean token state, frame index features] to each frame's
    #                                     time embedding: the prompt x frame-order interaction a motion's sign needs
    frame_text_product: bool = False  # add the bilinear prompt x frame-position term (FrameTextProduct) to each
    #                                   frame's time embedding
    frame_text_attention: bool = False  # ... reading the prompt through a learned attention pooling of its tokens
    frame_text_heads: int = 1  # ... plus heads - 1 queries on the frame position minus its clip mean (FrameTextProduct)
    token_embedding: int = 0  # tokenizer vocabulary size of learned token embeddings added to the text states
    #                           (embeddings.TokenEmbedding; MiniLM: 30522); 0: off
    token_embedding_rank: int = 32
    token_embedding_gain: float = 1.0  # how fast the learned rows grow against the text states (TokenEmbedding)
    token_segments: int = 0  # ... plus a learned vector per " and "-joined phrase index (segment embeddings); 0: off
    token_separator_id: int = 1998  # the tokenizer id that opens the next phrase (MiniLM's "and")
    token_phrase_context: bool = False  # ... plus the mean of each token's phrase's rows (TokenEmbedding.phrase_context)
    frame_text_cross: bool = False  # cross-attention also returns the words it reads x the frame position
    #                                 (attention.FrameValueAttention): each object its own motion
    zero_init_attention: bool = False  # proj_out of each SpatialTransformer starts at zero (LDM's zero_module): an
    #                                    attention level added to a trained model (init_from) starts as a no-op
    spacetime_attention: bool = False  # self-attention of the attention levels over all T·H·W tokens of a clip
    cond_channels: int = 0  # extra input channels taken from cond_frames
    coord_channels: bool = False  # append (t, y, x) in [-1, 1] as input channels (CoordConv, Liu et al. 2018): where
    #                               and when a pixel is, so 'object at the right edge in frame 0' is a linear feature
    gradient_checkpointing: bool = False  # recompute each down/mid/up block in backward
    patch_size: int = 1  # space-to-depth stem: p×p pixels -> p²·C channels in, pixel shuffle out (1: off, SD layout)

    def __post_init__(self):
        if len(self.attention_levels) != len(self.block_channels):
            raise ValueError(f"attention_levels needs one entry per level of block_channels {self.block_channels}")
        if self.frame_text_cross and self.spacetime_attention:
            raise ValueError("frame_text_cross needs per-frame attention rows; not with spacetime_attention")
        if (self.token_segments or self.token_phrase_context) and not self.token_embedding:
            raise ValueError("token_segments and token_phrase_context are part of the learned token embeddings: "
                             "set token_embedding too")

    def level_heads(self, level: int) -> int:
        if self.head_dim is not None:
            return self.block_channels[level] // self.head_dim
        return self.heads if isinstance(self.heads, int) else self.heads[level]

    @property
    def input_channels(self) -> int:
        """Channels into the stem: x, cond_frames, then the 3 coordinate channels when enabled."""
        return self.in_channels + self.cond_channels + 3 * self.coord_channels

    @property
    def temb_dim(self) -> int:
        return 4 * self.block_channels[0]

    @property
    def down_factor(self) -> int:
        """H and W must be multiples of this (the stem's patch, then one ×2 downsampling between levels)."""
        return self.patch_size * 2 ** (len(self.block_channels) - 1)


@dataclass
class BlockContext:
    """What every block sees besides the features (all folded to B*T)."""

    temb: torch.Tensor  # (B*T, D_temb)
    text: torch.Tensor | None  # (B*T, L, D_text)
    text_mask: torch.Tensor | None  # (B*T, L) bool
    num_frames: int  # T, for the temporal mixers


class ResBlock(nn.Module):
    """diffusers ``ResnetBlock2D``: x + conv2(act(norm2(conv1(shift(act(norm1 x))) + temb))), + temporal hooks."""

    def __init__(self, in_ch: int, out_ch: int, config: UNetConfig):
        super().__init__()
        groups = config.norm_groups
        self.norm1 = nn.GroupNorm(groups, in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.time_emb_proj = nn.Linear(config.temb_dim, out_ch)
        self.norm2 = nn.GroupNorm(groups, out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else None
        self.temporal = make_temporal_mixer(
            config.temporal, out_ch, fold_div=config.shift_fold_div, norm_groups=groups, head_dim=config.temporal_head_dim
        )

    def forward(self, x: torch.Tensor, ctx: BlockContext) -> torch.Tensor:
        """x: (B*T, in_ch, H, W) → (B*T, out_ch, H, W)."""
        h = self.temporal.residual(F.silu(self.norm1(x)), ctx.num_frames)
        h = self.conv1(h) + self.time_emb_proj(F.silu(ctx.temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        skip = x if self.conv_shortcut is None else self.conv_shortcut(x)
        return self.temporal.output(skip + h, ctx.num_frames)


class SpatialTransformer(nn.Module):
    """diffusers ``Transformer2DModel``: x + proj_out(block(proj_in(norm x))) over the H*W tokens of each frame.

    With ``config.spacetime_attention`` the block runs on the T·H·W tokens of the whole clip: its
    self-attention relates every position of every frame (where the object was, where it goes),
    cross-attention and MLP are per token as before. Same weights; images (T = 1) are unchanged.
    """

    def __init__(self, channels: int, heads: int, config: UNetConfig):
        super().__init__()
        proj = nn.Linear if config.linear_projection else (lambda i, o: nn.Conv2d(i, o, 1))
        self.linear = config.linear_projection
        self.spacetime = config.spacetime_attention
        self.norm = nn.GroupNorm(config.norm_groups, channels, eps=1e-6)
        self.proj_in = proj(channels, channels)
        block = TransformerBlock(channels, heads, channels // heads, config.text_dim)
        if config.frame_text_cross:
            block.attn2 = FrameValueAttention(channels, config.text_dim, heads, channels // heads)
        self.frame_text_cross = config.frame_text_cross
        self.transformer_blocks = nn.ModuleList([block])
        self.proj_out = proj(channels, channels)
        if config.zero_init_attention:
            nn.init.zeros_(self.proj_out.weight)
            nn.init.zeros_(self.proj_out.bias)

    def forward(self, x: torch.Tensor, ctx: BlockContext) -> torch.Tensor:
        """x: (B*T, C, H, W) → same shape."""
        h = self.norm(x)
        h = h if self.linear else self.proj_in(h)
        frames = ctx.num_frames if self.spacetime else 1  # frames in one token sequence
        h = rearrange(h, "(b t) c h w -> b (t h w) c", t=frames)
        h = self.proj_in(h) if self.linear else h
        text, text_mask = (v if v is None else v[::frames] for v in (ctx.text, ctx.text_mask))  # one per sequence
        cross_args = {"num_frames": ctx.num_frames} if self.frame_text_cross else {}
        for block in self.transformer_blocks:
            h = block(h, text, text_mask, **cross_args)
        h = self.proj_out(h) if self.linear else h
        h = rearrange(h, "b (t h w) c -> (b t) c h w", t=frames, h=x.shape[-2])
        return x + (h if self.linear else self.proj_out(h))


class Resample(nn.Module):
    """diffusers ``Downsample2D`` (stride-2 conv) or ``Upsample2D`` (nearest ×2 then conv)."""

    def __init__(self, channels: int, up: bool):
        super().__init__()
        self.up = up
        self.conv = nn.Conv2d(channels, channels, 3, stride=1 if up else 2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest") if self.up else x)


class Level(nn.Module):
    """One down or up level: (ResBlock [→ SpatialTransformer]) × n, then an optional resampler.

    Down levels return every block output as skips; up levels concatenate one skip before each ResBlock.
    """

    def __init__(self, in_chs: list[int], level: int, resample: str | None, config: UNetConfig):
        super().__init__()
        out_ch, heads = config.block_channels[level], config.level_heads(level)
        self.resnets = nn.ModuleList([ResBlock(c, out_ch, config) for c in in_chs])
        attentions = [SpatialTransformer(out_ch, heads, config) for _ in in_chs]
        self.attentions = nn.ModuleList(attentions if config.attention_levels[level] else [])
        self.downsamplers = nn.ModuleList([Resample(out_ch, up=False)] if resample == "down" else [])
        self.upsamplers = nn.ModuleList([Resample(out_ch, up=True)] if resample == "up" else [])

    def layer(self, i: int, h: torch.Tensor, ctx: BlockContext) -> torch.Tensor:
        h = self.resnets[i](h, ctx)
        return self.attentions[i](h, ctx) if self.attentions else h

    def down(self, h: torch.Tensor, ctx: BlockContext) -> tuple[torch.Tensor, list[torch.Tensor]]:
        skips = []
        for i in range(len(self.resnets)):
            h = self.layer(i, h, ctx)
            skips.append(h)
        for downsample in self.downsamplers:
            h = downsample(h)
            skips.append(h)
        return h, skips

    def up(self, h: torch.Tensor, skips: list[torch.Tensor], ctx: BlockContext) -> torch.Tensor:
        """skips: this level's skips in push order (consumed last first)."""
        for i, skip in enumerate(reversed(skips)):
            h = self.layer(i, torch.cat([h, skip], dim=1), ctx)
        for upsample in self.upsamplers:
            h = upsample(h)
        return h


class MidBlock(nn.Module):
    """diffusers ``UNetMidBlock2DCrossAttn``: ResBlock, SpatialTransformer, ResBlock."""

    def __init__(self, channels: int, config: UNetConfig):
        super().__init__()
        self.resnets = nn.ModuleList([ResBlock(channels, channels, config) for _ in range(2)])
        heads = config.level_heads(len(config.block_channels) - 1)
        self.attentions = nn.ModuleList([SpatialTransformer(channels, heads, config)])

    def forward(self, h: torch.Tensor, ctx: BlockContext) -> torch.Tensor:
        h = self.resnets[0](h, ctx)
        return self.resnets[1](self.attentions[0](h, ctx), ctx)


def condition_embedding(in_dim: int, out_dim: int, enabled: bool) -> TimestepEmbedding | None:
    """An extra scalar-condition embedding (fps, H, W) whose zeroed output layer makes it start as a no-op."""
    if not enabled:
        return None
    embedding = TimestepEmbedding(in_dim, out_dim)
    nn.init.zeros_(embedding.linear_2.weight)
    nn.init.zeros_(embedding.linear_2.bias)
    return embedding


def pooled_text(text: torch.Tensor | None, text_mask: torch.Tensor | None) -> torch.Tensor | None:
    """Masked mean of the token states (B, L, D) → (B, D); None without text."""
    if text is None:
        return None
    return masked_mean(text, torch.ones(text.shape[:2], device=text.device) if text_mask is None else text_mask)


def per_frame(v: torch.Tensor | None, num_frames: int) -> torch.Tensor | None:
    """Repeat a per-clip condition for each frame: (B, ...) → (B*T, ...)."""
    return None if v is None else repeat(v, "b ... -> (b t) ...", t=num_frames)


class UNet(nn.Module):
    """The backbone contract ``F(x, c_noise, text, text_mask, fps, cond_frames)`` on (B,C,T,H,W) or (B,C,H,W)."""

    def __init__(self, config: UNetConfig = UNetConfig()):
        super().__init__()
        self.config = config
        ch, temb_dim = config.block_channels, config.temb_dim
        p2 = config.patch_size**2
        self.conv_in = nn.Conv2d(config.input_channels * p2, ch[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(ch[0], temb_dim)  # diffusers time_proj + time_embedding
        self.fps_embedding = condition_embedding(ch[0], temb_dim, config.fps_embedding)
        self.height_embedding = condition_embedding(ch[0], temb_dim, config.resolution_embedding)
        self.width_embedding = condition_embedding(ch[0], temb_dim, config.resolution_embedding)
        self.frame_embedding = condition_embedding(ch[0], temb_dim, config.frame_embedding)
        self.text_embedding = condition_embedding(config.text_dim, temb_dim, config.text_embedding)
        self.frame_text_embedding = condition_embedding(config.text_dim + ch[0], temb_dim, config.frame_text_embedding)
        self.token_embedding = (TokenEmbedding(config.token_embedding, config.text_dim, config.token_embedding_rank,
                                               config.token_embedding_gain, config.token_segments,
                                               config.token_separator_id, config.token_phrase_context)
                                if config.token_embedding else None)
        self.frame_text_product = (FrameTextProduct(config.text_dim, temb_dim, attention_pooling=config.frame_text_attention,
                                                    heads=config.frame_text_heads)
                                   if config.frame_text_product else None)
        self.down_blocks = nn.ModuleList(self.down_level(i, config) for i in range(len(ch)))
        self.mid_block = MidBlock(ch[-1], config)
        self.up_blocks = nn.ModuleList(self.up_level(i, config) for i in reversed(range(len(ch))))
        self.conv_norm_out = nn.GroupNorm(config.norm_groups, ch[0])
        self.conv_out = nn.Conv2d(ch[0], config.out_channels * p2, 3, padding=1)

    @staticmethod
    def down_level(i: int, config: UNetConfig) -> Level:
        """Down level at resolution level i: first ResBlock takes the previous level's width."""
        ch, n = config.block_channels, config.layers_per_block
        in_chs = [ch[max(i - 1, 0)]] + [ch[i]] * (n - 1)
        return Level(in_chs, i, "down" if i < len(ch) - 1 else None, config)

    @staticmethod
    def up_level(i: int, config: UNetConfig) -> Level:
        """Up level at resolution level i: ResBlock inputs = previous output (or own width) + skip widths."""
        ch, n = config.block_channels, config.layers_per_block
        prev = ch[min(i + 1, len(ch) - 1)]
        skips = [ch[i]] * n + [ch[max(i - 1, 0)]]
        in_chs = [(prev if j == 0 else ch[i]) + s for j, s in enumerate(skips)]
        return Level(in_chs, i, "up" if i > 0 else None, config)

    def forward(self, x, c_noise, text=None, text_mask=None, fps=None, cond_frames=None, text_ids=None) -> torch.Tensor:
        """x: (B, C, T, H, W) or (B, C, H, W); c_noise: (B,); text: (B, L, D); text_mask, text_ids: (B, L) → x's shape."""
        video = x.ndim == 5
        if self.token_embedding is not None and text is not None:
            text = self.token_embedding(text, text_ids)
        x = x if video else x[:, :, None]  # (B, C, T, H, W)
        b, _, t, height, width = x.shape
        self.check_size(height, width)
        c_noise = torch.as_tensor(c_noise, device=x.device).reshape(-1).expand(b)
        pooled = pooled_text(text, text_mask)
        temb = self.embed(c_noise, fps, height, width) + self.embed_text(pooled)  # (B, D_temb)
        ctx = BlockContext(self.frame_temb(temb, t, pooled, text, text_mask), per_frame(text, t), per_frame(text_mask, t), t)
        x = rearrange(self.with_coordinates(self.with_cond_frames(x, cond_frames)), "b c t h w -> (b t) c h w")
        out = rearrange(self.frames_forward(x, ctx), "(b t) c h w -> b c t h w", t=t)
        return out if video else out[:, :, 0]

    def embed_text(self, pooled: torch.Tensor | None) -> torch.Tensor | float:
        """The prompt as a global condition: MLP of its masked mean token state (B, D) → (B, D_temb).

        Cross-attention lets each pixel look up words; this path hands every ResBlock of every
        frame, at every resolution, the whole prompt at once, the way Imagen adds pooled text to
        the time embedding. Zero-initialised output: a model trained without it starts unchanged."""
        if self.text_embedding is None or pooled is None:
            return 0.0
        return self.text_embedding.forward_features(pooled)

    def frame_temb(self, temb: torch.Tensor, num_frames: int, pooled: torch.Tensor | None = None,
                   text: torch.Tensor | None = None, text_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, D) time embedding → (B*T, D) per frame, plus the frame-index embedding when enabled: with
        it every frame's spatial layers know when they are (where a moving object must be), not only
        the temporal mixers; plus the frame-text embedding, an MLP of the prompt and the frame index
        together (where *this* prompt's object must be at *this* frame: 'left' and 'right' differ only
        in that interaction). Images (T = 1) get neither, so an image model stays itself."""
        temb = per_frame(temb, num_frames)
        if num_frames == 1:
            return temb
        index = torch.arange(num_frames, device=temb.device, dtype=torch.float32)
        clips = temb.shape[0] // num_frames
        if self.frame_embedding is not None:
            temb = temb + repeat(self.frame_embedding(index).to(temb.dtype), "t d -> (b t) d", b=clips)
        if self.frame_text_embedding is not None and pooled is not None:
            position = repeat(sinusoidal_embedding(index, self.frame_text_embedding.in_dim - pooled.shape[-1]),
                              "t d -> (b t) d", b=clips)
            features = torch.cat([per_frame(pooled, num_frames), position.to(pooled.dtype)], dim=-1)
            temb = temb + self.frame_text_embedding.forward_features(features).to(temb.dtype)
        if self.frame_text_product is not None and text is not None:
            temb = temb + self.frame_text_product(text, text_mask, num_frames).to(temb.dtype)
        return temb

    def frames_forward(self, h: torch.Tensor, ctx: BlockContext) -> torch.Tensor:
        """The 2D U-Net on frames: (B*T, C_in, H, W) → (B*T, C_out, H, W)."""
        h = self.conv_in(F.pixel_unshuffle(h, self.config.patch_size))
        skips = [h]
        for block in self.down_blocks:
            h, level_skips = self.run(block.down, h, ctx)
            skips += level_skips
        h = self.run(self.mid_block, h, ctx)
        for block in self.up_blocks:
            k = len(block.resnets)  # each up ResBlock consumes one skip, last pushed first
            h, skips = self.run(block.up, h, skips[-k:], ctx), skips[:-k]
        return F.pixel_shuffle(self.conv_out(F.silu(self.conv_norm_out(h))), self.config.patch_size)

    def run(self, fn, *args):
        """Call a block, recomputing it in backward when gradient checkpointing is on."""
        if self.config.gradient_checkpointing and torch.is_grad_enabled():
            return checkpoint(fn, *args, use_reentrant=False)
        return fn(*args)

    def check_size(self, height: int, width: int) -> None:
        factor = self.config.down_factor
        if height % factor or width % factor:
            raise ValueError(f"UNet input H×W = {height}×{width} is not divisible by the downsampling factor {factor}")

    def with_cond_frames(self, x: torch.Tensor, cond_frames: torch.Tensor | None) -> torch.Tensor:
        """Concatenate cond_frames (B, C_cond, [T,] H, W) to x (B, C, T, H, W) along channels."""
        expected = self.config.cond_channels
        got = 0 if cond_frames is None else cond_frames.shape[1]
        if got != expected:
            raise ValueError(f"UNet built with cond_channels={expected}, got cond_frames with {got} channels")
        if cond_frames is None:
            return x
        cond_frames = cond_frames if cond_frames.ndim == 5 else cond_frames[:, :, None]
        return torch.cat([x, cond_frames.to(x.dtype)], dim=1)

    def with_coordinates(self, x: torch.Tensor) -> torch.Tensor:
        """Append the (t, y, x) coordinate channels to x (B, C, T, H, W) when ``coord_channels`` is on.
        Each runs linearly from -1 to 1 over its axis; t is 0 for images (T = 1)."""
        if not self.config.coord_channels:
            return x
        b, _, t, h, w = x.shape
        axes = [torch.linspace(-1, 1, n, device=x.device) if n > 1 else torch.zeros(1, device=x.device)
                for n in (t, h, w)]
        grid = torch.stack(torch.meshgrid(*axes, indexing="ij"))  # (3, T, H, W)
        return torch.cat([x, grid.to(x.dtype).expand(b, -1, -1, -1, -1)], dim=1)

    def embed(self, c_noise: torch.Tensor, fps: torch.Tensor | None, height: int, width: int) -> torch.Tensor:
        """Time embedding (B, 4·ch0) of c_noise, plus the fps and resolution embeddings when enabled."""
        emb = self.time_embedding(c_noise)
        if self.fps_embedding is not None:
            if fps is None:
                raise ValueError("UNet built with fps_embedding=True needs fps (B,)")
            fps = torch.as_tensor(fps, device=c_noise.device).reshape(-1).expand_as(c_noise)
            emb = emb + self.fps_embedding(fps)
        if self.height_embedding is not None:
            emb = emb + self.height_embedding(torch.full_like(c_noise, height, dtype=torch.float32))
            emb = emb + self.width_embedding(torch.full_like(c_noise, width, dtype=torch.float32))
        return emb

    def load_image_weights(self, state_dict: dict[str, torch.Tensor]) -> list[str]:
        """Load an image U-Net state dict into this (possibly video / extra-conditioned) U-Net.

        Only temporal, fps and resolution layers may be missing (they keep their zero-output init);
        extra ``cond_channels`` input channels of conv_in are zero-filled. Returns the new keys.
        """
        state = dict(state_dict)
        state["conv_in.weight"] = pad_input_channels(state["conv_in.weight"], self.conv_in.in_channels)
        missing, unexpected = self.load_state_dict(state, strict=False)
        not_new = [k for k in missing if not is_new_layer_key(k)]
        if unexpected or not_new:
            raise KeyError(f"image checkpoint does not match: missing {not_new}, unexpected {unexpected}")
        return list(missing)

    @classmethod
    def from_diffusers(cls, path: str | Path, **overrides) -> UNet:
        """Load a diffusers ``UNet2DConditionModel`` folder (config.json + safetensors) without diffusers.

        ``overrides`` change the built config (e.g. ``temporal="shift"``); new layers start as no-ops.
        """
        path = Path(path)
        config = replace(config_from_diffusers(json.loads((path / "config.json").read_text())), **overrides)
        model = cls(config)
        model.load_image_weights(load_file(str(path / "diffusion_pytorch_model.safetensors")))
        return model


NEW_LAYER_PREFIXES = ("fps_embedding.", "height_embedding.", "width_embedding.", "frame_embedding.", "text_embedding.",
                      "frame_text_embedding.", "frame_text_product.")


def config_to_diffusers(config: UNetConfig, sample_size: int = 64) -> dict:
    """The diffusers ``UNet2DConditionModel`` config.json of this U-Net's image model (the inverse of
    :func:`config_from_diffusers`). Refused for what diffusers' image U-Net cannot express (a patch
    stem, extra input channels, embeddings that act on images); temporal layers and the frame-index
    embedding act on videos only and are left out."""
    unsupported = {k: getattr(config, k) for k in ("patch_size", "cond_channels", "fps_embedding",
                                                   "resolution_embedding", "text_embedding")
                   if getattr(config, k) != getattr(UNetConfig, k)}
    if unsupported:
        raise ValueError(f"a diffusers UNet2DConditionModel cannot express {unsupported}")
    levels = config.attention_levels
    heads = [config.level_heads(i) for i in range(len(levels))]
    return {"_class_name": "UNet2DConditionModel", "sample_size": sample_size, "in_channels": config.in_channels,
            "out_channels": config.out_channels, "block_out_channels": list(config.block_channels),
            "layers_per_block": config.layers_per_block,
            "down_block_types": ["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in levels],
            "up_block_types": ["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(levels)],
            "attention_head_dim": heads[0] if len(set(heads)) == 1 else heads, "cross_attention_dim": config.text_dim,
            "norm_num_groups": config.norm_groups, "use_linear_projection": config.linear_projection,
            **DIFFUSERS_REQUIRED}


def save_diffusers(unet: UNet, path: str | Path, sample_size: int = 64) -> Path:
    """Write the image model of ``unet`` as a diffusers ``UNet2DConditionModel`` folder (config.json +
    diffusion_pytorch_model.safetensors) that ``UNet2DConditionModel.from_pretrained`` loads and that
    computes the same function on images."""
    from safetensors.torch import save_file

    from cinediff.weights import (
        CHECKSUM_KEY,
        atomic_write,
        atomic_write_json,
        tensors_sha256,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = config_to_diffusers(unet.config, sample_size)
    weights = {k: v.detach().contiguous().cpu() for k, v in unet.state_dict().items() if not is_new_layer_key(k)}
    metadata = {"format": "pt", CHECKSUM_KEY: tensors_sha256(weights)}  # plain strings, as diffusers writes them
    atomic_write(path / "diffusion_pytorch_model.safetensors", lambda tmp: save_file(weights, tmp, metadata=metadata))
    atomic_write_json(path / "config.json", config)
    return path


def is_new_layer_key(key: str) -> bool:
    """Keys of layers an image checkpoint lacks: temporal mixers and extra embeddings."""
    return ".temporal." in key or ".attn2.frame_" in key or key.startswith(NEW_LAYER_PREFIXES)


def pad_input_channels(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Zero-extend a conv weight (O, I, k, k) to ``in_channels`` inputs (new inputs start unused)."""
    extra = in_channels - weight.shape[1]
    return F.pad(weight, (0, 0, 0, 0, 0, extra)) if extra > 0 else weight


def inflate_unet(image_unet: UNet, **changes) -> tuple[UNet, list[str]]:
    """A video variant of ``image_unet`` (e.g. ``temporal="shift"``) with its weights; returns (unet, new keys)."""
    video = UNet(replace(image_unet.config, **changes))
    new_keys = video.load_image_weights(image_unet.state_dict())
    reference = next(image_unet.parameters())
    return video.to(reference.device, reference.dtype), new_keys


# diffusers config values this U-Net reproduces; anything else is rejected rather than silently ignored.
DIFFUSERS_REQUIRED = dict(
    center_input_sample=False, flip_sin_to_cos=True, freq_shift=0, mid_block_type="UNetMidBlock2DCrossAttn",
    only_cross_attention=False, dropout=0.0, downsample_padding=1, mid_block_scale_factor=1, act_fn="silu",
    norm_eps=1e-5,
    transformer_layers_per_block=1, reverse_transformer_layers_per_block=None, encoder_hid_dim=None,
    num_attention_heads=None, dual_cross_attention=False, class_embed_type=None, addition_embed_type=None,
    num_class_embeds=None, resnet_time_scale_shift="default", resnet_skip_time_act=False, resnet_out_scale_factor=1.0,
    time_embedding_type="positional", time_embedding_dim=None, time_embedding_act_fn=None, timestep_post_act=None,
    time_cond_proj_dim=None, conv_in_kernel=3, conv_out_kernel=3, attention_type="default", cross_attention_norm=None,
)


def config_from_diffusers(cfg: dict) -> UNetConfig:
    """UNetConfig equivalent to a diffusers ``UNet2DConditionModel`` config.json dict.

    ``upcast_attention`` is ignored: SDPA keeps softmax statistics in fp32 anyway.
    """
    same = lambda v: v[0] if isinstance(v, list) and len(set(v)) == 1 else v  # noqa: E731  [1, 1, 1] → 1
    unsupported = {k: cfg[k] for k, v in DIFFUSERS_REQUIRED.items() if k in cfg and same(cfg[k]) != v}
    down, up = cfg["down_block_types"], cfg["up_block_types"]
    levels = tuple(t == "CrossAttnDownBlock2D" for t in down)
    if set(down) - {"CrossAttnDownBlock2D", "DownBlock2D"} or list(up) != [
        "CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(levels)
    ]:
        unsupported["block_types"] = (down, up)
    if unsupported:
        raise ValueError(f"unsupported diffusers UNet2DConditionModel options: {unsupported}")
    heads = cfg.get("attention_head_dim", 8)
    return UNetConfig(
        in_channels=cfg["in_channels"],
        out_channels=cfg["out_channels"],
        block_channels=tuple(cfg["block_out_channels"]),
        layers_per_block=cfg["layers_per_block"],
        attention_levels=levels,
        heads=heads if isinstance(heads, int) else tuple(heads),
        text_dim=cfg["cross_attention_dim"],
        norm_groups=cfg["norm_num_groups"],
        linear_projection=cfg.get("use_linear_projection", False),
    )

