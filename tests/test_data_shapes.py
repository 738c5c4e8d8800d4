"""moving-shapes: the attribute records must match the pixels."""

import json
import math

import pytest
import torch

from cinediff.data.attributes import COLORS, rgb_to_unit
from cinediff.data.shapes import MovingShapes, bench_moving_shapes

PALETTE = {name: torch.tensor(rgb_to_unit(rgb)) for name, rgb in COLORS.items()}
# Written out here (not imported) so that a swapped direction in the library fails the test.
DIRECTION = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}  # y points down
FILL_RATIO = {"circle": math.pi / 4, "square": 1.0, "triangle": 0.5}  # area / bounding box


@pytest.fixture(scope="module")
def clips():
    ds = MovingShapes(split="all", length=400)
    videos, records = ds.render_batch(range(240))
    return videos, records


def coverage_of(video, record, obj):
    """Per-pixel coverage (T, H, W) of a single object, from its stated color."""
    bg = torch.tensor(rgb_to_unit(record["background_rgb"]))[:, None, None, None]
    color = torch.tensor(rgb_to_unit(obj["rgb"]))[:, None, None, None]
    return ((video - bg) * (color - bg)).sum(0) / ((color - bg) ** 2).sum(0)


def centroid(alpha):
    """Coverage-weighted center [x, y] (pixel centers at +0.5) of a (H, W) map."""
    h, w = alpha.shape
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    return torch.stack([(alpha * xs).sum(), (alpha * ys).sum()]) / alpha.sum()


def fill_ratio(alpha):
    """Covered area / bounding-box area of a (H, W) coverage map."""
    mask = alpha > 0.5
    rows, cols = mask.any(1).nonzero(), mask.any(0).nonzero()
    box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    return float(alpha.sum() / box)


def singles(clips):
    videos, records = clips
    return [(v, r, r["objects"][0]) for v, r in zip(videos, records) if len(r["objects"]) == 1]


def test_item_format():
    item = MovingShapes()[3]
    assert set(item) == {"video", "caption", "fps", "attributes", "index"}
    assert item["video"].shape == (3, 16, 64, 64) and item["video"].dtype == torch.float32
    assert item["video"].min() >= -1 and item["video"].max() <= 1
    assert item["fps"] == 8.0 and item["index"] == 3 and item["caption"] == item["attributes"]["caption"]
    json.dumps(item["attributes"])


def test_deterministic_by_seed_and_index():
    a, b = MovingShapes(seed=5), MovingShapes(seed=5)
    assert torch.equal(a[7]["video"], b[7]["video"]) and a[7]["caption"] == b[7]["caption"]
    assert not torch.equal(a[7]["video"], a[8]["video"])
    assert not torch.equal(a[7]["video"], MovingShapes(seed=6)[7]["video"])


def test_render_batch_equals_items():
    ds = MovingShapes()
    indices = [0, 5, 17, 3, 99, 42, 64, 1]
    videos, records = ds.render_batch(indices)
    assert torch.equal(videos, torch.stack([ds[i]["video"] for i in indices]))
    assert records == [ds.attributes(i) for i in indices]


def test_color_is_dominant_non_background_color(clips):
    for video, record, obj in singles(clips):
        bg = torch.tensor(rgb_to_unit(record["background_rgb"]))[:, None, None, None]
        far = (video - bg).abs().amax(0) > 0.5 * (video - bg).abs().amax()  # (T, H, W)
        mean = video[:, far].mean(1)
        nearest = min(PALETTE, key=lambda name: float((PALETTE[name] - mean).norm()))
        assert nearest == obj["color"], record["caption"]


