"""CLIPSIM with a tiny random CLIPModel saved to a local directory."""

import socket

import pytest
import torch
import torch.nn.functional as F

from cinediff.evaluation.clipsim import clipsim, load_clip, preprocess_frames

MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]


def _no_network(*args, **kwargs):
    raise AssertionError("CLIPSIM must never touch the network")


def clip_tokenizer():
    """A CLIPTokenizer over a tiny character vocabulary (as in tests/test_text.py)."""
    from transformers import CLIPTokenizer

    words = "a red blue circle square moving left right".split()
    chars = sorted(set("".join(words)))
    specials = ["<|startoftext|>", "<|endoftext|>"]
    tokens = specials + chars + [c + "</w>" for c in chars] + [w + "</w>" for w in words]
    return CLIPTokenizer(vocab={t: i for i, t in enumerate(tokens)}, merges=[])


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(0)
    tokenizer = clip_tokenizer()
    text = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, bos_token_id=0, eos_token_id=1, pad_token_id=1)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  image_size=32, patch_size=8)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).eval()
    path = tmp_path_factory.mktemp("clip")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size=32, image_mean=MEAN, image_std=STD).save_pretrained(path)
    return path, model, tokenizer


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _no_network)


def _features(out):
    return out if torch.is_tensor(out) else out.pooler_output


def test_matches_manual_computation(clip_dir, offline):
    path, model, tokenizer = clip_dir
    clip = load_clip(path)
    assert clip.image_size == 32 and torch.equal(clip.mean, torch.tensor(MEAN))
    videos = torch.rand(2, 3, 4, 32, 32) * 2 - 1
    prompts = ["a red circle moving left", "a blue square"]
    scores = clipsim(videos, prompts, clip, batch_size=3)

    pixels = ((videos + 1) / 2 - torch.tensor(MEAN)[:, None, None, None]) / torch.tensor(STD)[:, None, None, None]
    batch = tokenizer(prompts, padding=True, return_tensors="pt")
    with torch.no_grad():
        text = F.normalize(_features(model.get_text_features(**batch)), dim=-1)
        for i in range(2):
            image = F.normalize(_features(model.get_image_features(pixel_values=pixels[i].transpose(0, 1))), dim=-1)
            torch.testing.assert_close(scores[i], (image @ text[i]).mean(), atol=1e-5, rtol=1e-5)
    assert scores.shape == (2,) and scores.abs().max() <= 1


def test_resizes_any_frame_size(clip_dir, offline):
    clip = load_clip(clip_dir[0])
    color = torch.tensor([0.2, -0.5, 0.7])[None, :, None, None, None]
    small, wide = color.expand(1, 3, 2, 32, 32), color.expand(1, 3, 2, 48, 80)
    assert preprocess_frames(clip, wide[:, :, 0]).shape == (1, 3, 32, 32)
    torch.testing.assert_close(clipsim(wide, ["a red circle"], clip), clipsim(small, ["a red circle"], clip))


def test_missing_or_wrong_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        load_clip(tmp_path / "nothing-here")
    with pytest.raises(ValueError, match="config.json"):
        load_clip(tmp_path)
