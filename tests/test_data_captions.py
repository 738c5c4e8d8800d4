"""Caption templates: every template parses back to the attributes; held-out splits."""

import itertools

import numpy as np
import pytest
import torch

from cinediff.data import captions
from cinediff.data.attributes import COLORS, MOTIONS, SHAPES, is_held_out
from cinediff.data.shapes import MovingShapes

KEYS = ("color", "shape", "motion")


def test_no_template_contains_the_object_separator():
    for template in captions.OBJECT_TEMPLATES:
        assert all(" and " not in text for text in template.values())


@pytest.mark.parametrize("template", range(len(captions.OBJECT_TEMPLATES)))
def test_every_template_and_synonym_parses_back(template):
    rng = np.random.default_rng(0)
    for color, shape, motion in itertools.product(COLORS, SHAPES, MOTIONS):
        objects = [{"color": color, "shape": shape, "motion": motion}, {"color": "red", "shape": "square", "motion": "up"}]
        for _ in range(4):  # different synonyms
            text = captions.caption_objects(objects, template, rng)
            assert captions.parse_caption(text) == {"objects": objects}, text


@pytest.mark.parametrize("template", range(len(captions.OBJECT_TEMPLATES)))
def test_digit_captions_parse_back(template):
    rng = np.random.default_rng(0)
    for digit, motion in itertools.product(range(10), MOTIONS):
        objects = [{"digit": digit, "motion": motion}]
        text = captions.caption_objects(objects, template, rng)
        assert captions.parse_caption(text) == {"objects": objects}, text


@pytest.mark.parametrize("template", range(len(captions.CAMERA_TEMPLATES)))
def test_camera_captions_parse_back(template):
    moves = ["pan_left", "pan_right", "pan_up", "pan_down", "zoom_in", "zoom_out"]
    for move in moves:
        text = captions.caption_camera("a photo of galaxies in deep space", move, template)
        assert captions.parse_caption(text) == {"subject": "a photo of galaxies in deep space", "camera": move}, text


def test_examples_from_the_spec():
    assert captions.parse_caption("a red ball slides to the left") == {"objects": [{"color": "red", "shape": "circle", "motion": "left"}]}
    assert captions.parse_caption("red circle, leftward motion")["objects"][0]["motion"] == "left"
    assert captions.parse_caption("the digit 7 moving right") == {"objects": [{"digit": 7, "motion": "right"}]}
    assert captions.parse_caption("a photo of a cat, the camera zooms in")["camera"] == "zoom_in"


def test_dataset_captions_round_trip():
    ds = MovingShapes(split="all")
    templates = set()
    for i in range(600):
        record = ds.attributes(i)
        expected = [{k: obj[k] for k in KEYS} for obj in record["objects"]]
        assert captions.parse_caption(record["caption"]) == {"objects": expected}, record["caption"]
        templates.add(record["template"])
    assert templates == set(range(len(captions.OBJECT_TEMPLATES)))


def test_train_split_never_holds_out():
    ds = MovingShapes(split="train")
    combos = ds.config.held_out
    assert {"color": "purple", "shape": "triangle"} in combos and {"color": "cyan", "motion": "up"} in combos
    for i in range(2000):
        record = ds.attributes(i)
        assert not any(is_held_out(obj, combos) for obj in record["objects"]), record["caption"]
        parsed = captions.parse_caption(record["caption"])["objects"]
        assert not any(is_held_out(obj, combos) for obj in parsed), record["caption"]
        assert not record["heldout"]


def test_heldout_split_only_holds_out():
    ds = MovingShapes(split="heldout")
    seen = set()
    for i in range(300):
        objects = ds.attributes(i)["objects"]
        assert any(is_held_out(obj, ds.config.held_out) for obj in objects)
        seen |= {(o["color"], o["shape"], o["motion"]) for o in objects if is_held_out(o, ds.config.held_out)}
    assert {c for c, _, _ in seen} == {"purple", "cyan"}
    assert ("purple", "triangle", "up") in seen or ("purple", "triangle", "left") in seen


def test_custom_held_out_list_accepts_motion_phrases():
    ds = MovingShapes(held_out=[{"shape": "square", "motion": "moving left"}], length=500)
    assert ds.config.held_out == [{"shape": "square", "motion": "left"}]
    objects = [obj for i in range(500) for obj in ds.attributes(i)["objects"]]
    assert not any(o["shape"] == "square" and o["motion"] == "left" for o in objects)
    assert any(o["color"] == "purple" and o["shape"] == "triangle" for o in objects)  # no longer held out
    with pytest.raises(ValueError):
        MovingShapes(held_out=[{"colour": "red"}])


