"""Caption templates and synonyms: the ONE place to edit or extend the captions.

To add a template, append a dict to :data:`OBJECT_TEMPLATES` (object clips) or
:data:`CAMERA_TEMPLATES` (camera moves) with one format string per motion kind. Fields:

* ``{obj}``  noun phrase with article ("a red ball", "the digit 7"); ``{bare}`` without it
* ``{dir}``  "left" / "up";  ``{to}`` "to the left" / "upward";  ``{adj}`` "leftward"
* ``{photo}`` the photo description ("a photo of a cat")

:func:`parse_caption` recovers the attributes from any template, so a new motion word
(e.g. "enlarging") must also be added to :data:`MOTION_KEYWORDS`. Object clauses are
joined by " and ", so no template may contain " and ".
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from cinediff.data.attributes import DIRECTIONS, MOTIONS

SHAPE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "ball", "disc"),
    "square": ("square", "box", "block"),
    "triangle": ("triangle", "wedge", "pyramid"),
}

# (article, bare noun phrase) for digits; {digit} is the label 0..9.
DIGIT_NOUNS: tuple[tuple[str, str], ...] = (
    ("the", "digit {digit}"),
    ("the", "number {digit}"),
    ("a", "handwritten {digit}"),
)

DIRECTION_PHRASES: dict[str, dict[str, str]] = {
    "left": {"dir": "left", "to": "to the left", "adj": "leftward"},
    "right": {"dir": "right", "to": "to the right", "adj": "rightward"},
    "up": {"dir": "up", "to": "upward", "adj": "upward"},
    "down": {"dir": "down", "to": "downward", "adj": "downward"},
}

# One object clause per motion kind: "move" (any direction), "growing", "shrinking".
OBJECT_TEMPLATES: list[dict[str, str]] = [
    {"move": "{obj} moving {dir}", "growing": "{obj} growing", "shrinking": "{obj} shrinking"},
    {"move": "{obj} slides {to}", "growing": "{obj} gets bigger", "shrinking": "{obj} gets smaller"},
    {"move": "{bare}, {adj} motion", "growing": "{bare}, growing in size", "shrinking": "{bare}, shrinking in size"},
    {"move": "{obj} drifting {to}", "growing": "{obj} expanding", "shrinking": "{obj} contracting"},
    {"move": "{obj} travels {dir} across the frame", "growing": "{obj} growing larger",
     "shrinking": "{obj} becoming smaller"},
]

# Camera moves over a photo: "pan" (any direction), "zoom_in", "zoom_out".
CAMERA_TEMPLATES: list[dict[str, str]] = [
    {"pan": "{photo}, the camera pans {dir}", "zoom_in": "{photo}, the camera zooms in",
     "zoom_out": "{photo}, the camera zooms out"},
    {"pan": "{photo}, panning {to}", "zoom_in": "{photo}, zooming in", "zoom_out": "{photo}, zooming out"},
    {"pan": "{photo}, a slow {adj} pan", "zoom_in": "{photo}, a slow zoom in", "zoom_out": "{photo}, a slow zoom out"},
]

# The wider training vocabulary (``MovingShapesConfig.captions = "wide"``): the base templates and
# synonyms plus more colour words, shape words and sentence forms, so that a model learns a region of
# the text encoder's space per attribute rather than a handful of sentences. Disjoint from the
# held-out wordings below (tested): those stay a test of wording no training caption uses.
WIDE_OBJECT_TEMPLATES: list[dict[str, str]] = OBJECT_TEMPLATES + [
    {"move": "a video of {obj} moving {dir}", "growing": "a video of {obj} growing",
     "shrinking": "a video of {obj} shrinking"},
    {"move": "{obj} is moving {to}", "growing": "{obj} is getting bigger", "shrinking": "{obj} is getting smaller"},
    {"move": "{obj} moves {dir}", "growing": "{obj} grows", "shrinking": "{obj} shrinks"},
    {"move": "{obj} going {dir}", "growing": "{obj} enlarging", "shrinking": "{obj} diminishing"},
    {"move": "{obj}, {adj} movement", "growing": "{obj}, getting larger", "shrinking": "{obj}, getting smaller"},
    {"move": "{obj} rolling {to}", "growing": "{obj} grows larger", "shrinking": "{obj} shrinks away"},
]
WIDE_COLORS: dict[str, tuple[str, ...]] = {
    "red": ("red", "ruby", "cherry"), "green": ("green", "jade", "mint"), "blue": ("blue", "cobalt", "sapphire"),
    "yellow": ("yellow", "canary", "mustard"), "purple": ("purple", "plum", "mauve"),
    "orange": ("orange", "apricot", "pumpkin"), "cyan": ("cyan", "aqua", "aquamarine"),
    "white": ("white", "pearl", "chalk"),
}
WIDE_SHAPES: dict[str, tuple[str, ...]] = {
    "circle": (*SHAPE_SYNONYMS["circle"], "orb", "bubble"), "square": (*SHAPE_SYNONYMS["square"], "crate", "panel"),
    "triangle": (*SHAPE_SYNONYMS["triangle"], "cone", "delta"),
}
SENTENCE_ENDS: tuple[str, ...] = ("", "", ".")  # a wide caption sometimes ends as a sentence

# The rich vocabulary (``captions = "rich"``): the wide one with ten words per colour instead of three.
# Tried because a model trained on three drew most held-out colour words wrong (builtin-reworded colour
# 0.22, "crimson" drawn purple); ten did not help (0.17): MiniLM's states do not place unseen colour
# words near their colour (a linear probe trained on these 80 reads them at 0.22, `bench diagnose`).
# Still disjoint from the held-out colour words and their stems (no "gold", "snow", "lemon", tested).
RICH_COLORS: dict[str, tuple[str, ...]] = {
    "red": (*WIDE_COLORS["red"], "rose", "brick", "vermilion", "cardinal", "wine", "tomato", "reddish"),
    "green": (*WIDE_COLORS["green"], "olive", "forest", "grass", "leaf", "sage", "pine", "greenish"),
    "blue": (*WIDE_COLORS["blue"], "sky", "ocean", "royal", "cornflower", "denim", "cerulean", "bluish"),
    "yellow": (*WIDE_COLORS["yellow"], "sunflower", "butter", "banana", "saffron", "daffodil", "sunny", "yellowish"),
    "purple": (*WIDE_COLORS["purple"], "lavender", "grape", "amethyst", "orchid", "magenta", "eggplant", "purplish"),
    "orange": (*WIDE_COLORS["orange"], "carrot", "copper", "rust", "mango", "marigold", "peach", "orangish"),
    "cyan": (*WIDE_COLORS["cyan"], "seafoam", "glacier", "lagoon", "icy", "arctic", "surf", "cyanish"),
    "white": (*WIDE_COLORS["white"], "milk", "cream", "cotton", "bone", "paper", "frost", "whitish"),
}

# Held-out wordings: never in training captions, used by the ``builtin-reworded`` eval prompts to
# test that a model follows the meaning, not the training sentences. Other words for the same
# colours and shapes, other sentence forms and motion verbs.
REWORDED_TEMPLATES: list[dict[str, str]] = [
    {"move": "{obj} heading {to}", "growing": "{obj} swelling up", "shrinking": "{obj} deflating"},
    {"move": "there is {obj} that goes {dir}", "growing": "there is {obj} that inflates",
     "shrinking": "there is {obj} that deflates"},
    {"move": "{obj} gliding {to}", "growing": "{obj} increasing in size", "shrinking": "{obj} decreasing in size"},
    {"move": "watch {obj} move {dir}", "growing": "watch {obj} swell", "shrinking": "watch {obj} dwindle"},
]
REWORDED_COLORS: dict[str, tuple[str, ...]] = {
    "red": ("crimson", "scarlet"), "green": ("emerald", "lime"), "blue": ("azure", "navy"),
    "yellow": ("golden", "lemon"), "purple": ("violet", "lilac"), "orange": ("amber", "tangerine"),
    "cyan": ("turquoise", "teal"), "white": ("snowy", "ivory"),
}
REWORDED_SHAPES: dict[str, tuple[str, ...]] = {
    "circle": ("round dot", "sphere"), "square": ("cube", "tile"), "triangle": ("arrowhead", "three-sided shape"),
}

# Development wordings: neither training nor held-out, for choosing how unseen wording is read
# (text.grounding) without looking at the held-out words. They share no shape or motion word with the
# training captions or with REWORDED_* (tested); colours are other colour names (read by text.colors).
DEVELOPMENT_TEMPLATES: list[dict[str, str]] = [
    {"move": "{obj} zooming {to}", "growing": "{obj} ballooning", "shrinking": "{obj} collapsing"},
    {"move": "here is {obj} that shifts {dir}", "growing": "here is {obj} that widens",
     "shrinking": "here is {obj} that narrows"},
    {"move": "look at {obj} floating {to}", "growing": "look at {obj} getting huge",
     "shrinking": "look at {obj} getting tiny"},
    {"move": "{obj} sliding {dir}", "growing": "{obj} blowing up", "shrinking": "{obj} fading away"},
    {"move": "see {obj} zipping {dir}", "growing": "see {obj} puff up", "shrinking": "see {obj} shrivel"},
]
DEVELOPMENT_SHAPES: dict[str, tuple[str, ...]] = {
    "circle": ("ring", "globe", "pellet", "wheel", "coin", "hoop", "bead", "marble", "button", "moon", "plate",
               "donut", "pizza", "clock", "cookie", "lens", "balloon", "planet", "dome", "tire"),
    "square": ("rectangle", "domino", "cuboid", "slab", "tablet", "quadrilateral", "card", "window", "dice", "parcel",
               "book", "table", "chessboard", "envelope", "poster", "screen", "chest", "package", "napkin", "stamp"),
    "triangle": ("spike", "tent", "arrow", "pennant", "prism", "trigon", "sail", "ramp", "fin", "horn", "slice",
                 "funnel", "spire", "roof", "tooth", "claw", "beak", "thorn", "sign", "megaphone"),
}
# Verbs whose meaning is the motion, with no direction word ("a ring falling"): development wordings for
# reading motion verbs by their definitions (text.glosses). No direction to the side is carried by a
# common English verb, so these are up, down and size changes only.
DEVELOPMENT_VERBS: dict[str, tuple[str, ...]] = {
    "up": ("rising", "climbing", "ascending", "soaring", "lifting", "mounting"),
    "down": ("falling", "sinking", "dropping", "descending", "plunging", "tumbling", "diving", "plummeting"),
    "growing": ("widening", "mushrooming", "magnifying", "bloating", "thickening", "spreading"),
    "shrinking": ("narrowing", "withering", "receding", "waning", "compressing", "condensing", "shriveling"),
}
DEVELOPMENT_COLORS: tuple[str, ...] = ("red", "maroon", "tan", "indigo", "khaki", "fuchsia", "dark green", "beige")

# Words that identify a motion when parsing (every template word must be listed).
MOTION_KEYWORDS: dict[str, tuple[str, ...]] = {
    "left": ("left", "leftward", "leftwards"),
    "right": ("right", "rightward", "rightwards"),
    "up": ("up", "upward", "upwards"),
    "down": ("down", "downward", "downwards"),
    "growing": ("growing", "grows", "bigger", "larger", "expanding", "expands", "swelling", "swell", "inflates",
                "inflate", "increasing", "enlarging"),
    "shrinking": ("shrinking", "shrinks", "smaller", "contracting", "contracts", "deflating", "deflates", "dwindle",
                  "decreasing", "diminishing"),
}


def _inverse(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {word: key for key, words in table.items() for word in words}


_SHAPE_OF = _inverse(WIDE_SHAPES) | {re.findall(r"[a-z]+", words)[0]: shape for shape, names in REWORDED_SHAPES.items()
                                        for words in names}
_COLOR_OF = _inverse(RICH_COLORS) | _inverse(REWORDED_COLORS)
_MOTION_OF = _inverse(MOTION_KEYWORDS)


# ---------------------------------------------------------------- writing captions


VOCABULARIES = ("base", "wide", "rich")  # rich = wide + more colour words


def object_templates(vocabulary: str = "base") -> list[dict[str, str]]:
    """The object-clip templates of a training vocabulary: ``base``, or ``wide`` / ``rich`` (the same)."""
    if vocabulary not in VOCABULARIES:
        raise ValueError(f"captions must be one of {VOCABULARIES}, got {vocabulary!r}")
    return OBJECT_TEMPLATES if vocabulary == "base" else WIDE_OBJECT_TEMPLATES


def noun_phrase(obj: dict, rng: np.random.Generator, vocabulary: str = "base") -> tuple[str, str]:
    """(article, bare phrase) of one object, with a random synonym (``wide`` / ``rich``: of its colour too)."""
    if "digit" in obj:
        article, bare = DIGIT_NOUNS[rng.integers(len(DIGIT_NOUNS))]
        return article, bare.format(digit=obj["digit"])
    wide = vocabulary != "base"
    synonyms = (WIDE_SHAPES if wide else SHAPE_SYNONYMS)[obj["shape"]]
    colors = (RICH_COLORS if vocabulary == "rich" else WIDE_COLORS)[obj["color"]]
    color = colors[rng.integers(len(colors))] if wide else obj["color"]
    bare = f"{color} {synonyms[rng.integers(len(synonyms))]}"
    return ("an" if bare[0] in "aeiou" else "a"), bare


def describe_object(obj: dict, template: int, rng: np.random.Generator, vocabulary: str = "base") -> str:
    """One object clause, e.g. "a red ball slides to the left"."""
    article, bare = noun_phrase(obj, rng, vocabulary)
    kind = "move" if obj["motion"] in DIRECTIONS else obj["motion"]
    words = DIRECTION_PHRASES.get(obj["motion"], {})
    return object_templates(vocabulary)[template][kind].format(obj=f"{article} {bare}", bare=bare, **words)


def caption_objects(objects: list[dict], template: int, rng: np.random.Generator, vocabulary: str = "base") -> str:
    """Caption of a clip with one or more objects: clauses joined by " and " (``wide``: sometimes
    ended by a full stop)."""
    text = " and ".join(describe_object(obj, template, rng, vocabulary) for obj in objects)
    return text if vocabulary == "base" else text + SENTENCE_ENDS[rng.integers(len(SENTENCE_ENDS))]


def reworded_caption(objects: list[dict], rng: np.random.Generator) -> str:
    """A caption of the objects in held-out wording (:data:`REWORDED_TEMPLATES`, colour and shape
    words of :data:`REWORDED_COLORS` / :data:`REWORDED_SHAPES`): the meaning of a training caption."""
    template = REWORDED_TEMPLATES[rng.integers(len(REWORDED_TEMPLATES))]
    clauses = []
    for obj in objects:
        colors, shapes = REWORDED_COLORS[obj["color"]], REWORDED_SHAPES[obj["shape"]]
        bare = f"{colors[rng.integers(len(colors))]} {shapes[rng.integers(len(shapes))]}"
        clauses.append(object_clause(template, bare, obj["motion"]))
    return " and ".join(clauses)


def object_clause(template: dict[str, str], bare: str, motion: str) -> str:
    """One object's clause from a template with ``{obj}`` (the bare noun phrase with its article)."""
    kind = "move" if motion in DIRECTIONS else motion
    return template[kind].format(obj=with_article(bare), **DIRECTION_PHRASES.get(motion, {}))


