"""FIT — Far-reaching Interleaved Transformer, the Snap Video backbone (Menapace et al. 2024, §4).

After RIN (Jabri et al. 2023) and FIT (Chen & Li 2023). A video is cut into patch tokens
(patch 1×4×4 over T×H×W) and the patches of ``frames_per_group`` consecutive frames form a
group. A fixed set of ``num_latents`` latent tokens, split evenly over the groups, does the
heavy computation, so the cost grows with the number of latents rather than with T·H·W.
Each block:

1. latents ← cross-attention read of the conditioning tokens (c_noise, fps, text);
2. **read**:    each group's latents cross-attend to that group's patch tokens; + MLP;
3. **compute**: L self-attention layers over all latents (the only cross-group mixing);
4. **write**:   each group's patch tokens cross-attend to that group's latents; + MLP.

Output: patch tokens → LayerNorm → linear (zero-init) → unpatchify.

Latent self-conditioning (RIN §3.4; Snap Video trains with probability 0.9): the initial
latents get a zero-init projection of the detached final latents of another pass
(``prev_latents``; ``None`` ≡ zeros). The backbone holds no state:

- training mode: per sample with probability ``self_conditioning_prob`` a first gradient-free
  pass supplies ``prev_latents`` (the others get zeros), then the real pass (``forward``);
- eval mode: one pure pass with the ``prev_latents`` given; ``denoise`` also returns the final
  latents. Sampling carries them from call to call explicitly with the denoiser transform
  :class:`cinediff.samplers.SelfConditioning` (via ``Precond.forward_with_latents``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from .embeddings import TimestepEmbedding
from .layers import AttentionLayer, FeedForwardLayer, TransformerLayer, zero_init


@dataclass
class FITConfig:
    in_channels: int = 3  # channels of x
    out_channels: int = 3  # channels of the output
    cond_channels: int = 0  # channels of cond_frames, concatenated to x (0 = none)
    patch_size: tuple[int, int, int] = (1, 4, 4)  # over (T, H, W)
    dim: int = 256  # patch-token width
    latent_dim: int = 512  # latent-token width
    num_latents: int = 128  # latent tokens, split evenly over the groups (Snap Video: 512+)
    frames_per_group: int = 4  # a group = the patches of this many consecutive frames
    num_blocks: int = 4  # FIT blocks (read, compute, write)
    self_attn_layers_per_block: int = 4  # L global latent self-attention layers per block
    dim_head: int = 64  # attention head width; heads = width // dim_head
    ff_mult: int = 4  # MLP expansion
    text_dim: int = 384  # text-encoder width (all-MiniLM-L6-v2)
    use_fps: bool = True  # a frame-rate conditioning token (when fps is given)
    time_embed_dim: int = 256  # sinusoidal features of c_noise and fps
    base_frames: int = 16  # T the learned positional embeddings are stored at
    base_size: tuple[int, int] = (64, 64)  # (H, W) likewise; other T/H/W are interpolated
    self_conditioning_prob: float = 0.9  # training probability of latent self-conditioning
    pos_init_std: float = 0.02  # init std of the learned patch positions (patch tokens of unit-variance noise: ~0.6)

    def __post_init__(self):
        if self.frames_per_group % self.patch_size[0]:
            raise ValueError(f"FIT: frames_per_group={self.frames_per_group} not divisible by patch_size[0]")
        for name, size, p in [("base_frames", self.base_frames, self.patch_size[0]),
                              ("base_size[0]", self.base_size[0], self.patch_size[1]),
                              ("base_size[1]", self.base_size[1], self.patch_size[2])]:  # fmt: skip
            if size % p:
                raise ValueError(f"FIT: {name}={size} not divisible by its patch size {p}")

    def scaled(self, width: float = 1.0, depth: float = 1.0) -> FITConfig:
        """A copy with both widths × ``width`` (multiples of dim_head) and blocks × ``depth``.

        Parameters grow about as width² · depth, so ``width = sqrt(target / base count)``.
        """
        round_width = lambda d: max(self.dim_head, round(d * width / self.dim_head) * self.dim_head)  # noqa: E731
        blocks = max(1, round(self.num_blocks * depth))
        return replace(self, dim=round_width(self.dim), latent_dim=round_width(self.latent_dim), num_blocks=blocks)


def interpolate_embedding(emb: torch.Tensor, size: int) -> torch.Tensor:
    """A learned 1-D positional embedding (N, D) linearly resampled to (size, D), end points kept."""
    if emb.shape[0] == size:
        return emb
    emb = F.interpolate(rearrange(emb, "n d -> 1 d n"), size=size, mode="linear", align_corners=True)
    return rearrange(emb, "1 d n -> n d")


def check_divisible(name: str, size: int, by: int, what: str):
    if size % by:
        raise ValueError(f"FIT: {name}={size} is not divisible by {what}={by}")


class FITBlock(nn.Module):
    """Condition read, grouped read, L global latent self-attention layers, grouped write."""

    def __init__(self, c: FITConfig):
        super().__init__()
        self.read_cond = AttentionLayer(c.latent_dim, c.latent_dim, c.dim_head)
        self.read = AttentionLayer(c.latent_dim, c.dim, c.dim_head)
        self.read_ff = FeedForwardLayer(c.latent_dim, c.ff_mult)
        layers = [TransformerLayer(c.latent_dim, c.dim_head, c.ff_mult) for _ in range(c.self_attn_layers_per_block)]
        self.compute = nn.ModuleList(layers)
        self.write = AttentionLayer(c.dim, c.latent_dim, c.dim_head)
        self.write_ff = FeedForwardLayer(c.dim, c.ff_mult)

    def forward(self, patches, latents, cond, cond_mask):
        """patches: (B·G, P, dim) grouped; latents: (B, N, latent_dim) group-major; cond: (B, M, latent_dim)."""
        groups = patches.shape[0] // latents.shape[0]
        latents = self.read_cond(latents, cond, cond_mask)
        latents = rearrange(latents, "b (g n) d -> (b g) n d", g=groups)
        latents = self.read_ff(self.read(latents, patches))
        latents = rearrange(latents, "(b g) n d -> b (g n) d", g=groups)
        for layer in self.compute:
            latents = layer(latents)
        grouped = rearrange(latents, "b (g n) d -> (b g) n d", g=groups)
        patches = self.write_ff(self.write(patches, grouped))
        return patches, latents


class FIT(nn.Module):
    """FIT backbone ``F(x, c_noise, text, text_mask, fps, cond_frames)`` (contract in ``backbones/__init__``).

    x: (B, C, T, H, W) video or (B, C, H, W) image (T = 1); returns (B, out_channels, T, H, W)
    (or 4-D). T, H, W must be divisible by ``patch_size``; groups hold
    ``min(frames_per_group, T)`` frames, which must divide T, and the group count must divide
    ``num_latents``.
    """

    def __init__(self, config: FITConfig | None = None):
        super().__init__()
        c = self.config = config or FITConfig()
        pt, ph, pw = c.patch_size
        self.to_patch_tokens = nn.Linear((c.in_channels + c.cond_channels) * pt * ph * pw, c.dim)
        self.pos_t = nn.Parameter(torch.randn(c.base_frames // pt, c.dim) * c.pos_init_std)
        self.pos_h = nn.Parameter(torch.randn(c.base_size[0] // ph, c.dim) * c.pos_init_std)
        self.pos_w = nn.Parameter(torch.randn(c.base_size[1] // pw, c.dim) * c.pos_init_std)
        self.latents = nn.Parameter(torch.randn(c.num_latents, c.latent_dim) * 0.02)
        # LayerNorm without affine and a bias-free zero-init linear: prev_latents = 0 adds exactly 0.
        self.prev_latents_proj = nn.Sequential(
            nn.LayerNorm(c.latent_dim, elementwise_affine=False),
            zero_init(nn.Linear(c.latent_dim, c.latent_dim, bias=False)),
        )
        self.noise_embed = TimestepEmbedding(c.time_embed_dim, c.latent_dim)
        self.fps_embed = TimestepEmbedding(c.time_embed_dim, c.latent_dim) if c.use_fps else None
        self.text_proj = nn.Linear(c.text_dim, c.latent_dim)
        self.blocks = nn.ModuleList(FITBlock(c) for _ in range(c.num_blocks))
        self.norm_out = nn.LayerNorm(c.dim)
        self.to_out = zero_init(nn.Linear(c.dim, c.out_channels * pt * ph * pw))

    # Tokens in and out.
    def positional_embedding(self, t: int, h: int, w: int) -> torch.Tensor:
        """Factorised learned positions for a (t, h, w) patch grid → (t, h, w, dim); resampled off the base size."""
        tables = (self.pos_t, self.pos_h, self.pos_w)
        pos_t, pos_h, pos_w = (interpolate_embedding(e, n) for e, n in zip(tables, (t, h, w)))
        return pos_t[:, None, None] + pos_h[None, :, None] + pos_w[None, None, :]

    def group_frames(self, t: int) -> int:
        """Patch frames per group for a video of t patch frames (short clips and images: one group)."""
        frames = min(self.config.frames_per_group // self.config.patch_size[0], t)
        check_divisible("T", t * self.config.patch_size[0], frames * self.config.patch_size[0], "frames_per_group")
        check_divisible("num_latents", self.config.num_latents, t // frames, "the number of groups")
        return frames

    def patchify(self, video: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """(B, C, T, H, W) → grouped patch tokens (B·G, P, dim) with positions, and the grid sizes."""
        for i, (name, size, p) in enumerate(zip("THW", video.shape[2:], self.config.patch_size)):
            check_divisible(name, size, p, f"patch_size[{i}]")
        pt, ph, pw = self.config.patch_size
        tokens = rearrange(video, "b c (t pt) (h ph) (w pw) -> b t h w (c pt ph pw)", pt=pt, ph=ph, pw=pw)
        tokens = self.to_patch_tokens(tokens) + self.positional_embedding(*tokens.shape[1:4])
        grid = dict(tg=self.group_frames(tokens.shape[1]), h=tokens.shape[2], w=tokens.shape[3])
        return rearrange(tokens, "b (g tg) h w d -> (b g) (tg h w) d", tg=grid["tg"]), grid

    def unpatchify(self, patches: torch.Tensor, batch: int, grid: dict) -> torch.Tensor:
        """Grouped patch tokens (B·G, P, dim) → (B, out_channels, T, H, W)."""
        out = self.to_out(self.norm_out(patches))
        pt, ph, pw = self.config.patch_size
        pattern = "(b g) (tg h w) (c pt ph pw) -> b c (g tg pt) (h ph) (w pw)"
        return rearrange(out, pattern, b=batch, pt=pt, ph=ph, pw=pw, **grid)

    def condition_tokens(self, c_noise, text=None, text_mask=None, fps=None):
        """Tokens the latents read first: [c_noise, fps?, text...] (B, M, latent_dim) and key mask (B, M) or None."""
        tokens = [self.noise_embed(c_noise)[:, None]]
        if fps is not None and self.fps_embed is not None:
            fps = torch.as_tensor(fps, device=c_noise.device).float().expand(c_noise.shape[0])
            tokens.append(self.fps_embed(fps)[:, None])
        scalars = len(tokens)
        if text is not None:
            tokens.append(self.text_proj(text))
        mask = None if text is None or text_mask is None else F.pad(text_mask.bool(), (scalars, 0), value=True)
        return torch.cat(tokens, dim=1), mask

    # One pass of the network.
    def denoise(self, x, c_noise, text=None, text_mask=None, fps=None, cond_frames=None, prev_latents=None):
        """One network pass → (output shaped like x with out_channels, final latents (B, N, latent_dim))."""
        image = x.ndim == 4
        video = x[:, :, None] if image else x
        if self.config.cond_channels:
            if cond_frames is None:
                raise ValueError("FIT: cond_frames is required when cond_channels > 0")
            video = torch.cat([video, cond_frames[:, :, None] if image else cond_frames], dim=1)
        patches, grid = self.patchify(video)
        latents = repeat(self.latents, "n d -> b n d", b=x.shape[0])
        if prev_latents is not None:
            latents = latents + self.prev_latents_proj(prev_latents)
        cond, cond_mask = self.condition_tokens(c_noise, text, text_mask, fps)
        for block in self.blocks:
            patches, latents = block(patches, latents, cond, cond_mask)
        out = self.unpatchify(patches, x.shape[0], grid)
        return (out[:, :, 0] if image else out), latents

    # Latent self-conditioning.
    def forward(self, x, c_noise, text=None, text_mask=None, fps=None, cond_frames=None, prev_latents=None):
        """The backbone: x (B, C, [T,] H, W), c_noise (B,) → (B, out_channels, [T,] H, W). See module docstring."""
        cond = dict(text=text, text_mask=text_mask, fps=fps, cond_frames=cond_frames)
        if prev_latents is None and self.training:
            prev_latents = self.draw_prev_latents(x, c_noise, **cond)
        return self.denoise(x, c_noise, prev_latents=prev_latents, **cond)[0]

    def draw_prev_latents(self, x, c_noise, generator=None, **cond) -> torch.Tensor | None:
        """Training (RIN Alg. 1): detached latents of a gradient-free first pass for a Bernoulli(p)
        subset of samples, zeros elsewhere."""
        p = self.config.self_conditioning_prob
        if p <= 0:
            return None
        device = generator.device if generator is not None else x.device
        use = torch.rand(x.shape[0], generator=generator, device=device).to(x.device) < p
        if not use.any():
            return None
        with torch.no_grad():
            latents = self.denoise(x, c_noise, **cond)[1]
        return latents * use[:, None, None]

    @property
    def self_conditioned(self) -> bool:
        """Trained with self-conditioning, so sampling should feed it the previous call's latents."""
        return self.config.self_conditioning_prob > 0