def test_reworded_prompts_name_the_same_clips_in_words_no_training_caption_uses():
    from cinediff.evaluation.report import PROMPT_SEED, builtin_prompts, reworded_prompts

    reworded, original = reworded_prompts(200), builtin_prompts(200)
    clips = MovingShapes(seed=PROMPT_SEED, length=200)
    for i, prompt in enumerate(reworded):
        attributes = [(o["color"], o["shape"], o["motion"]) for o in clips.attributes(i)["objects"]]
        parsed = captions.parse_caption(prompt)["objects"]
        assert [(o["color"], o["shape"], o["motion"]) for o in parsed] == attributes
    training_nouns = {*COLORS} | {w for names in captions.SHAPE_SYNONYMS.values() for w in names}
    assert not {w for p in reworded for w in p.split()} & training_nouns  # colours and shapes said another way
    assert reworded_prompts(200) == reworded and not set(reworded) & set(original)


@pytest.mark.parametrize("template", range(len(captions.WIDE_OBJECT_TEMPLATES)))
def test_every_wide_template_and_synonym_parses_back(template):
    rng = np.random.default_rng(0)
    assert " and " not in "".join(captions.WIDE_OBJECT_TEMPLATES[template].values())
    for color, shape, motion in itertools.product(COLORS, SHAPES, MOTIONS):
        objects = [{"color": color, "shape": shape, "motion": motion}, {"color": "red", "shape": "square", "motion": "up"}]
        for _ in range(6):  # different colour and shape words, with and without a full stop
            text = captions.caption_objects(objects, template, rng, "wide")
            assert captions.parse_caption(text) == {"objects": objects}, text


def test_wide_vocabulary_keeps_the_reworded_wording_unseen():
    """The wide training captions add words, but none of the held-out `builtin-reworded` ones."""
    def words(texts):
        return {w for text in texts for w in captions._words(text)}

    reworded = words(w for names in (*captions.REWORDED_COLORS.values(), *captions.REWORDED_SHAPES.values())
                     for w in names)
    reworded_verbs = words(t for template in captions.REWORDED_TEMPLATES for t in template.values()) - words(
        t for template in captions.OBJECT_TEMPLATES for t in template.values()) - {"obj", "to", "dir", "is"}  # "is": a copula
    wide = words(w for names in (*captions.WIDE_COLORS.values(), *captions.WIDE_SHAPES.values()) for w in names) | \
        words(t for template in captions.WIDE_OBJECT_TEMPLATES for t in template.values())
    assert reworded_verbs >= {"heading", "gliding", "watch", "deflating", "dwindle", "inflates"}
    assert not wide & (reworded | reworded_verbs), wide & (reworded | reworded_verbs)
    rich = words(w for names in captions.RICH_COLORS.values() for w in names)
    assert len(rich) == 80 and not rich & (reworded | reworded_verbs)
    stems = {w[:4] for w in reworded}  # no "gold" for "golden", "snow" for "snowy", "lemo(n)ade"...
    assert not {w for w in rich if w[:4] in stems}, {w for w in rich if w[:4] in stems}


def test_every_rich_colour_word_parses_back_to_its_colour_and_only_rich_captions_use_them():
    for color, names in captions.RICH_COLORS.items():
        assert names[:3] == captions.WIDE_COLORS[color]  # rich extends wide
        for name in names:
            text = f"a {name} ball moving left and a {name} box gets smaller."
            assert captions.parse_caption(text) == {"objects": [{"color": color, "shape": "circle", "motion": "left"},
                                                                {"color": color, "shape": "square",
                                                                 "motion": "shrinking"}]}, text
    objects = [{"color": "white", "shape": "circle", "motion": "up"}]
    rng = np.random.default_rng(0)
    seen = {vocabulary: {captions.noun_phrase(objects[0], rng, vocabulary)[1].split()[0] for _ in range(400)}
            for vocabulary in ("wide", "rich")}
    assert seen["wide"] == set(captions.WIDE_COLORS["white"]) and seen["rich"] == set(captions.RICH_COLORS["white"])
    assert captions.object_templates("rich") == captions.object_templates("wide")


def test_wide_captions_change_words_not_pixels():
    base = MovingShapes(frames=4, height=16, width=16, length=64)
    wide = MovingShapes(frames=4, height=16, width=16, length=64, captions="wide")
    records = [(base.attributes(i), wide.attributes(i)) for i in range(64)]
    assert all(b["objects"] == w["objects"] for b, w in records)
    assert torch.equal(base.render_batch(range(8))[0], wide.render_batch(range(8))[0])
    assert sum(b["caption"] != w["caption"] for b, w in records) > 48
    assert {w["template"] for _, w in records} > set(range(len(captions.OBJECT_TEMPLATES)))  # new sentence forms used
    with pytest.raises(ValueError, match="captions must be one of"):
        MovingShapes(captions="huge")
