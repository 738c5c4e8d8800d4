"""Colour names a model was never trained on, read as the nearest colour it was.

A text encoder places the colour words of a model's training captions where training put them,
but not unseen ones: MiniLM's token states put "crimson", "azure" or "teal" near no colour in
particular (a linear probe trained on 80 colour words reads 16 held-out ones at 0.22, ``cinediff
bench diagnose``), so a model trained on "red" draws "crimson" in any colour. Named-colour tables
know better: the xkcd colour survey (949 names, Munroe 2010) and CSS Color 4 (148), both in
matplotlib, give each name an sRGB value. :class:`ColorNames` rewrites each word of a prompt that
names a colour but is not one of the model's words into the model's colour word nearest in CIE
Lab (ΔE 1976): "a crimson sphere" → "a red sphere". Two-word names ("navy blue", "dark red") are
read as one colour; "-y" / "-en" / "-ish" forms as their stem ("snowy", "golden").

A table lookup, not a learnt reading: colour names only. Shape and motion words in other wording
stay as they are (no table grounds them), and a colour name used as a noun ("the sky") is read as
its colour too; generation reports the prompt as read, so a user sees every rewrite.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

import numpy as np

STEM_ENDINGS = ("y", "en", "ish")  # "snowy" → snow, "golden" → gold, "tealish" → teal
NOT_ALONE = frozenset({"dark", "pale", "light"})  # xkcd names these alone; before a colour word they modify it
WORD = re.compile(r"[A-Za-z]+")


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of sRGB colours ``rgb`` (..., 3) in 0..255 -> (..., 3)."""
    rgb = np.asarray(rgb, dtype=np.float64) / 255
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    to_xyz = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                       [0.0193339, 0.1191920, 0.9503041]])
    xyz = linear @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


@lru_cache(maxsize=1)
def named_colors() -> dict[str, tuple[int, int, int]]:
    """Lower-case colour names ("crimson", "navy blue") -> sRGB in 0..255: CSS Color 4's, then the xkcd
    survey's (which win where both name a colour: its names are what people call the colour)."""
    from matplotlib import colors

    def rgb(hex_code: str) -> tuple[int, int, int]:
        return tuple(round(255 * c) for c in colors.to_rgb(hex_code))

    table = {name: rgb(code) for name, code in colors.CSS4_COLORS.items()}
    return table | {name.removeprefix("xkcd:"): rgb(code) for name, code in colors.XKCD_COLORS.items()}


class ColorNames:
    """``reader(prompt) -> prompt`` with unknown colour names replaced by the nearest colour word of
    ``palette`` (the model's colour words -> their sRGB in 0..255). ``known``: every word of the model's
    training captions; they are never rewritten (its own "ruby" stays "ruby")."""

    def __init__(self, palette: Mapping[str, tuple[int, int, int]], known: Iterable[str]):
        self.words = list(palette)
        self.lab = srgb_to_lab(np.array([palette[w] for w in self.words]))
        self.known = {w.lower() for w in known} | set(self.words)
        self.table = named_colors()

    def nearest(self, rgb: tuple[int, int, int]) -> str:
        """The palette word nearest to sRGB ``rgb`` in CIE Lab."""
        return self.words[int(np.argmin(((self.lab - srgb_to_lab(np.array(rgb))) ** 2).sum(-1)))]

    def color_of(self, word: str) -> str | None:
        """The palette word a single unknown colour name reads as, or None (known or not a colour)."""
        word = word.lower()
        if word in self.known or word in NOT_ALONE:
            return None
        stems = [word] + [word.removesuffix(end) for end in STEM_ENDINGS if word.endswith(end)]
        name = next((s for s in stems if s in self.table), None)
        return None if name is None else self.nearest(self.table[name])

    def __call__(self, prompt: str) -> str:
        words = list(WORD.finditer(prompt))
        spans: list[tuple[int, int, str]] = []  # (start, end, replacement) in prompt order
        i = 0
        while i < len(words):
            word, pair = words[i], words[i + 1] if i + 1 < len(words) else None
            name = (f"{word.group()} {pair.group()}".lower()
                    if pair is not None and prompt[word.end():pair.start()] in (" ", "-") else None)
            if name in self.table and not set(name.split()) <= self.known:  # "navy blue", "dark red"
                spans.append((word.start(), pair.end(), self.nearest(self.table[name])))
                i += 2
                continue
            color = self.color_of(word.group())
            if color is not None:
                spans.append((word.start(), word.end(), color))
            i += 1
        spans += article_fixes(prompt, words, spans)
        out, end = [], 0
        for start, stop, text in sorted(spans):
            out += [prompt[end:start], text]
            end = stop
        return "".join(out) + prompt[end:]


def article_fixes(prompt: str, words: list[re.Match], spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Spans that turn "a" / "an" right before a rewritten word into the article its replacement takes
    ("an ivory tile" → "a white tile"), keeping a capital."""
    fixes = []
    starts = {start: text for start, _, text in spans}
    for before, word in zip(words, words[1:]):
        if word.start() in starts and before.group().lower() in ("a", "an") and before.start() not in starts:
            article = "an" if starts[word.start()][0] in "aeiou" else "a"
            article = article.capitalize() if before.group()[0].isupper() else article
            fixes.append((before.start(), before.end(), article))
    return fixes