def with_article(bare: str) -> str:
    """A bare noun phrase with its indefinite article: "an orange ball", "a red ball"."""
    return f"{'an' if bare[0] in 'aeiou' else 'a'} {bare}"


def vocabulary_tables(vocabulary: str = "base") -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(colour -> its words, shape -> its words) of a training vocabulary."""
    if vocabulary == "base":
        return {c: (c,) for c in RICH_COLORS}, SHAPE_SYNONYMS
    return (RICH_COLORS if vocabulary == "rich" else WIDE_COLORS), WIDE_SHAPES


@lru_cache(maxsize=None)
def vocabulary_words(vocabulary: str = "base") -> frozenset[str]:
    """Every word a training caption of ``vocabulary`` can contain (lower case): its templates' words,
    colour and shape words, digit nouns, direction phrases and the camera templates."""
    colors, shapes = vocabulary_tables(vocabulary)
    texts = [*(t for template in object_templates(vocabulary) + CAMERA_TEMPLATES for t in template.values()),
             *(w for words in (*colors.values(), *shapes.values()) for w in words),
             *(f"{article} {noun}" for article, noun in DIGIT_NOUNS),
             *(p for phrases in DIRECTION_PHRASES.values() for p in phrases.values())]
    placeholders = {"obj", "bare", "dir", "adj", "photo"}  # "to", "digit" are caption words too
    return frozenset(w for text in texts for w in _words(text) if w not in placeholders) | {"an", "and"}  # articles before vowels; joins objects


def reading_lexicon(vocabulary: str = "base") -> dict:
    """What a reader of unseen wording (:class:`~cinediff.text.grounding.ClauseReader`) may know of a
    training vocabulary, from its training tables only (never the held-out wordings):

    * ``shapes``: shape -> its trained words ("circle": ("circle", "ball", ...))
    * ``motions``: kind ("move", "growing", "shrinking") -> the trained motion phrases of the object
      templates ("moving left", "slides to the left", "gets bigger", ...)
    * ``directions``: word -> direction ("leftward" -> "left"); ``say``: motion -> its plain phrase
    * ``colors``: the colour words; ``known``: every word (:func:`vocabulary_words`)
    """
    motions: dict[str, list[str]] = {}
    for template in object_templates(vocabulary):
        for kind, text in template.items():
            for phrases in (DIRECTION_PHRASES.values() if kind == "move" else [{}]):
                phrase = " ".join(text.format(obj="", bare="", **phrases).replace(",", " ").split())
                phrase = phrase.removeprefix("a video of ").removeprefix("is ")  # the words left of {obj}
                motions.setdefault(kind, []).append(phrase)
    colors, shapes = vocabulary_tables(vocabulary)
    return {"shapes": dict(shapes),
            "motions": {kind: tuple(dict.fromkeys(p)) for kind, p in motions.items()},
            "directions": {w: d for d, phrases in DIRECTION_PHRASES.items() for p in phrases.values()
                           for w in _words(p) if w not in ("to", "the")},
            "say": {**{d: f"moving {d}" for d in DIRECTION_PHRASES}, "growing": "growing", "shrinking": "shrinking"},
            "colors": frozenset(w for words in colors.values() for w in words),
            "known": vocabulary_words(vocabulary)}


def development_clauses(num: int = 120, seed: int = 0) -> list[tuple[str, str, str]]:
    """``num`` seeded one-object clauses in the development wordings: (clause, shape, motion)."""
    rng, out = np.random.default_rng(seed), []
    for _ in range(num):
        template = DEVELOPMENT_TEMPLATES[rng.integers(len(DEVELOPMENT_TEMPLATES))]
        shape, word = _development_noun(rng)
        motion = MOTIONS[rng.integers(len(MOTIONS))]
        bare = f"{DEVELOPMENT_COLORS[rng.integers(len(DEVELOPMENT_COLORS))]} {word}"
        out.append((object_clause(template, bare, motion), shape, motion))
    return out


def development_verb_clauses(seed: int = 0) -> list[tuple[str, str, str]]:
    """Two clauses per :data:`DEVELOPMENT_VERBS` verb, "a tan coin falling" and "there is a tan coin
    that is falling", seeded development colours and shape nouns: (clause, shape, motion)."""
    rng, out = np.random.default_rng(seed), []
    for motion, verbs in DEVELOPMENT_VERBS.items():
        for verb in verbs:
            for form in ("{obj} {verb}", "there is {obj} that is {verb}"):
                shape, word = _development_noun(rng)
                bare = f"{DEVELOPMENT_COLORS[rng.integers(len(DEVELOPMENT_COLORS))]} {word}"
                out.append((form.format(obj=with_article(bare), verb=verb), shape, motion))
    return out


