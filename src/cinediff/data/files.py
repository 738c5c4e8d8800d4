"""Media files on disk and their captions: a sidecar ``<stem>.txt`` or one ``captions.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path

VIDEO_SUFFIXES = (".mp4", ".webm", ".avi", ".gif", ".mov", ".mkv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def list_media(root: str | Path, suffixes: tuple[str, ...], recursive: bool = False) -> list[Path]:
    """Files under ``root`` with one of ``suffixes`` (any case), sorted by relative path."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no such folder: {root}")
    found = root.rglob("*") if recursive else root.iterdir()
    return sorted(p for p in found if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith("."))


def load_caption_index(path: str | Path) -> dict[str, str]:
    """``{"file": ..., "caption": ...}`` lines of a JSONL file as {file: caption} (empty if absent)."""
    path = Path(path)
    if not path.is_file():
        return {}
    rows = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {str(row["file"]): str(row["caption"]) for row in rows}


def caption_of(path: Path, root: Path, index: dict[str, str]) -> str:
    """Caption of a media file: its sidecar ``.txt``, else its entry in ``index`` (by path
    relative to ``root`` or by name), else ""."""
    sidecar = path.with_suffix(".txt")
    if sidecar.is_file():
        return sidecar.read_text().strip()
    return index.get(path.relative_to(root).as_posix(), index.get(path.name, ""))
