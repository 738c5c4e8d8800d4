"""Several data sets as one: ``build_dataset("concat", sets=[...], frames=4, ...)``.

Each entry of ``sets`` is a registry name or a table ``{name = "...", <that set's fields>}``;
the remaining keyword arguments go to every set (clip shape, split, ...). Item ``i`` is item
``i - offset`` of the set that holds it; the trainer's shuffled order mixes the sets.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from torch.utils.data import Dataset


class ConcatSets(Dataset):
    """The concatenation of ``sets`` (names or ``{"name": ..., **fields}``), each built with ``common`` fields."""

    def __init__(self, sets: Sequence[str | dict] = ("moving-shapes", "moving-digits", "camera-moves"), **common):
        from cinediff.data import build_dataset

        if not sets:
            raise ValueError("concat needs at least one data set in `sets`")
        self.parts = []
        for entry in sets:
            spec = {"name": entry} if isinstance(entry, str) else dict(entry)
            name = spec.pop("name", None)
            if name is None or name == "concat":
                raise ValueError(f"each entry of `sets` needs the name of a data set other than concat, got {entry!r}")
            self.parts.append(build_dataset(name, **{**common, **spec}))
        self.offsets = [0]
        for part in self.parts:
            self.offsets.append(self.offsets[-1] + len(part))

    def __len__(self) -> int:
        return self.offsets[-1]

    def locate(self, index: int) -> tuple[int, int]:
        """(set number, index within that set) of item ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} clips")
        part = bisect.bisect_right(self.offsets, index) - 1
        return part, index - self.offsets[part]

    def __getitem__(self, index: int) -> dict:
        part, local = self.locate(int(index))
        return {**self.parts[part][local], "index": int(index)}
