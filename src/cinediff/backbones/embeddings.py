"""Embeddings shared by every backbone: sinusoidal features of noise level, frame rate, size."""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_embedding(
    t: torch.Tensor, dim: int, flip_sin_to_cos: bool = True, freq_shift: float = 0.0, max_period: float = 10000.0
) -> torch.Tensor:
    """Transformer-style features of a scalar per sample: ``(B,) -> (B, dim)`` in fp32.

    Same formula as diffusers' ``get_timestep_embedding`` (``flip_sin_to_cos=True,
    downscale_freq_shift=0`` is Stable Diffusion's), so ported weights see the same inputs.
    """
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / (half - freq_shift)
    args = t.float()[:, None] * exponent.exp()[None]
    emb = torch.cat([args.sin(), args.cos()], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2:
        emb = nn.functional.pad(emb, (0, 1))
    return emb


class TimestepEmbedding(nn.Module):
    """Sinusoidal features → 2-layer MLP (diffusers ``TimestepEmbedding`` layout: linear_1, SiLU, linear_2)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.in_dim = in_dim
        self.linear_1 = nn.Linear(in_dim, out_dim)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(out_dim, out_dim)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """t: (B,) scalar condition (c_noise, fps, ...) → (B, out_dim)."""
        return self.forward_features(sinusoidal_embedding(t, self.in_dim))

    def forward_features(self, features: torch.Tensor) -> torch.Tensor:
        """The MLP alone on given features (B, in_dim), e.g. a pooled text state → (B, out_dim)."""
        return self.linear_2(self.act(self.linear_1(features.to(self.linear_1.weight.dtype))))


def clip_positions(num_frames: int, device=None) -> torch.Tensor:
    """Where each frame lies in its clip, ``(T,) -> (T, 8)``: s = 2t/(T − 1) − 1 in [−1, 1], and
    1, s, sin/cos(kπs/2) for k = 1..3 — smooth in s, so a linear motion is a linear feature."""
    s = torch.linspace(-1.0, 1.0, num_frames, device=device) if num_frames > 1 else torch.zeros(1, device=device)
    waves = [f(k * math.pi * s / 2) for k in (1, 2, 3) for f in (torch.sin, torch.cos)]
    return torch.stack([torch.ones_like(s), s, *waves], dim=-1)


class FrameTextProduct(nn.Module):
    """The prompt × frame-position interaction as one bilinear term of each frame's time embedding:
    ``W_out((W_text · LN(pooled)) ⊙ (W_frame · clip_positions))``.

    'moving left' and 'moving right' (and 'growing' and 'shrinking') give the same time-averaged
    clip: only the product of the prompt and the frame's place in the clip tells them apart. An
    MLP of the two concatenated has to build that product from its nonlinearity, from inputs of very
    different sizes (the pooled MiniLM state has norm 1); here it is one multiplication of two
    normalised factors. ``W_out`` starts at zero, so a model gains it as a no-op.


    With ``attention_pooling`` the prompt enters as an attention-weighted mean of its token states
    (one learned query, zero at first: the plain mean), so the product can come to read the motion
    word's own state, where 'left' and 'right' differ far more than in the mean over all tokens.
    The scores are ``LN(token) · q`` without the usual 1/√D: a query of unit norm along one
    token's normalised state already gives that token a score of √D (≈ 20 for MiniLM) and most of
    the weight. With ``token · q / √D`` (raw MiniLM states, norm ~1-10) Adam's ~lr-sized steps
    moved the weights off the plain mean far too slowly: after 700 steps at lr 5e-4 every token of
    a prompt still had 0.14 ± 0.01 of the weight.

    ``heads`` > 1 adds ``heads - 1`` more queries whose pooled prompts meet only the *changing* part
    of the frame position: ``W_out(... + (W_extra · [LN(pooled_2), ...]) ⊙ (W_change · centred
    positions))``, the positions minus their clip average, so this term averages to zero over a
    clip. One query cannot read the colour word and the motion word at once: the shipped stage-2
    query gave 'red' 0.34 and 'left' 0.14 of 'a red ball moving left'. Extra heads that met the
    full positions (with their constant) went the same way (all three read the colour words,
    after 900 steps 'red' 0.39-0.49, 'left' 0.06-0.09): colour is what lowers the loss most, and
    a constant lets the product carry it. A term that only changes across frames has no use for a
    clip's (constant) colour on its own; measured, its queries still did not go to the motion word
    (of 'a red ball moving left', after 500 steps 'red' 0.24-0.39, 'left' 0.10-0.12; after 2,200
    mostly '[CLS]', the sentence's summary state, 0.52-0.97, 'left' <= 0.11), while the first
    query reads the motion word more (0.20) than before. The extra queries start small and random (identical ones would stay identical), ``W_extra``
    at zero, so a one-head model's weights load unchanged (``query``, ``text``, ``frame`` keep
    their shapes) and it starts as exactly that model.
    """

    def __init__(self, text_dim: int, out_dim: int, rank: int = 64, attention_pooling: bool = False, heads: int = 1):
        super().__init__()
        if heads < 1 or (heads > 1 and not attention_pooling):
            raise ValueError(f"frame_text_heads = {heads}: needs >= 1, and frame_text_attention for more than one")
        self.query = nn.Parameter(torch.zeros(text_dim)) if attention_pooling else None
        self.norm = nn.LayerNorm(text_dim, elementwise_affine=False)
        self.text = nn.Linear(text_dim, rank)
        self.frame = nn.Linear(8, rank)
        self.out = nn.Linear(rank, out_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.extra_queries = nn.Parameter(0.02 * torch.randn(heads - 1, text_dim)) if heads > 1 else None
        self.extra_text = nn.Linear((heads - 1) * text_dim, rank, bias=False) if heads > 1 else None
        self.change = nn.Linear(8, rank, bias=False) if heads > 1 else None
        if self.extra_text is not None:
            nn.init.zeros_(self.extra_text.weight)

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor | None, query: torch.Tensor | None = None) -> torch.Tensor:
        """(B, L, D) token states → (B, D): their mean, or with ``attention_pooling`` softmax(LN(k)·q)-weighted
        (q: ``query``, the first head's unless given)."""
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device) if mask is None else mask.bool()
        query = self.query if query is None else query
        scores = self.norm(tokens) @ query.to(tokens.dtype) if query is not None \
            else torch.zeros(tokens.shape[:2], dtype=tokens.dtype, device=tokens.device)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        return (weights[..., None] * tokens).sum(1)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None, num_frames: int) -> torch.Tensor:
        """tokens: (B, L, D_text), mask (B, L) → (B·T, out_dim), frames of a clip consecutive (the U-Net's (b t) order)."""
        tokens = tokens.to(self.text.weight.dtype)
        positions = clip_positions(num_frames, tokens.device).to(tokens.dtype)  # (T, 8)
        text = self.text(self.norm(self.pool(tokens, mask)))  # (B, R)
        product = text[:, None] * self.frame(positions)[None]  # (B, T, R)
        if self.extra_queries is not None:
            extra = self.extra_text(torch.cat([self.norm(self.pool(tokens, mask, q)) for q in self.extra_queries], -1))
            product = product + extra[:, None] * self.change(positions - positions.mean(0))[None]
        return self.out(product.flatten(0, 1))


