"""moving-digits: sklearn digits, upscaled, moving as their records say."""

import json

import torch

from cinediff.data.captions import parse_caption
from cinediff.data.digits import MovingDigits, digit_glyphs

DIRECTION = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}  # y points down


def brightness(video, record):
    """Coverage (T, H, W) of white digits over the background."""
    bg = record["background_rgb"][0] / 127.5 - 1
    white = record["objects"][0]["rgb"][0] / 127.5 - 1
    return ((video.mean(0) - bg) / (white - bg)).clamp(0, 1)


def centroid(alpha):
    h, w = alpha.shape
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    return torch.stack([(alpha * xs).sum(), (alpha * ys).sum()]) / alpha.sum()


def test_item_format_and_determinism():
    ds = MovingDigits(length=50)
    item = ds[4]
    assert item["video"].shape == (3, 16, 64, 64) and item["video"].dtype == torch.float32
    assert -1 <= item["video"].min() and item["video"].max() <= 1
    json.dumps(item["attributes"])
    assert torch.equal(item["video"], MovingDigits(length=50)[4]["video"])
    assert not torch.equal(item["video"], ds[5]["video"])
    videos, _ = ds.render_batch([4, 5, 6])
    assert torch.allclose(videos, torch.stack([ds[i]["video"] for i in (4, 5, 6)]), atol=1e-6)


def test_labels_captions_and_sizes():
    ds = MovingDigits(length=200)
    labels = digit_glyphs()[1]
    for i in range(200):
        record = ds.attributes(i)
        expected = [{"digit": o["digit"], "motion": o["motion"]} for o in record["objects"]]
        assert parse_caption(record["caption"]) == {"objects": expected}, record["caption"]
        for obj in record["objects"]:
            assert labels[obj["sample"]] == obj["digit"]
            assert 20 <= obj["start_diameter"] <= 28


def test_digits_move_as_stated_and_stay_in_frame():
    ds = MovingDigits(max_objects=1, length=60)
    videos, records = ds.render_batch(range(60))
    for video, record in zip(videos, records):
        obj = record["objects"][0]
        alpha = brightness(video, record)
        shift = centroid(alpha[-1]) - centroid(alpha[0])
        along = float(shift @ torch.tensor(DIRECTION[obj["motion"]])) / 64
        assert 0.22 <= along <= 0.63, (record["caption"], along)
        height = alpha[0].gt(0.3).any(1).nonzero()
        extent = int(height.max() - height.min() + 1)
        assert 0.7 * obj["start_diameter"] <= extent <= obj["start_diameter"] + 3, (record["caption"], extent)
        border = torch.cat([alpha[:, 0], alpha[:, -1], alpha[:, :, 0], alpha[:, :, -1]], 1)
        assert border.max() < 0.05


def test_bounce_reflects_inside_the_frame():
    ds = MovingDigits(max_objects=1, bounce=True, length=20, track={"diameter": (20.0, 28.0), "travel": (1.0, 1.5)})
    videos, records = ds.render_batch(range(20))
    for video, record in zip(videos, records):
        obj = record["objects"][0]
        x_lo, y_lo, x_hi, y_hi = obj["bounds"]
        assert x_lo <= obj["end_center"][0] <= x_hi and y_lo <= obj["end_center"][1] <= y_hi
        alpha = brightness(video, record)
        glyph_offset = centroid(alpha[0]) - torch.tensor(obj["start_center"])  # ink is not centred in its box
        assert float((centroid(alpha[-1]) - glyph_offset - torch.tensor(obj["end_center"])).abs().max()) < 1.0