def _development_noun(rng: np.random.Generator) -> tuple[str, str]:
    """A seeded (shape, development shape noun of it)."""
    shape = list(DEVELOPMENT_SHAPES)[rng.integers(len(DEVELOPMENT_SHAPES))]
    return shape, DEVELOPMENT_SHAPES[shape][rng.integers(len(DEVELOPMENT_SHAPES[shape]))]


def caption_camera(photo: str, motion: str, template: int) -> str:
    """Caption of a camera move ("pan_left", "zoom_in", ...) over a photo description."""
    kind = "pan" if motion.startswith("pan_") else motion
    direction = motion.removeprefix("pan_")
    return CAMERA_TEMPLATES[template][kind].format(photo=photo, **DIRECTION_PHRASES.get(direction, {}))


def random_template(rng: np.random.Generator, camera: bool = False, vocabulary: str = "base") -> int:
    """A uniformly chosen template id (of ``vocabulary``'s object templates, or a camera template)."""
    return int(rng.integers(len(CAMERA_TEMPLATES if camera else object_templates(vocabulary))))


# ---------------------------------------------------------------- parsing captions


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+|\d+", text.lower())


def parse_clause(clause: str) -> dict:
    """Attributes named in one object clause: any of color, shape, digit, motion."""
    out: dict = {}
    for word in _words(clause):
        if word in _COLOR_OF:
            out.setdefault("color", _COLOR_OF[word])
        elif word in _SHAPE_OF:
            out.setdefault("shape", _SHAPE_OF[word])
        elif word.isdigit():
            out.setdefault("digit", int(word))
        elif word in _MOTION_OF:
            out.setdefault("motion", _MOTION_OF[word])
    return out


def _parse_camera(phrase: str) -> str | None:
    words = _words(phrase)
    if any(w.startswith("zoom") for w in words):
        return "zoom_in" if "in" in words else "zoom_out" if "out" in words else None
    if any(w.startswith("pan") for w in words):
        directions = [_MOTION_OF[w] for w in words if _MOTION_OF.get(w) in DIRECTIONS]
        return f"pan_{directions[0]}" if directions else None
    return None


def parse_caption(caption: str) -> dict:
    """Recovers the attributes from a caption written by any template.

    Returns ``{"objects": [{"color", "shape" | "digit", "motion"}, ...]}`` for object
    clips and ``{"subject": photo, "camera": "pan_left" | ... | "zoom_out"}`` for camera
    moves; attributes a clause does not name are absent.
    """
    subject, _, phrase = caption.rpartition(", ")
    camera = _parse_camera(phrase) if subject else None
    if camera is not None:
        return {"subject": subject, "camera": camera}
    return {"objects": [parse_clause(clause) for clause in caption.split(" and ")]}
