"""Phrase-wise prompt encoding: each " and "-joined phrase of a prompt through the text encoder on its own.

In "a white disc moving down and a red triangle shrinking" a contextual encoder mixes the two
objects into every token state, so a pixel that looks up its object's words finds both motions.
Encoded one phrase at a time (Structured Diffusion Guidance, Feng et al. 2023, encodes noun
phrases separately for the same reason: attribute binding), each phrase's token states carry only
its own object: the "down" state knows it belongs to the white disc. The token sequence the
backbone receives is the phrases' real tokens one after another ([CLS] a white disc ... [SEP]
[CLS] a red triangle ... [SEP]), padded to the encoder's length; a one-phrase prompt and the empty
prompt encode exactly as before.

The split is textual (" and " between phrases), made for captions that list objects; a prompt
such as "a black and white cat" is split too. Only models trained with ``text_phrases`` use it.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from cinediff.text.encoders import TextEmbedding, TextEncoder

PHRASE_SEPARATOR = re.compile(r"\s+and\s+")


def split_phrases(prompt: str) -> list[str]:
    """The phrases of a prompt: its parts between " and " (stripped, empty parts dropped); [prompt]
    when there is none (the empty prompt stays [""])."""
    phrases = [p.strip() for p in PHRASE_SEPARATOR.split(prompt.strip())]
    return [p for p in phrases if p] or [prompt]


def join_phrases(embedding: TextEmbedding, counts: list[int], max_length: int, normalize: bool) -> TextEmbedding:
    """Concatenate the real tokens of consecutive phrase embeddings into one row per prompt.

    ``embedding``: the phrases, ``counts[i]`` of them for prompt i, in order. Returns tokens
    (B, max_length, D) (zeros past the real tokens; a row is cut at ``max_length``), mask and ids (B, max_length)
    and pooled (B, D): the mean of the phrases' pooled vectors, L2-normalised when ``normalize``."""
    dim = embedding.tokens.shape[-1]
    tokens = embedding.tokens.new_zeros(len(counts), max_length, dim)
    mask = torch.zeros(len(counts), max_length, dtype=torch.bool, device=embedding.tokens.device)
    ids = embedding.ids.new_zeros(len(counts), max_length)
    pooled = []
    start = 0
    for row, count in enumerate(counts):
        parts = range(start, start + count)
        real = torch.cat([embedding.tokens[j][embedding.mask[j]] for j in parts])[:max_length]
        tokens[row, : len(real)], mask[row, : len(real)] = real, True
        ids[row, : len(real)] = torch.cat([embedding.ids[j][embedding.mask[j]] for j in parts])[:max_length]
        mean = embedding.pooled[start : start + count].mean(0)
        pooled.append(F.normalize(mean, dim=-1) if normalize and count > 1 else mean)  # one phrase: its own, bit for bit
        start += count
    return TextEmbedding(tokens, mask, torch.stack(pooled), ids)


class PhraseEncoder(nn.Module):
    """A :class:`TextEncoder` that encodes each phrase of a prompt on its own (:func:`split_phrases`)
    and joins their token states (:func:`join_phrases`). Wraps, and shares, the given encoder: its
    model, its length, its cache (now of phrases, which repeat far more often than prompts)."""

    phrases = True

    def __init__(self, encoder: TextEncoder):
        super().__init__()
        self.encoder = encoder
        self.dim, self.max_length = encoder.dim, encoder.max_length

    @property
    def device(self) -> torch.device:
        return self.encoder.device

    def train(self, mode: bool = True) -> PhraseEncoder:
        return super().train(False)

    def encode(self, prompts: list[str] | str) -> TextEmbedding:
        """Prompts → ``TextEmbedding`` (B, max_length, D) of their phrases' token states, one after another."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        phrases = [split_phrases(p) for p in prompts]
        flat = [phrase for parts in phrases for phrase in parts]
        return join_phrases(self.encoder.encode(flat), [len(parts) for parts in phrases], self.max_length,
                            self.encoder.normalize)

    def empty(self, batch_size: int = 1) -> TextEmbedding:
        return self.encode([""] * batch_size)

    def save_pretrained(self, out_dir):
        return self.encoder.save_pretrained(out_dir)
