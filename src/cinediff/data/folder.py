"""folder: a directory of real videos with captions, sampled at a target fps and size.

``root/*.mp4|webm|avi|gif|mov|mkv`` (``recursive`` for sub-folders) with captions from a
sidecar ``<stem>.txt`` or ``root/captions.jsonl`` (``{"file": ..., "caption": ...}`` per
line). Clip ``i`` starts at a random time drawn from (seed, i, epoch). A file that cannot be
decoded, or is too short for ``frames`` at ``fps``, is skipped: item ``i`` is then the next
good file (deterministically), ``stats["skipped"]`` counts it and the file is logged once.
Counters live in each process (DataLoader workers keep their own).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch.utils.data import Dataset

from cinediff.data.files import VIDEO_SUFFIXES, caption_of, list_media, load_caption_index
from cinediff.data.rng import item_rng
from cinediff.io.video import VideoDecodeError, probe_video, read_video

log = logging.getLogger("cinediff.data")


@dataclass
class VideoFolderConfig:
    root: str = "videos"  # folder holding the files
    frames: int = 16  # T frames per clip
    height: int = 64  # H, px (resize to cover, then center crop)
    width: int = 64  # W, px
    fps: float | None = 8.0  # sample frames at this rate; None keeps the file's frames
    suffixes: tuple[str, ...] = VIDEO_SUFFIXES  # file types read
    recursive: bool = False  # also read sub-folders
    random_start: bool = True  # clip start uniform over the file; False: from 0 s
    captions_file: str = "captions.jsonl"  # JSONL captions under root (sidecar .txt wins)
    seed: int = 0  # clip starts depend on (seed, index, epoch)
    epoch: int = 0  # set by ``set_epoch``


def clip_start(path: Path, cfg: VideoFolderConfig, index: int) -> float:
    """A seeded start time (s) leaving room for ``frames`` at ``fps`` (0 if none is left)."""
    if not cfg.random_start:
        return 0.0
    info = probe_video(path)
    rate = cfg.fps or info["fps"] or 25.0
    duration = info["duration"] or (info["num_frames"] / info["fps"] if info["fps"] else 0.0)
    room = duration - cfg.frames / rate
    return float(item_rng(cfg.seed, index, "folder-start", cfg.epoch).uniform(0, room)) if room > 0 else 0.0


def read_clip(path: Path, cfg: VideoFolderConfig, start: float) -> torch.Tensor:
    """(3, frames, H, W) in [-1, 1] from ``start`` s; VideoDecodeError if too short."""
    video = read_video(path, fps=cfg.fps, num_frames=cfg.frames, start_sec=start, size=(cfg.height, cfg.width))
    if video.shape[1] < cfg.frames:
        raise VideoDecodeError(path, f"too short: {video.shape[1]} of {cfg.frames} frames from {start:.2f} s")
    return video


class VideoFolder(Dataset):
    """A folder of captioned videos; ``VideoFolder(root="clips", frames=8)``.

    Items: ``{"video": (3, T, H, W) float32 in [-1, 1], "caption", "fps", "attributes", "index"}``;
    attributes name the ``file`` actually read (another one if file ``index`` is broken).
    """

    config_class = VideoFolderConfig

    def __init__(self, config: VideoFolderConfig | None = None, **overrides):
        self.config = replace(config or self.config_class(), **overrides)
        self.root = Path(self.config.root)
        self.files = list_media(self.root, tuple(self.config.suffixes), self.config.recursive)
        if not self.files:
            raise FileNotFoundError(f"no {'/'.join(self.config.suffixes)} files in {self.root}")
        self.captions = load_caption_index(self.root / self.config.captions_file)
        self.broken: dict[int, str] = {}  # file number -> reason, filled as files fail
        self.stats = {"skipped": 0, "broken_files": 0}

    def __len__(self) -> int:
        return len(self.files)

    def set_epoch(self, epoch: int) -> None:
        self.config = replace(self.config, epoch=epoch)

    def load(self, number: int, index: int) -> dict:
        """Item from file ``number`` with the random start of item ``index`` (may raise)."""
        path = self.files[number]
        start = clip_start(path, self.config, index)
        video = read_clip(path, self.config, start)
        fps = float(self.config.fps or probe_video(path)["fps"] or 0.0)
        caption = caption_of(path, self.root, self.captions)
        record = {"dataset": "folder", "file": path.relative_to(self.root).as_posix(), "start_sec": round(start, 4),
                  "caption": caption}
        return {"video": video, "caption": caption, "fps": fps, "attributes": record, "index": index}

    def mark_broken(self, number: int, error: Exception) -> None:
        self.broken[number] = str(error)
        self.stats["broken_files"] += 1
        log.warning("skipping undecodable video %s: %s", self.files[number], error)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} files")
        for step in range(len(self.files)):
            number = (index + step) % len(self.files)
            if number in self.broken:
                continue
            try:
                item = self.load(number, index)
            except Exception as error:  # any decoder failure: never stop training
                self.mark_broken(number, error)
                continue
            self.stats["skipped"] += number != index
            return item | {"skipped": int(number != index)}  # the trainer counts replaced items in metrics.jsonl
        example = next(iter(self.broken.values()))
        raise RuntimeError(f"none of the {len(self.files)} files in {self.root} could be decoded; e.g. {example}")
