"""Checkpoints as folders of safetensors + JSON, written atomically; never pickle.

A checkpoint ``<run>/checkpoints/step_0000100/`` holds

- ``model.safetensors``  the trained weights (and ``ema.safetensors`` when EMA is on),
- ``optimizer.safetensors``  the optimizer's tensors, its param groups in the metadata,
- ``state.json``  step, counters, RNG states (as lists), the resolved config.

The folder is written under a temporary name, every file fsynced, then renamed in one
``os.rename``: a crash (even SIGKILL) leaves either the previous checkpoints or the new one,
never a half-written folder that a resume could pick up. A write that fails (a full disk)
removes its temporary folder; folders left by killed processes are removed at the next start
(``runfolder.remove_stale_temp``). Every weight file carries a checksum (``weights.save_tensors``):
:func:`load_checkpoint` refuses corrupt or non-finite weights, and :func:`newest_loadable`
falls back to an older checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

import torch
from safetensors import safe_open

from cinediff.weights import CheckpointError, atomic_write_json, load_tensors, save_tensors

STEP_PREFIX = "step_"
log = logging.getLogger("cinediff.train")


def flatten_optimizer_state(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer state dict → (tensors keyed ``"<param>.<slot>"``, JSON-able rest); params are
    ids or dotted parameter names, slots (``exp_avg``, ``step``) have no dots."""
    tensors, scalars = {}, {}
    for param_id, slots in state["state"].items():
        for name, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"{param_id}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars[f"{param_id}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer_state(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    """Inverse of :func:`flatten_optimizer_state`."""
    state: dict[int, dict] = {}
    for key, value in [*tensors.items(), *meta["scalars"].items()]:
        param, slot = key.rsplit(".", 1)
        state.setdefault(int(param) if param.isdigit() else param, {})[slot] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_checkpoint_name(step: int, pid: int) -> str:
    """The folder a checkpoint is written into before its atomic rename: ``.step_NNNNNNN.tmp-PID``."""
    return f".{STEP_PREFIX}{step:07d}.tmp-{pid}"


def temp_checkpoint_writer(name: str) -> int | None:
    """The pid in a :func:`temp_checkpoint_name`, or None if ``name`` is not one."""
    match = re.fullmatch(rf"\.{STEP_PREFIX}\d+\.tmp-(\d+)", name)
    return int(match[1]) if match else None


def save_checkpoint(root: Path, step: int, model: dict, optimizer: dict, state: dict,
                    ema: dict | None = None, keep_last: int = 3) -> Path:
    """Write checkpoint ``step`` under ``root`` atomically, then prune to the newest ``keep_last``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{STEP_PREFIX}{step:07d}"
    tmp = root / temp_checkpoint_name(step, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        save_tensors(tmp / "model.safetensors", model)
        if ema is not None:
            save_tensors(tmp / "ema.safetensors", ema)
        opt_tensors, opt_meta = flatten_optimizer_state(optimizer)
        save_tensors(tmp / "optimizer.safetensors", opt_tensors, {"optimizer": opt_meta})
        atomic_write_json(tmp / "state.json", {"step": step, **state})
        _fsync_dir(tmp)
        if final.exists():  # re-saving the same step (e.g. a resumed run): replace it
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(root)
    for old in list_checkpoints(root)[:-keep_last] if keep_last > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoint folders under ``root``, oldest first (temporary folders are ignored)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(STEP_PREFIX))


def latest_checkpoint(root: Path) -> Path | None:
    found = list_checkpoints(root)
    return found[-1] if found else None


def newest_loadable(root: Path) -> tuple[Path | None, dict | None]:
    """The newest checkpoint under ``root`` that loads (checksums and finiteness verified) and its
    contents; corrupt newer ones are skipped with a warning naming both. (None, None) if none exist;
    :class:`CheckpointError` when every one is corrupt."""
    found = list_checkpoints(root)
    errors = []
    for path in reversed(found):
        try:
            ckpt = load_checkpoint(path)
        except (CheckpointError, FileNotFoundError, KeyError) as err:
            errors.append((path, err))
            continue
        for bad, err in errors:
            log.warning("checkpoint %s is unreadable (%s); resuming from %s instead", bad, err, path)
        return path, ckpt
    if errors:
        raise CheckpointError(f"every checkpoint under {root} is unreadable; the newest: {errors[0][1]}")
    return None, None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder, or a run folder's newest checkpoint."""
    path = Path(path)
    if (path / "state.json").is_file():
        return path
    newest = latest_checkpoint(path / "checkpoints")
    if newest is None:
        raise CheckpointError(f"{path} holds no checkpoint (expected state.json or checkpoints/step_*)")
    return newest


def load_checkpoint(path: Path) -> dict:
    """Everything :func:`save_checkpoint` wrote: ``model``, ``ema`` (or None), ``optimizer``, ``state``."""
    path = Path(path)
    if not (path / "state.json").is_file():
        raise CheckpointError(f"{path} is not a cinediff checkpoint (no state.json)")
    try:
        state = json.loads((path / "state.json").read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path / 'state.json'} is corrupt: {err}") from err
    opt_file = path / "optimizer.safetensors"
    opt_tensors = load_tensors(opt_file)
    with safe_open(opt_file, "pt") as f:
        opt_meta = json.loads(f.metadata()["optimizer"])
    ema_file = path / "ema.safetensors"
    return {
        "model": load_tensors(path / "model.safetensors"),
        "ema": load_tensors(ema_file) if ema_file.exists() else None,
        "optimizer": unflatten_optimizer_state(opt_tensors, opt_meta),
        "state": state,
    }
