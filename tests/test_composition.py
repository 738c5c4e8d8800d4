"""Layered composition (models.composition): one video per object phrase, composited back to front."""

import torch

from cinediff.evaluation.judge import judge_video
from cinediff.models.composition import (
    LAYER_SEED_KEY,
    border_background,
    composite,
    coverage,
    generate_layered,
    placement,
    translate,
)
from cinediff.runtime import derive_seeds

T, H, W = 4, 32, 32


def layer(background, color, top, left, size=8, edge=None) -> torch.Tensor:
    """(3, T, H, W) in [-1, 1]: a square of ``color`` on ``background``; ``edge``: coverage of a
    one-pixel anti-aliased ring around it (a blend on the line background -> color)."""
    b, c = torch.tensor(background)[:, None, None, None], torch.tensor(color)[:, None, None, None]
    alpha = torch.zeros(1, T, H, W)
    if edge is not None:
        alpha[..., top - 1:top + size + 1, left - 1:left + size + 1] = edge
    alpha[..., top:top + size, left:left + size] = 1.0
    return b + alpha * (c - b)


def test_border_background_is_the_border_median():
    x = layer((-0.8, -0.6, -0.4), (1.0, 0.0, 0.0), 12, 12)
    assert torch.equal(border_background(x), torch.tensor([-0.8, -0.6, -0.4]))


def test_coverage_reads_an_anti_aliased_edge_and_ignores_noise():
    x = layer((-1.0, -1.0, -1.0), (1.0, 1.0, -1.0), 10, 10, edge=0.5)
    x[:, :, 0, 0] += 0.05  # noise under FLOOR
    a = coverage(x, border_background(x))
    assert torch.allclose(a[:, 12, 12], torch.ones(T)) and torch.allclose(a[:, 9, 12], torch.full((T,), 0.5))
    assert a[:, 0, 0].eq(0).all() and a[:, 30, 30].eq(0).all()


def test_translate_moves_and_fills_with_zeros():
    t = torch.arange(16.0).reshape(1, 4, 4)
    moved = translate(t, 1, -2)
    assert torch.equal(moved[0, 1:, :2], t[0, :3, 2:]) and moved[0, 0].eq(0).all() and moved[0, :, 2:].eq(0).all()
    assert translate(t, 4, 0).eq(0).all()


def test_a_free_layer_stays_put_and_an_overlapping_one_moves_clear():
    below = coverage(layer((-1,) * 3, (1.0, 0.0, 0.0), 12, 12), torch.full((3,), -1.0))
    clear = coverage(layer((-1,) * 3, (0.0, 0.0, 1.0), 2, 2), torch.full((3,), -1.0))
    assert placement(below, clear) == (0, 0)
    on_top = coverage(layer((-1,) * 3, (0.0, 0.0, 1.0), 13, 13), torch.full((3,), -1.0))
    dy, dx = placement(below, on_top)
    moved = translate(on_top, dy, dx)
    grown = torch.nn.functional.max_pool2d(below[:, None], 3, stride=1, padding=1)[:, 0]
    assert (grown * moved).sum() == 0 and moved.sum() == on_top.sum()  # clear of it, a pixel apart, all in frame
    assert max(abs(dy), abs(dx)) <= 10  # the nearest free place, not any


def test_composite_paints_each_layer_over_the_first_background():
    """Two one-object layers on different backgrounds (one with anti-aliased edges) composite to the
    two objects on the first layer's background, exactly; a third layer of nothing changes nothing."""
    first = layer((-1.0, -1.0, -1.0), (1.0, -1.0, -1.0), 4, 4)
    second = layer((-0.9, -1.0, -0.8), (-1.0, -1.0, 1.0), 20, 18, edge=0.5)
    empty = torch.tensor([-0.9, -1.0, -0.8])[:, None, None, None].expand(3, T, H, W)
    out = composite(torch.stack([first, second, empty]))
    expected = layer((-1.0, -1.0, -1.0), (-1.0, -1.0, 1.0), 20, 18, edge=0.5)
    expected[:, :, 4:12, 4:12] = first[:, :, 4:12, 4:12]
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.equal(composite(first[None]), first)


def test_composite_keeps_two_objects_drawn_in_the_same_place_apart():
    """Phrases drawn from their own seeds can put their objects on the same spot: the upper layer
    moves, and the judge finds both, each with its own shape and motion."""
    red = layer((-1,) * 3, (1.0, -1.0, -1.0), 12, 12)
    blue = layer((-1,) * 3, (-1.0, -1.0, 1.0), 12, 12)
    verdict = judge_video(composite(torch.stack([red, blue])), "a red square and a blue square")
    assert verdict["count"]["correct"] and verdict["color"]["correct"] and verdict["shape"]["correct"]


def test_generate_layered_draws_each_phrase_with_its_own_seed():
    calls = []

    def draw(prompts, seeds):
        calls.append((list(prompts), list(seeds)))
        return torch.stack([layer((-1,) * 3, (1.0, -1.0, -1.0), 2 + 8 * i, 2, size=6) for i in range(len(prompts))])

    out = generate_layered(draw, ["a red circle moving left", "a red box and a red ball and a red cube"], [5, 9])
    assert calls == [(["a red circle moving left", "a red box", "a red ball", "a red cube"],
                      [5, 9, derive_seeds([9], LAYER_SEED_KEY, 1)[0], derive_seeds([9], LAYER_SEED_KEY, 2)[0]])]
    assert out.shape == (2, 3, T, H, W)
    assert torch.equal(out[0], layer((-1,) * 3, (1.0, -1.0, -1.0), 2, 2, size=6))  # one phrase: as drawn
    assert (out[1] > 0).any(0).sum() == 3 * 36 * T  # three objects, none covering another
