"""Temporal consistency and flicker on static, moving and noise clips."""

import pytest
import torch

from cinediff.data.shapes import MovingShapes
from cinediff.evaluation.temporal import flicker, pixel_features, temporal_consistency


def test_static_clip():
    frame = torch.rand(2, 3, 1, 40, 48) * 2 - 1
    static = frame.expand(-1, -1, 8, -1, -1)
    torch.testing.assert_close(temporal_consistency(static), torch.ones(2))
    assert torch.equal(flicker(static), torch.zeros(2))


def test_noise_clip():
    noise = torch.rand(3, 3, 16, 64, 64) * 2 - 1
    assert temporal_consistency(noise).abs().max() < 0.05
    torch.testing.assert_close(flicker(noise), torch.full((3,), 1 / 3), atol=5e-3, rtol=0)


def test_moving_shapes_in_between():
    video = MovingShapes(length=4, max_objects=1)[0]["video"][None]
    static = video[:, :, :1].expand_as(video)
    noise = torch.rand_like(video) * 2 - 1
    assert temporal_consistency(noise) < temporal_consistency(video) < temporal_consistency(static)
    assert flicker(static) < flicker(video) < 0.05 < flicker(noise)


def test_custom_features_and_shapes():
    videos = torch.randn(2, 3, 5, 16, 16)
    assert pixel_features(videos[:, :, 0]).shape == (2, 3 * 16 * 16)  # never upsampled
    mean_color = lambda frames: frames.mean((2, 3))  # (N, C)
    assert temporal_consistency(videos, mean_color).shape == (2,)
    with pytest.raises(ValueError, match="T >= 2"):
        flicker(videos[:, :, :1])
