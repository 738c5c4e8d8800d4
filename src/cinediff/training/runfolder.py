"""A run folder's guards: one trainer at a time, no resume across experiments, no leaked temp folders.

- :class:`RunLock`: an exclusive ``flock`` on ``<run>/.lock`` held for the whole run (rank 0 under
  ``torchrun``); a second trainer on the same folder fails at once, naming the holder's pid. The
  kernel drops the lock when its process dies, so a crash never leaves the folder locked.
- :func:`check_resume`: a checkpoint trained with another model / data config (or seed) is refused,
  listing the differing keys, unless ``train.allow_config_change`` is set.
- :func:`remove_stale_temp`: checkpoint folders a dead process was writing (``.step_*.tmp-PID``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from pathlib import Path

from cinediff.training.checkpoint import temp_checkpoint_writer
from cinediff.training.config import RunConfig, config_differences

log = logging.getLogger("cinediff.train")

LOCK_NAME = ".lock"


class RunFolderLocked(RuntimeError):
    """Another live process trains into this run folder."""


class ConfigMismatch(ValueError):
    """The run folder's checkpoint was trained with another model / data config."""


class RunLock:
    """Exclusive lock on a run folder (a context manager). ``holder()`` reads the pid of whoever holds it."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK_NAME
        self._file = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RunFolderLocked(f"{self.path.parent} is in use by another trainer (pid {self.holder()}); "
                                  "wait for it to finish or choose another train.out_dir") from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return self

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temp(ckpt_dir: str | Path) -> list[Path]:
    """Delete temporary checkpoint folders whose writer is dead (or is this process: a failed
    earlier write); call it holding the run's lock. Returns what was removed."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    removed = []
    for path in ckpt_dir.iterdir():
        writer = temp_checkpoint_writer(path.name)
        if writer is not None and path.is_dir() and (writer == os.getpid() or not _alive(writer)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        log.warning("removed %d unfinished checkpoint folder(s) of crashed runs: %s", len(removed),
                    ", ".join(p.name for p in removed))
    return removed


def check_resume(saved_config: dict, config: RunConfig, source: Path) -> None:
    """Refuse to resume ``config`` from a checkpoint (``source``) saved with another model / data
    config or seed; with ``train.allow_config_change`` only warn."""
    differences = config_differences(saved_config, config)
    if not differences:
        return
    listing = "; ".join(differences)
    if config.train.allow_config_change:
        log.warning("resuming %s with a changed config (train.allow_config_change): %s", source, listing)
        return
    raise ConfigMismatch(f"{source} was trained with another config ({listing}); use another train.out_dir, "
                         "or --set train.allow_config_change=true to continue it with the new settings")