class TokenEmbedding(nn.Module):
    """A learned vector per tokenizer id, added to the frozen text encoder's token states:
    ``tokens + gain · W · E[ids]`` with ``E`` (vocab, rank) and ``W`` (rank, D_text).

    MiniLM's states of 'a red ball moving left' and '... right' have cosine 0.97 (the words' own
    states 0.77): the difference the backbone must learn to read is small beside what the two
    sentences share. A learned row per token gives each word of the training captions a direction
    of its own. ``E`` starts at zero, so a model gains it as a no-op; only rows of ids that occur
    in training get a gradient, so a word the captions never used (a reworded prompt's) stays at
    zero and reads as the text encoder's state alone. ``rank`` keeps the table small (MiniLM's
    30,522 ids × 32 + 32 × 384: 1.0 M parameters instead of 11.7 M).

    ``gain``: Adam moves each entry of ``E`` by about the learning rate per step whatever its
    gradient's size, so the gain sets how fast the added vectors grow against MiniLM's token states
    (norm 7-10). At gain 1, 200 steps of lr 3e-4 from the shipped default added vectors of norm
    0.02-0.07 ('left' and 'right' already opposite, cosine -0.81, but 150× smaller than the states).

    ``segments`` > 0 adds BERT's segment embeddings over the prompt's phrases: a learned vector (full
    width, zero-initialised) per phrase index, the index counting the ``separator_id`` tokens before
    a token (MiniLM's id of "and", the word ``text.split_phrases`` splits on; phrases past the last
    vector share it). Two objects' words then differ by which phrase they are in, not only by what
    MiniLM's context mixed into them: a way for attention to bind a motion word to its object's.

    ``phrase_context`` adds to every token the mean of its phrase's learned rows, through a
    projection of its own (``W_ctx``, zero at first): ``gain · (W · E[id] + W_ctx · mean_phrase E)``.
    Phrases are counted as for ``segments`` (the separator opens the next one); padding (``pad_id``)
    is left out of the mean. Cross-attention reads one hop: a pixel whose query matches "red" gets
    the value of "red". Binding a motion to its object takes two: "red" → the phrase it is in →
    that phrase's shape and motion words; segment marks do not give the second hop (measured: no
    gain). With the phrase's mean in every token's key and value, the "red" token itself carries
    "box" and "moving left", and the other phrase's tokens do not, so one hop finds them.
    """

    reads_token_ids = True  # text.reads_token_ids: conditioning must carry text_ids

    def __init__(self, vocab_size: int, text_dim: int, rank: int = 32, gain: float = 1.0, segments: int = 0,
                 separator_id: int = 1998, phrase_context: bool = False, pad_id: int = 0):
        super().__init__()
        self.gain, self.separator_id, self.pad_id = gain, separator_id, pad_id
        self.table = nn.Embedding(vocab_size, rank)
        nn.init.zeros_(self.table.weight)
        self.proj = nn.Linear(rank, text_dim, bias=False)
        self.segments = nn.Embedding(segments, text_dim) if segments else None
        if self.segments is not None:
            nn.init.zeros_(self.segments.weight)
        self.context = nn.Linear(rank, text_dim, bias=False) if phrase_context else None
        if self.context is not None:
            nn.init.zeros_(self.context.weight)

    def phrase_index(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, L) token ids → (B, L) phrase index: the separators before each token (the separator
        opens the next phrase)."""
        return (ids == self.separator_id).long().cumsum(1)

    def segment_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, L) token ids → (B, L) :meth:`phrase_index`, at most ``segments - 1``."""
        return self.phrase_index(ids).clamp(max=self.segments.num_embeddings - 1)

    def phrase_means(self, rows: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """rows (B, L, R) of ids (B, L) → (B, L, R): at each token, the mean of the rows of the
        non-padding tokens in its phrase (:meth:`phrase_index`)."""
        phrase = self.phrase_index(ids)  # (B, L)
        member = nn.functional.one_hot(phrase, ids.shape[1]).to(rows.dtype)  # (B, L, P)
        member = member * (ids != self.pad_id)[..., None].to(rows.dtype)
        sums = member.transpose(1, 2) @ rows  # (B, P, R)
        means = sums / member.sum(1)[..., None].clamp(min=1)
        return means.gather(1, phrase[..., None].expand(-1, -1, rows.shape[-1]))

    def forward(self, tokens: torch.Tensor, ids: torch.Tensor | None) -> torch.Tensor:
        """tokens: (B, L, D_text) float, ids: (B, L) int → (B, L, D_text)."""
        if ids is None:
            raise ValueError("this model has learned token embeddings: its text conditioning needs text_ids "
                             "(text.text_condition(..., ids=True))")
        if ids.shape != tokens.shape[:2]:
            raise ValueError(f"text_ids {tuple(ids.shape)} do not match the token states {tuple(tokens.shape[:2])}")
        rows = self.table(ids)
        added = self.proj(rows)
        if self.context is not None:
            added = added + self.context(self.phrase_means(rows, ids))
        added = self.gain * added
        if self.segments is not None:
            added = added + self.segments(self.segment_ids(ids))
        return tokens + added.to(tokens.dtype)
