"""Alignment judge on real moving-shapes clips: accuracy, wrong prompts, noise and blur."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cinediff.data.attributes import COLORS
from cinediff.data.captions import caption_objects
from cinediff.data.shapes import MovingShapes
from cinediff.evaluation.judge import ATTRIBUTES, judge_batch, judge_video

OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up", "growing": "shrinking",
            "shrinking": "growing"}
NEXT_SHAPE = {"circle": "square", "square": "triangle", "triangle": "circle"}


@pytest.fixture(scope="module")
def clips():
    """200 clips 16x64x64, one or two objects, black or gray background."""
    data = MovingShapes(length=200, split="all", seed=3, two_object_prob=0.4, background="random")
    videos, records = data.render_batch(range(200))
    assert 50 < sum(len(r["objects"]) == 2 for r in records) < 150
    return videos, records


def gaussian_blur(videos, sigma=0.7):
    r = torch.arange(-3, 4.0)
    k = torch.exp(-(r**2) / (2 * sigma**2))
    k = (k[:, None] * k)[None, None] / k.sum() ** 2
    b, c, t, h, w = videos.shape
    frames = F.pad(videos.transpose(1, 2).reshape(-1, 1, h, w), (3, 3, 3, 3), mode="replicate")
    return F.conv2d(frames, k).reshape(b, t, c, h, w).transpose(1, 2)


def test_accurate_on_real_clips(clips):
    videos, records = clips
    acc = judge_batch(videos, [r["caption"] for r in records])
    print("judge accuracy on real clips:", acc)
    assert acc["n"] == 200 and all(acc[a] >= 0.97 for a in ATTRIBUTES), acc


def test_robust_to_noise_and_blur(clips):
    videos, records = clips
    noise = torch.randn(videos[:100].shape, generator=torch.Generator().manual_seed(0))
    noisy = gaussian_blur(videos[:100]) + 0.1 * noise
    acc = judge_batch(noisy, [r["caption"] for r in records[:100]])
    print("judge accuracy on blurred + noisy clips:", acc)
    assert all(acc[a] >= 0.95 for a in ATTRIBUTES), acc


def _change(obj, attribute, used_colors):
    value = {"motion": lambda: OPPOSITE[obj["motion"]], "shape": lambda: NEXT_SHAPE[obj["shape"]],
             "color": lambda: next(c for c in COLORS if c not in used_colors)}[attribute]()
    return obj | {attribute: value}


@pytest.mark.parametrize("attribute", ["color", "shape", "motion"])
def test_wrong_prompt_is_judged_wrong(clips, attribute):
    videos, records = clips
    rng = np.random.default_rng(0)
    for video, record in zip(videos[:40], records[:40]):
        objects = [{k: o[k] for k in ("color", "shape", "motion")} for o in record["objects"]]
        objects[0] = _change(objects[0], attribute, {o["color"] for o in objects})
        verdict = judge_video(video, caption_objects(objects, 0, rng))
        assert verdict[attribute]["correct"] is False, (record["caption"], verdict)
        assert all(verdict[a]["correct"] for a in ATTRIBUTES if a != attribute), (record["caption"], verdict)


def test_verdict_layout(clips):
    videos, records = clips
    i = next(i for i, r in enumerate(records) if len(r["objects"]) == 2)
    verdict = judge_video(videos[i], records[i]["caption"])
    objects = records[i]["objects"]
    assert verdict["color"]["expected"] == [o["color"] for o in objects] == verdict["color"]["predicted"]
    assert verdict["motion"]["predicted"] == [o["motion"] for o in objects]
    assert verdict["count"] == {"predicted": [2], "expected": [2], "correct": True}
    assert set(verdict["measured"][0]) == {"fill", "skew", "m22", "track"}


def test_missing_object_and_unnamed_attribute(clips):
    videos, records = clips
    i = next(i for i, r in enumerate(records) if len(r["objects"]) == 1)
    obj = records[i]["objects"][0]
    other = next(c for c in COLORS if c != obj["color"])
    verdict = judge_video(videos[i], f"a {obj['color']} {obj['shape']} and a {other} square moving left")
    assert verdict["count"]["correct"] is False and verdict["color"]["predicted"][1] is None
    assert verdict["motion"]["predicted"] == [obj["motion"], None]
    verdict = judge_video(videos[i], f"a {obj['shape']} moving {obj['motion']}")  # no color named
    assert verdict["color"]["correct"] is None and verdict["color"]["predicted"] == [obj["color"]]


def test_static_and_empty_videos(clips):
    videos, records = clips
    static = videos[0][:, :1].expand(-1, 16, -1, -1)
    assert judge_video(static, records[0]["caption"])["motion"]["predicted"][0] == "static"
    empty = torch.full_like(videos[0], -0.8)
    verdict = judge_video(empty, "a red circle moving left")
    assert verdict["color"]["predicted"] == [None] and not any(verdict[a]["correct"] for a in ATTRIBUTES)


def test_rejects_other_prompts(clips):
    with pytest.raises(ValueError, match="moving-shapes"):
        judge_video(clips[0][0], "a photo of a cat, the camera pans left")
    with pytest.raises(ValueError, match="prompts"):
        judge_batch(clips[0][:2], ["a red circle moving left"])
