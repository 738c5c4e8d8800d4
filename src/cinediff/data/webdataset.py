"""webdataset: captioned videos in ``.tar`` shards, streamed shard by shard (stdlib tarfile).

A sample is the run of consecutive members sharing a key (the member path up to the first
"." of its name): ``000001.mp4`` + ``000001.txt`` (the caption) or ``000001.json`` (with a
``"caption"`` field). Shards are split among DDP ranks and DataLoader workers (every
``count``-th shard of the epoch's seeded shard order). An undecodable or too short video,
or a damaged tar, is skipped, counted in ``stats`` and logged once; it never stops training.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from torch.utils.data import IterableDataset

from cinediff.data.folder import VideoFolderConfig, clip_start, read_clip
from cinediff.data.sharding import Shard, current_shard, epoch_order, shard_slice

log = logging.getLogger("cinediff.data")
SHARD_STRIDE = 1 << 20  # item index = shard number * SHARD_STRIDE + sample number in the shard


@dataclass
class WebDatasetConfig(VideoFolderConfig):
    shards: list[str] | str = field(default_factory=list)  # tar paths, globs ("data/*.tar") or a folder
    shuffle_shards: bool = True  # seeded shard order per epoch (same on every rank)
    rank: int | None = None  # DDP rank / world size; None: from torch.distributed
    world_size: int | None = None


def expand_shards(shards: list[str] | str) -> list[Path]:
    """Sorted tar paths from paths, glob patterns and folders."""
    out: list[Path] = []
    for entry in [shards] if isinstance(shards, str | os.PathLike) else shards:
        path = Path(entry)
        out += sorted(path.glob("*.tar")) if path.is_dir() else [Path(p) for p in sorted(glob.glob(str(entry)))]
    if not out:
        raise FileNotFoundError(f"no .tar shards in {shards!r}")
    return out


def split_key(name: str) -> tuple[str, str]:
    """``"dir/000001.mp4"`` -> (``"dir/000001"``, ``"mp4"``): the key ends at the name's first "."."""
    folder, _, base = name.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), ext.lower()


def tar_samples(path: Path) -> Iterator[dict[str, bytes]]:
    """Samples ``{"__key__": key, ext: bytes, ...}`` of one tar, streamed in member order."""
    sample: dict = {}
    with tarfile.open(path, mode="r|*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            key, ext = split_key(member.name)
            if sample and sample["__key__"] != key:
                yield sample
                sample = {}
            sample["__key__"] = key
            sample[ext] = tar.extractfile(member).read()
    if sample:
        yield sample


def sample_caption(sample: dict[str, bytes]) -> str:
    if "txt" in sample:
        return sample["txt"].decode("utf-8").strip()
    if "json" in sample:
        return str(json.loads(sample["json"]).get("caption", ""))
    return ""


class WebDataset(IterableDataset):
    """Stream of items ``{"video", "caption", "fps", "attributes", "index"}`` from tar shards.

    ``WebDataset(shards="data/*.tar", frames=8)``; call ``set_epoch`` every epoch.
    """

    def __init__(self, config: WebDatasetConfig | None = None, **overrides):
        self.config = replace(config or WebDatasetConfig(), **overrides)
        self.shards = expand_shards(self.config.shards)
        self.stats = {"samples": 0, "skipped": 0, "broken_shards": 0}
        self._reported = 0  # skips already handed to the trainer with an item
        self.logged: set[str] = set()

    def set_epoch(self, epoch: int) -> None:
        self.config = replace(self.config, epoch=epoch)

    def my_shards(self, shard: Shard | None = None) -> list[int]:
        """Tar numbers that ``shard`` (default: this rank and worker) reads this epoch."""
        cfg = self.config
        order = epoch_order(len(self.shards), cfg.seed, cfg.epoch, cfg.shuffle_shards)
        return [int(s) for s in shard_slice(order, shard or current_shard(cfg.rank, cfg.world_size))]

    def skip(self, what: str, error: Exception, counter: str) -> None:
        self.stats[counter] += 1
        if what not in self.logged:
            self.logged.add(what)
            log.warning("skipping %s: %s", what, error)

    def decode(self, sample: dict[str, bytes], shard: int, number: int) -> dict | None:
        """The item of one sample, or None (counted and logged) when it cannot be used."""
        ext = next((e for e in sample if f".{e}" in self.config.suffixes), None)
        name = f"{self.shards[shard].name}:{sample['__key__']}"
        if ext is None:
            self.skip(name, ValueError("no video member"), "skipped")
            return None
        index = shard * SHARD_STRIDE + number
        with tempfile.NamedTemporaryFile(suffix=f".{ext}") as tmp:  # the decoder reads paths
            tmp.write(sample[ext])
            tmp.flush()
            try:
                start = clip_start(Path(tmp.name), self.config, index)
                video = read_clip(Path(tmp.name), self.config, start)
            except Exception as error:  # any decoder failure: never stop training
                self.skip(name, error, "skipped")
                return None
        caption = sample_caption(sample)
        record = {"dataset": "webdataset", "shard": self.shards[shard].name, "key": sample["__key__"],
                  "start_sec": round(start, 4), "caption": caption}
        fps = float(self.config.fps or 0.0)
        return {"video": video, "caption": caption, "fps": fps, "attributes": record, "index": index}

    def __iter__(self) -> Iterator[dict]:
        seen = good = 0
        for shard in self.my_shards():
            try:
                for number, sample in enumerate(tar_samples(self.shards[shard])):
                    seen += 1
                    before = self.stats["skipped"] + self.stats["broken_shards"]
                    item = self.decode(sample, shard, number)
                    if item is not None:
                        good += 1
                        self.stats["samples"] += 1
                        # samples and shards skipped since the previous item (the trainer sums them)
                        yield item | {"skipped": before - self._reported}
                        self._reported = before
            except (tarfile.TarError, OSError, EOFError) as error:  # damaged shard: keep what was read
                self.skip(str(self.shards[shard]), error, "broken_shards")
        if seen and not good:
            raise RuntimeError(f"none of the {seen} samples in this worker's shards could be decoded (see the log)")
