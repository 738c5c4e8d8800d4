"""CLIPSIM: mean over frames of the cosine similarity between the CLIP image embedding of
each frame and the CLIP text embedding of the prompt (GODIVA, Wu et al. 2021).

Reported raw, a cosine in [-1, 1] (typically 0.2-0.35 for matching pairs with ViT-B/32).
Papers print it raw (e.g. 0.2930) or x100 (29.30); CLIPScore (Hessel et al.) also clips at
0 and scales by 2.5. Say which CLIP (it changes the number) and which scale you report.

CLIP loads from a local transformers directory (``CLIPModel`` + tokenizer, optionally a
``preprocessor_config.json``); nothing is downloaded. Frames are preprocessed on tensors
like ``CLIPImageProcessor``: shorter side resized to the model's image size (bicubic,
antialiased), center crop, normalised with the processor's mean/std (OpenAI CLIP's when
the directory has no processor config). PIL's bicubic differs slightly from torch's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class CLIP:
    """A CLIPModel with its tokenizer and image normalisation."""

    model: torch.nn.Module
    tokenizer: object
    image_size: int
    mean: torch.Tensor  # (3,)
    std: torch.Tensor  # (3,)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def load_clip(path: str | Path, device: str | torch.device = "cpu") -> CLIP:
    """Load a CLIPModel, its tokenizer and image mean/std from a local directory."""
    from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

    from cinediff.text.encoders import local_model_dir

    path, model_type = local_model_dir(path, "CLIP model")
    if model_type != "clip":
        raise ValueError(f"{str(path)!r} is not a CLIPModel (image and text towers)")
    model = CLIPModel.from_pretrained(path, local_files_only=True, dtype=torch.float32).eval().to(device)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    mean, std = OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
    if (path / "preprocessor_config.json").is_file():
        processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
        mean, std = processor.image_mean, processor.image_std
    return CLIP(model.requires_grad_(False), tokenizer, model.config.vision_config.image_size,
                torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32))


def _pooled(out) -> torch.Tensor:
    """get_*_features returns a tensor (transformers 4) or an output whose pooler_output is projected (5)."""
    return out if torch.is_tensor(out) else out.pooler_output


def preprocess_frames(clip: CLIP, frames: torch.Tensor) -> torch.Tensor:
    """Frames (N, C, H, W) in [-1, 1] -> CLIP pixel values (N, 3, S, S)."""
    frames = ((frames.float() + 1) / 2).expand(-1, 3, -1, -1)
    h, w = frames.shape[-2:]
    s = clip.image_size
    size = (max(s, round(h * s / min(h, w))), max(s, round(w * s / min(h, w))))
    if size != (h, w):
        frames = F.interpolate(frames, size=size, mode="bicubic", align_corners=False, antialias=True)
    top, left = (size[0] - s) // 2, (size[1] - s) // 2
    frames = frames[..., top : top + s, left : left + s].clamp(0, 1)
    return (frames - clip.mean[:, None, None]) / clip.std[:, None, None]


@torch.no_grad()
def image_embeddings(clip: CLIP, frames: torch.Tensor) -> torch.Tensor:
    """Unit-norm image embeddings (N, D) of frames (N, C, H, W) in [-1, 1]."""
    pixels = preprocess_frames(clip, frames).to(clip.device)
    return F.normalize(_pooled(clip.model.get_image_features(pixel_values=pixels)).float(), dim=-1)


@torch.no_grad()
def text_embeddings(clip: CLIP, prompts: list[str]) -> torch.Tensor:
    """Unit-norm text embeddings (B, D) of prompts (truncated to the text tower's length)."""
    max_length = clip.model.config.text_config.max_position_embeddings
    batch = clip.tokenizer(list(prompts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    out = clip.model.get_text_features(input_ids=batch["input_ids"].to(clip.device),
                                       attention_mask=batch["attention_mask"].to(clip.device))
    return F.normalize(_pooled(out).float(), dim=-1)


def clipsim(videos: torch.Tensor, prompts: list[str], clip: CLIP, batch_size: int = 64) -> torch.Tensor:
    """(B,) raw CLIPSIM of videos (B, C, T, H, W) in [-1, 1] and their prompts."""
    if len(videos) != len(prompts):
        raise ValueError(f"{len(videos)} videos but {len(prompts)} prompts")
    b = videos.shape[0]
    frames = rearrange(videos, "b c t h w -> (b t) c h w")
    image = torch.cat([image_embeddings(clip, chunk) for chunk in frames.split(batch_size)])
    image = rearrange(image, "(b t) d -> b t d", b=b)  # (B, T, D)
    text = text_embeddings(clip, prompts).to(image.device)  # (B, D)
    return torch.einsum("btd,bd->bt", image, text).mean(1).cpu()
