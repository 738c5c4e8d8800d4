"""Images as 1-frame videos (T = 1): frames of any clip data set, or a folder of images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch.utils.data import Dataset

from cinediff.data.files import IMAGE_SUFFIXES
from cinediff.data.folder import VideoFolder, VideoFolderConfig
from cinediff.data.rng import item_rng


class FrameImages(Dataset):
    """One frame of every clip of ``clips``: items keep the caption, video becomes (C, 1, H, W).

    ``frame``: an int, ``"first"``, or ``"random"`` (seeded by (seed, index)); the choice
    is recorded as ``attributes["frame"]``. For the synthetic sets, building them with
    ``frames=1`` renders a still directly and is cheaper.
    """

    def __init__(self, clips: Dataset, frame: int | str = "random", seed: int = 0):
        self.clips, self.frame, self.seed = clips, frame, seed

    def __len__(self) -> int:
        return len(self.clips)

    def pick(self, index: int, frames: int) -> int:
        if self.frame == "random":
            return int(item_rng(self.seed, index, "frame").integers(frames))
        return 0 if self.frame == "first" else min(int(self.frame), frames - 1)

    def still(self, item: dict) -> dict:
        t = self.pick(item["index"], item["video"].shape[1])
        attributes = {**item.get("attributes", {}), "frame": t}
        return {**item, "video": item["video"][:, t : t + 1].clone(), "attributes": attributes}

    def __getitems__(self, indices: Sequence[int]) -> list[dict]:
        fetch = getattr(self.clips, "__getitems__", None)
        items = fetch(list(indices)) if fetch else [self.clips[i] for i in indices]
        return [self.still(item) for item in items]

    def __getitem__(self, index: int) -> dict:
        return self.__getitems__([index])[0]


@dataclass
class ImageFolderConfig(VideoFolderConfig):
    root: str = "images"  # folder of .png/.jpg/... (captions as for videos)
    frames: int = 1  # an image is a 1-frame video
    fps: float | None = None  # the file's own "frame"
    suffixes: tuple[str, ...] = IMAGE_SUFFIXES
    random_start: bool = False


class ImageFolder(VideoFolder):
    """A folder of captioned images as 1-frame videos (3, 1, H, W); broken files are skipped."""

    config_class = ImageFolderConfig
