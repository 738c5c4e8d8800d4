"""Colour names a model never saw, read as its nearest colour word (text.colors)."""

import re

import numpy as np
import pytest

from cinediff.data.attributes import COLORS, MOTIONS, SHAPES
from cinediff.data.captions import (
    REWORDED_COLORS,
    caption_camera,
    caption_objects,
    random_template,
    reworded_caption,
    vocabulary_words,
)
from cinediff.evaluation.report import builtin_prompts
from cinediff.text.colors import ColorNames, named_colors, srgb_to_lab


@pytest.fixture(scope="module")
def reader():
    return ColorNames(COLORS, vocabulary_words("rich"))


@pytest.mark.parametrize("rgb,lab", [((255, 255, 255), (100.0, 0.0, 0.0)), ((255, 0, 0), (53.2408, 80.0925, 67.2032)),
                                     ((0, 0, 255), (32.2970, 79.1875, -107.8602)), ((0, 0, 0), (0.0, 0.0, 0.0))])
def test_lab_matches_the_published_values(rgb, lab):
    """CIE L*a*b* (D65) of sRGB primaries as colour-science references give them (e.g. Bruce Lindbloom's calculator)."""
    np.testing.assert_allclose(srgb_to_lab(np.array(rgb)), lab, atol=2e-3)


def test_the_table_holds_xkcd_and_css_names_with_xkcd_winning():
    table = named_colors()
    assert len(table) > 1000 and table["aliceblue"] == (240, 248, 255)  # CSS only
    assert table["azure"] == (6, 154, 243)  # xkcd's azure (CSS's is near white: #F0FFFF)
    assert table["navy blue"] == (0, 17, 70)


def test_every_held_out_colour_word_reads_as_its_colour(reader):
    """The ``builtin-reworded`` eval's colour words (never in a training caption) -> their colour: 16/16."""
    for color, words in REWORDED_COLORS.items():
        for word in words:
            assert reader(f"a {word} ball") in (f"a {color} ball", f"an {color} ball"), word


# Colour names in neither the training nor the held-out lists, with the colour a person would name.
FRESH = {"maroon": "red", "burgundy": "red", "blood": "red", "raspberry": "red", "dark red": "red",
         "emerald green": "green", "moss": "green", "kelly green": "green", "shamrock": "green", "lime": "green",
         "navy": "blue", "ultramarine": "blue", "navy blue": "blue", "azul": "blue",
         "gold": "yellow", "maize": "yellow", "dandelion": "yellow",
         "violet": "purple", "indigo": "purple", "heliotrope": "purple", "wisteria": "purple",
         "burnt orange": "orange", "tangerine": "orange", "teal": "cyan", "turquoise": "cyan",
         "snow": "white", "linen": "white", "eggshell": "white", "beige": "white"}


def test_fresh_colour_names_read_as_the_colour_a_person_names(reader):
    wrong = {name: reader(name) for name, color in FRESH.items() if reader(name) != color}
    assert not wrong


def test_known_words_and_every_builtin_prompt_are_read_unchanged(reader):
    """A rewrite only touches words the model never saw: its own "ruby" stays, and so does every
    training-wording prompt (colour, shape and motion words alike)."""
    assert reader("a ruby orb rolling to the left") == "a ruby orb rolling to the left"
    prompts = builtin_prompts(300) + builtin_prompts(100, split="heldout")
    assert [reader(p) for p in prompts] == prompts


def test_vocabulary_words_hold_every_word_of_generated_captions():
    rng = np.random.default_rng(0)
    for vocabulary in ("base", "wide", "rich"):
        words = vocabulary_words(vocabulary)
        for _ in range(300):
            objects = [{"color": rng.choice(list(COLORS)), "shape": rng.choice(SHAPES), "motion": rng.choice(MOTIONS)}
                       for _ in range(rng.integers(1, 3))] if rng.random() < 0.8 else [{"digit": 7, "motion": "up"}]
            caption = caption_objects(objects, random_template(rng, vocabulary=vocabulary), rng, vocabulary)
            assert set(re.findall(r"[a-z]+", caption.lower())) <= words, caption
        assert set(re.findall(r"[a-z]+", caption_camera("a photo of a cat", "pan_left", 0))) - {"photo", "of", "cat"} <= words
    assert "ruby" in vocabulary_words("wide") and "ruby" not in vocabulary_words("base")
    assert "rose" in vocabulary_words("rich") and "rose" not in vocabulary_words("wide")


def test_rewrites_keep_case_punctuation_and_fix_the_article(reader):
    assert reader("An Ivory sphere gliding to the left.") == "A white sphere gliding to the left."
    assert reader("there is an amber tile that goes up") == "there is an orange tile that goes up"
    assert reader("a navy blue box and a dark red ball") == "a blue box and a red ball"  # two-word names
    assert reader("a teal-blue cube") == "a cyan cube"
    assert reader("a dark ball") == "a dark ball"  # "dark" alone names no hue
    assert reader("a snowy, golden disc") == "a white, yellow disc"  # -y / -en forms


def test_reworded_captions_read_with_their_colour_words(reader):
    rng = np.random.default_rng(3)
    for i in range(50):
        objects = [{"color": c, "shape": "circle", "motion": "left"} for c in rng.choice(list(COLORS), 2)]
        read = reader(reworded_caption(objects, rng))
        assert all(o["color"] in read for o in objects), read
