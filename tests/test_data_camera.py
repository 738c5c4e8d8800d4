"""camera-moves: pans and zooms over scikit-image photos move the content as recorded."""

import json

import torch
import torch.nn.functional as F

from cinediff.data.camera import PHOTOS, CameraMoves, load_photo
from cinediff.data.captions import parse_caption


def gray(frame):
    return frame.mean(0)


def best_shift(a, b, axis, max_shift=40):
    """Integer shift s (px) along ``axis`` (0: x, 1: y) minimising |b(p) - a(p - s)|^2."""
    dim = 1 if axis == 0 else 0
    n = a.shape[dim]

    def err(s):
        if s >= 0:
            return F.mse_loss(b.narrow(dim, s, n - s), a.narrow(dim, 0, n - s))
        return F.mse_loss(b.narrow(dim, 0, n + s), a.narrow(dim, -s, n + s))

    return min(range(-max_shift, max_shift + 1), key=lambda s: float(err(s)))


def test_photos_load_offline():
    for name in PHOTOS:
        photo = load_photo(name)
        assert photo.shape[0] == 3 and photo.min() >= -1 and photo.max() <= 1 and photo.shape[1] >= 150


def test_item_format_determinism_and_batch():
    ds = CameraMoves(length=30)
    item = ds[2]
    assert item["video"].shape == (3, 16, 64, 64) and item["video"].dtype == torch.float32
    json.dumps(item["attributes"])
    assert torch.equal(item["video"], CameraMoves(length=30)[2]["video"])
    assert not torch.equal(item["video"], ds[3]["video"])
    videos, _ = ds.render_batch([2, 3, 4, 5])
    assert torch.allclose(videos, torch.stack([ds[i]["video"] for i in (2, 3, 4, 5)]), atol=1e-6)
    parsed = parse_caption(item["caption"])
    assert parsed == {"subject": item["attributes"]["subject"], "camera": item["attributes"]["camera"]}


def test_pans_move_the_content_the_other_way():
    ds = CameraMoves(moves=("pan_left", "pan_right", "pan_up", "pan_down"), photos=("astronaut", "chelsea", "coffee", "brick", "coins"), length=20)
    videos, records = ds.render_batch(range(20))
    expected_sign = {"pan_left": 1, "pan_right": -1, "pan_up": 1, "pan_down": -1}  # content moves opposite
    for video, record in zip(videos, records):
        axis = 0 if record["camera"] in ("pan_left", "pan_right") else 1
        (w0, w1) = record["start_window"], record["end_window"]
        expected = -(w1[axis] - w0[axis]) / w0[2 + axis] * 64  # content shift in output px
        assert expected * expected_sign[record["camera"]] >= 0.25 * 64 - 1e-3
        shift = best_shift(gray(video[:, 0]), gray(video[:, -1]), axis)
        assert abs(shift - expected) <= 1.5, (record["caption"], shift, expected)


def test_zooms_scale_the_content_about_the_center():
    ds = CameraMoves(moves=("zoom_in", "zoom_out"), photos=("astronaut", "chelsea", "coffee", "camera"), length=12)
    videos, records = ds.render_batch(range(12))
    for video, record in zip(videos, records):
        narrow, wide = sorted((record["start_window"], record["end_window"]), key=lambda w: w[2])
        frames = (video[:, 0], video[:, -1]) if record["camera"] == "zoom_out" else (video[:, -1], video[:, 0])
        assert wide[2] / narrow[2] >= 1.5 - 1e-4  # area >= 2.25x
        # The narrow frame shows the middle of the wide frame: crop and upscale the wide one.
        scale = narrow[2] / wide[2]
        theta = torch.tensor([[scale, 0.0, 0.0], [0.0, narrow[3] / wide[3], 0.0]])[None]
        grid = F.affine_grid(theta, (1, 3, 64, 64), align_corners=False)
        predicted = F.grid_sample(frames[1][None], grid, align_corners=False)[0]
        err, baseline = F.mse_loss(predicted, frames[0]), F.mse_loss(frames[1], frames[0])
        assert err < 0.35 * baseline, (record["caption"], float(err), float(baseline))
