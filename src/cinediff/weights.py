"""Atomic file writes, and weight files: safetensors only (never pickle), read with clear errors.

safetensors has no checksum, so every file :func:`save_tensors` writes carries one in its own
metadata (``cinediff.sha256``: SHA-256 over each tensor's name, dtype, shape and bytes, in name
order); :func:`load_tensors` recomputes it and refuses a mismatch, and refuses NaN or infinite
values in floating-point tensors (non-finite weights are never what a user wants to load). Files
without the entry (written elsewhere, e.g. by diffusers) load with the finiteness check only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file


class CheckpointError(ValueError):
    """A checkpoint or weight file is corrupt or is not what it claims to be."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path`` (parent folder created); when the block succeeds
    fsync it and rename it over ``path``, otherwise delete it. Readers see the old file or the
    complete new one, never a half-written file, even after SIGKILL."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")  # not mkstemp: keeps umask permissions
    try:
        yield str(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # some writers (safetensors) create 0600 files
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """``write(tmp_path)`` inside :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`atomic_path`)."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def atomic_write_json(path: str | os.PathLike, payload, indent: int = 1) -> Path:
    """Write ``payload`` as JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(payload, indent=indent))


CHECKSUM_KEY = "cinediff.sha256"


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 (hex) over every tensor's name, dtype, shape and raw bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> Path:
    """Atomically write ``tensors`` (moved to CPU, contiguous) with their checksum; metadata values are
    stored as JSON."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    meta = {k: json.dumps(v) for k, v in (metadata or {}).items()} | {CHECKSUM_KEY: tensors_sha256(tensors)}
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def verify_tensors(path: Path, tensors: dict[str, torch.Tensor], expected: str | None) -> None:
    """:class:`CheckpointError` when ``tensors`` read from ``path`` miss their checksum or hold NaN / inf."""
    if expected is not None and tensors_sha256(tensors) != expected:
        raise CheckpointError(f"weights file {path} is corrupt: its tensor bytes do not match the SHA-256 "
                              "written with it")
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"weights file {path} holds NaN or infinite values (tensor {name!r}); "
                                  "refusing to load it")


def load_tensors(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Read a safetensors file: ``FileNotFoundError`` if missing, :class:`CheckpointError` if corrupt."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    try:
        with safe_open(path, "pt") as f:
            expected = (f.metadata() or {}).get(CHECKSUM_KEY)
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"weights file {path} is corrupt or not safetensors: {err}") from err
    verify_tensors(path, tensors, expected)
    return tensors if str(device) == "cpu" else {k: v.to(device) for k, v in tensors.items()}