def test_motion_matches_pixels(clips):
    for video, record, obj in singles(clips):
        alpha = coverage_of(video, record, obj)
        first, last = alpha[0], alpha[-1]
        if obj["motion"] in DIRECTION:
            shift = centroid(last) - centroid(first)
            direction = torch.tensor(DIRECTION[obj["motion"]])
            along = float(shift @ direction) / 64
            assert 0.24 <= along <= 0.61, (record["caption"], along)
            assert float((shift - along * 64 * direction).abs().max()) < 0.1  # no sideways drift
        else:
            ratio = float(last.sum() / first.sum())
            ratio = ratio if obj["motion"] == "growing" else 1 / ratio
            assert ratio >= 2.0, (record["caption"], ratio)


def test_record_positions_match_pixels(clips):
    for video, record, obj in singles(clips):
        alpha = coverage_of(video, record, obj)
        for frame, key, size in ((0, "start_center", "start_diameter"), (-1, "end_center", "end_diameter")):
            expected = torch.tensor(obj[key])
            if obj["shape"] == "triangle":  # the centroid lies r / (2 sqrt 3) below the box center
                expected[1] += obj[size] / 2 / (2 * math.sqrt(3))
            assert float((centroid(alpha[frame]) - expected).abs().max()) < 0.15, record["caption"]


def test_shape_identifiable_by_fill_ratio(clips):
    for video, record, obj in singles(clips):
        alpha = coverage_of(video, record, obj)
        biggest = alpha[alpha.sum((1, 2)).argmax()]
        ratio = fill_ratio(biggest)
        guess = min(FILL_RATIO, key=lambda s: abs(FILL_RATIO[s] - ratio))
        assert guess == obj["shape"], (record["caption"], ratio)


def test_sizes_and_objects_stay_in_frame(clips):
    videos, records = clips
    for video, record in zip(videos, records):
        bg = torch.tensor(rgb_to_unit(record["background_rgb"]))[:, None, None]
        border = torch.cat([video[:, :, 0], video[:, :, -1], video[:, :, :, 0], video[:, :, :, -1]], 2)
        assert torch.allclose(border, bg.expand_as(border), atol=1e-6), record["caption"]
        for obj in record["objects"]:
            assert 12 - 1e-6 <= min(obj["start_diameter"], obj["end_diameter"]) <= 24 + 1e-6
            assert 12 - 1e-6 <= max(obj["start_diameter"], obj["end_diameter"]) <= 24 + 1e-6


def test_two_objects_have_different_colors_and_both_show(clips):
    videos, records = clips
    pairs = [(v, r) for v, r in zip(videos, records) if len(r["objects"]) == 2]
    assert 0.2 * len(records) < len(pairs) < 0.4 * len(records)  # two_object_prob = 0.3
    for video, record in pairs:
        a, b = record["objects"]
        assert a["color"] != b["color"] and " and " in record["caption"]
        for obj in (a, b):
            for frame in (video[:, 0], video[:, -1]):
                near = (frame - PALETTE[obj["color"]][:, None, None]).abs().amax(0) < 0.02
                assert near.sum() > 30, record["caption"]  # a solid interior (12 px wide at least)


def test_gray_background_and_resolution_scaling():
    ds = MovingShapes(background="gray", height=32, width=48, frames=5, max_objects=1)
    item = ds[0]
    assert item["video"].shape == (3, 5, 32, 48)
    assert torch.allclose(item["video"][:, 0, 0, 0], torch.tensor(rgb_to_unit((128, 128, 128))))
    for i in range(50):
        obj = ds.attributes(i)["objects"][0]
        assert 6 - 1e-6 <= min(obj["start_diameter"], obj["end_diameter"]) <= 12 + 1e-6  # 12-24 px at 64


def test_dataloader_batches():
    loader = torch.utils.data.DataLoader(MovingShapes(length=10), batch_size=4, collate_fn=lambda items: items)
    batch = next(iter(loader))
    assert [item["index"] for item in batch] == [0, 1, 2, 3]


def test_bench_reports_a_rate():
    speed = bench_moving_shapes(n=16, frames=4)  # no threshold: timings on shared machines are noise
    print(f"moving-shapes: {speed:.0f} clips/s (4x64x64)")
    assert math.isfinite(speed) and speed > 0
