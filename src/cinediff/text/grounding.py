"""Shape and motion words a model never saw, read through its text encoder as the nearest ones it did.

A model trained on "a red ball moving left" draws "a scarlet sphere heading to the left" as coloured
blobs: the colour is read by :mod:`cinediff.text.colors`, but "sphere" and "heading" land where no
training caption put its states (shape 0.52 on the ``builtin-reworded`` prompts, against 1.00 in
the training wording). The encoder that conditions the model knows better than the model does:
MiniLM was trained to place paraphrases close together, so its pooled embedding of "sphere" is nearer
to "ball" than to "box", and "decreasing in size" nearer to "shrinking in size" than to "gets bigger".

:class:`ClauseReader` uses that: each " and "-joined clause with a word outside the training
vocabulary is parsed as ``[...] article [colour] SHAPE MOTION``: every split of the words after
the colour into a shape span (1–3 words) and a motion span is scored by the shape span's cosine
similarity to the nearest trained shape word plus the motion span's to the nearest trained motion
phrase, and the best split wins. The shape span's shape is then the one its dictionary definitions
name (:mod:`cinediff.text.glosses`: "dice" is "a small cube ..." and a cube "a block ..."), and for
a span no definition settles, the nearest by the encoder: MiniLM places words by the company they
keep, not by their outline ("dice" by "ball"). Shapes are embedded in six sentences ("a picture of
a {}", "a drawing of a {}", ...) averaged, CLIP's prompt ensembling (Radford et al. 2021): single
frames read 60 development shape nouns at 0.60–0.77 and 120 development clauses' shapes at
0.68–0.85, the best within a standard error of the average (0.75, 0.80), so the average is taken
rather than a frame picked on noise (``benchmarks/reading.py`` compares them all). The motion's kind
(move, growing, shrinking) comes from similarity, its direction from the direction word the span
names ("heading to the left" → left; MiniLM puts "left" and "right" phrases too close to tell
apart); a span naming no direction word takes the motion its verb's definitions name if they name
one ("falling": to fall is to "descend", to descend to "move downward"), else its kind by similarity,
and a move naming no direction the nearer of the other kinds. The clause is rewritten in
the training wording ("a red circle moving left"); clauses of trained words only are never touched,
so training-wording prompts read exactly as before, and neither are clauses without an article
("hello world" names no object).

Measured (``tests/test_grounding.py``, ``benchmarks/reading.py``) on the development wordings
(``data.captions.DEVELOPMENT_*``: 60 shape nouns such as "tent", "coin", "quadrilateral"; verbs such
as "puff up", "zooming"): shape 0.89 (0.80 by the encoder alone), motion 0.93 over 120 clauses, and
motion 0.96 over 54 clauses whose verb carries it (``DEVELOPMENT_VERBS``: "a tan coin falling"; 0.44
by the encoder alone); on the held-out test wordings (the 84 clauses of 64 ``builtin-reworded``
prompts, which share no shape or motion word with the development lists): shape 1.00 (0.85 by the
encoder alone: "cube" read as a triangle), motion 1.00 (0.99 without the verbs' definitions). It
is a nearest-neighbour reading, not understanding: "puff up" reads as moving up, "oval" as a
triangle (its definition's "conic section"), a motion no training caption has as a change of size
("a green ball bouncing" → growing), and any noun as one of the shapes ("a cat walking to the
right" → "a triangle moving right").
Generation reports every rewrite ("read ... as ..."); ``--literal`` turns it off.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property

import torch

from cinediff.text.glosses import motion_of, shape_of
from cinediff.text.phrases import split_phrases

WORD = re.compile(r"[a-z]+")
ARTICLES = frozenset({"a", "an", "the", "one"})
LINKS = frozenset({"that", "which", "who", "is", "are", "it", "then"})  # "a tile that inflates": not the motion
PLACE = frozenset({"to", "the", "a", "an", "of", "in", "across", "frame"})  # words of a direction, not a verb
# Sentences a span is embedded in, averaged (CLIP's prompt ensembling): no one frame stood out on the
# development wordings.
SHAPE_FRAMES = ("a picture of a {}", "a photo of a {}", "an image of a {}", "a drawing of a {}", "a {} shape",
                "the shape of a {}")
MOTION_FRAMES = ("{}",)
MAX_SHAPE_WORDS = 3  # "three-sided shape"
# Trained motion words that say little inside a dictionary definition: particles ("swell up", "break
# down"), other senses ("left" of leave, "right" as correct) and light words of the trained phrases.
VAGUE_IN_DEFINITIONS = frozenset({"up", "down", "left", "right", "away", "becoming", "getting", "gets", "is", "in",
                                  "size"})


def definition_words(motions: Mapping[str, Iterable[str]], directions: Mapping[str, str]) -> dict[str, str]:
    """Trained words that name a motion in a verb's definition -> that motion: the direction words and
    the words of one size change's phrases only ("downward" -> "down", "bigger" -> "growing"), less
    :data:`VAGUE_IN_DEFINITIONS`. ``motions``: kind -> trained phrases; ``directions``: word -> direction."""
    words = {kind: {w for phrase in phrases for w in WORD.findall(phrase)} for kind, phrases in motions.items()}
    sized = {kind: w - set().union(*(v for k, v in words.items() if k != kind)) for kind, w in words.items()
             if kind != "move"}
    out = {**directions, **{w: kind for kind, ws in sized.items() for w in ws}}
    return {w: m for w, m in out.items() if w not in VAGUE_IN_DEFINITIONS}


class ClauseReader:
    """``reader(prompt) -> prompt`` with each clause in unseen wording rewritten in the training wording.

    ``embed(texts) -> (N, D)`` unit-norm sentence embeddings (the model's text encoder, pooled).
    ``shapes``: shape -> trained words; ``motions``: kind ("move" / "growing" / "shrinking") ->
    trained motion phrases; ``directions``: direction word -> direction; ``say``: motion -> the phrase
    written for it; ``colors``: colour words; ``known``: every trained word
    (:func:`cinediff.data.captions.reading_lexicon` gives all of these); ``shape_frames``: the
    sentences shape spans are embedded in, averaged; ``glosses``: noun -> {trained shape word: times
    its definitions name it} (:func:`cinediff.text.glosses.read_table`), asked before the encoder
    for the shape of the chosen span (:func:`~cinediff.text.glosses.shape_of`); ``verb_glosses``: verb
    -> {trained motion word: times named}, asked for a motion span that names no direction word
    (:func:`~cinediff.text.glosses.motion_of`).
    """

    def __init__(self, embed: Callable[[list[str]], torch.Tensor], shapes: Mapping[str, Iterable[str]],
                 motions: Mapping[str, Iterable[str]], directions: Mapping[str, str], say: Mapping[str, str],
                 colors: Iterable[str], known: Iterable[str], shape_frames: tuple[str, ...] = SHAPE_FRAMES,
                 glosses: Mapping[str, Mapping[str, int]] | None = None,
                 verb_glosses: Mapping[str, Mapping[str, int]] | None = None):
        self.embed, self.directions, self.say, self.shape_frames = embed, dict(directions), dict(say), shape_frames
        self.glosses, self.verb_glosses = glosses or {}, verb_glosses or {}
        self.colors, self.known = frozenset(colors), frozenset(known)
        self.shapes, self.motions = {k: list(v) for k, v in shapes.items()}, {k: list(v) for k, v in motions.items()}
        self.shape_names, self.kinds = list(shapes), list(motions)
        self.motion_words = definition_words(self.motions, self.directions)

    @cached_property
    def shape_bank(self) -> list[torch.Tensor]:
        """Per shape, (words, D) embeddings of its trained words (made on the first unseen wording)."""
        return [self.framed(self.shapes[shape], self.shape_frames) for shape in self.shape_names]

    @cached_property
    def motion_bank(self) -> list[torch.Tensor]:
        """Per motion kind, (phrases, D) embeddings of its trained phrases."""
        return [self.framed(self.motions[kind], MOTION_FRAMES) for kind in self.kinds]

    def framed(self, texts: Iterable[str], frames: tuple[str, ...]) -> torch.Tensor:
        """(N, D) unit-norm embeddings of ``texts``, each the mean of its embeddings in ``frames``."""
        texts = list(texts)
        emb = self.embed([frame.format(text) for frame in frames for text in texts])  # one batch
        return torch.nn.functional.normalize(emb.view(len(frames), len(texts), -1).mean(0), dim=-1)

    def similarity(self, spans: list[str], bank: list[torch.Tensor], frames: tuple[str, ...]) -> torch.Tensor:
        """(len(spans), classes): each span's cosine similarity to the nearest example of each class."""
        emb = self.framed(spans, frames)
        return torch.stack([(emb @ examples.T).amax(dim=1) for examples in bank], dim=1)

    def splits(self, words: list[str]) -> list[tuple[str, str]]:
        """The (shape span, motion span) readings of a clause's words: the shape starts after the first
        article and a colour word right after it; none without an article ("hello world": no object named)."""
        start = next((i for i, w in enumerate(words) if w in ARTICLES), len(words)) + 1
        if start < len(words) - 1 and words[start] in self.colors:
            start += 1
        out = []
        for end in range(start + 1, min(start + MAX_SHAPE_WORDS, len(words) - 1) + 1):
            shape, motion = words[start:end], words[end:]
            while motion and motion[0] in LINKS:
                motion = motion[1:]
            if any(w in LINKS or w in self.directions for w in shape):
                continue  # "tile that", "slab up": a direction or a link ends the noun
            if all(w in self.directions or w in PLACE for w in motion):
                continue  # a motion names a verb ("swelling up"), not only where to
            out.append((" ".join(shape), " ".join(motion)))
        return out

    def read_clause(self, clause: str) -> str:
        """The clause in training wording, or unchanged (trained words only, or no split found)."""
        words = WORD.findall(clause.lower())
        if set(words) <= self.known:
            return clause
        splits = self.splits(words)
        if not splits:
            return clause
        shape_sim = self.similarity([s for s, _ in splits], self.shape_bank, self.shape_frames)
        motion_sim = self.similarity([m for _, m in splits], self.motion_bank, MOTION_FRAMES)
        best = int((shape_sim.amax(1) + motion_sim.amax(1)).argmax())
        shape = self.shape(splits[best][0], shape_sim[best])
        motion = self.motion(splits[best][1], motion_sim[best])
        color = next((w for w in words if w in self.colors), None)
        bare = " ".join(w for w in (color, shape, self.say[motion]) if w)
        return f"{'an' if bare[0] in 'aeiou' else 'a'} {bare}"

    def shape(self, span: str, shape_sim: torch.Tensor) -> str:
        """The shape of a shape span: the one its dictionary definitions name (``glosses``), else the
        nearest by the encoder (``shape_sim``: (shapes,) similarities)."""
        return shape_of(span, self.glosses, self.shapes) or self.shape_names[int(shape_sim.argmax())]

    def motion(self, span: str, kind_sim: torch.Tensor) -> str:
        """The motion of a motion span: that its verb's definitions name when it names no direction word
        (``verb_glosses``: "falling" -> down); else its kind by similarity (``kind_sim``: (kinds,)), a
        move's direction from its direction word."""
        named = [self.directions[w] for w in span.split() if w in self.directions]
        if not named and (defined := motion_of(span, self.verb_glosses, self.motion_words)):
            return defined
        kind = self.kinds[int(kind_sim.argmax())]
        if kind == "move":
            if named:
                return named[0]
            others = [i for i, k in enumerate(self.kinds) if k != "move"]
            kind = self.kinds[max(others, key=lambda i: float(kind_sim[i]))]
        return kind

    def __call__(self, prompt: str) -> str:
        clauses = split_phrases(prompt)
        read = [self.read_clause(clause) for clause in clauses]
        return prompt if read == clauses else " and ".join(read)
