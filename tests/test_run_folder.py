"""A run folder is never silently lost: one trainer at a time, no resume across configs, corrupt
weights caught (checksums, finiteness), an older checkpoint used when the newest is corrupt, no
leaked temporary checkpoint folders."""

import json
import logging
import os
import subprocess
import sys

import pytest
import torch

from cinediff.training import checkpoint as checkpoint_module
from cinediff.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from cinediff.training.config import config_differences, load_config
from cinediff.training.runfolder import ConfigMismatch, RunFolderLocked, RunLock, remove_stale_temp
from cinediff.training.trainer import train
from cinediff.weights import CHECKSUM_KEY, CheckpointError, load_tensors, save_tensors
from test_trainer import tiny_config


def _cfg(run_dir, *extra):
    return load_config(None, tiny_config(run_dir, "train.ema_decay=0", "train.checkpoint_every=2", *extra))


def test_a_second_trainer_on_a_locked_folder_fails_at_once_naming_the_holder(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunFolderLocked, match=f"in use by another trainer \\(pid {os.getpid()}\\)"):
            train(_cfg(tmp_path, "train.steps=2"))
        assert not (tmp_path / "config.json").exists() and not (tmp_path / "checkpoints").exists()
    train(_cfg(tmp_path, "train.steps=2"))  # released: the folder trains
    assert latest_checkpoint(tmp_path / "checkpoints").name == "step_0000002"
    with RunLock(tmp_path):  # and the finished run released it too
        pass


def test_the_cli_refuses_a_locked_folder_in_one_line(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from cinediff.training.runfolder import RunLock;"
                               f"lock = RunLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        args = sum([["--set", a] for a in tiny_config(tmp_path, "train.steps=2")], [])
        out = subprocess.run([sys.executable, "-m", "cinediff.cli.main", "train", "-", *args], capture_output=True,
                             text=True, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [f"error: {tmp_path} is in use by another trainer (pid {holder.pid}); "
                                               "wait for it to finish or choose another train.out_dir"]


def test_resume_refuses_a_checkpoint_of_another_config_listing_the_keys(tmp_path):
    train(_cfg(tmp_path, "train.steps=2"))
    saved = (tmp_path / "config.json").read_text()
    other = _cfg(tmp_path, "train.steps=4", "model.cond_dropout=0.5", "train.seed=3")
    with pytest.raises(ConfigMismatch) as err:
        train(other)
    message = str(err.value)
    assert "model.cond_dropout: 0.1 -> 0.5" in message and "train.seed: 0 -> 3" in message
    assert "train.steps" not in message and "allow_config_change" in message
    assert (tmp_path / "config.json").read_text() == saved  # nothing in the folder changed
    assert latest_checkpoint(tmp_path / "checkpoints").name == "step_0000002"

    train(_cfg(tmp_path, "train.steps=4"))  # more steps of the same experiment: resumes
    assert latest_checkpoint(tmp_path / "checkpoints").name == "step_0000004"
    train(_cfg(tmp_path, "train.steps=6", "model.cond_dropout=0.5", "train.allow_config_change=true"))
    assert latest_checkpoint(tmp_path / "checkpoints").name == "step_0000006"
    assert json.loads((tmp_path / "config.json").read_text())["model"]["cond_dropout"] == 0.5


def test_config_differences_flattens_nested_keys_and_ignores_harmless_ones():
    a = json.loads(json.dumps(__import__("dataclasses").asdict(load_config(None, ["data.num_workers=0"]))))
    b = load_config(None, ["data.num_workers=4", "model.backbone_args={dim=64}", "optim.lr=1.0"])
    assert config_differences(a, b) == ["model.backbone_args.dim: '(unset)' -> 64"]


def _flip_tensor_bytes(path, n=64):
    """Overwrite ``n`` bytes at the end of a safetensors file (inside its last tensor's data) with 0xFF."""
    data = bytearray(path.read_bytes())
    data[-n:] = b"\xff" * n
    path.write_bytes(bytes(data))


def test_weight_files_carry_a_checksum_and_corrupt_bytes_are_refused(tmp_path):
    path = save_tensors(tmp_path / "w.safetensors", {"a": torch.arange(64.0), "b": torch.ones(16, dtype=torch.bfloat16)})
    from safetensors import safe_open

    with safe_open(path, "pt") as f:
        assert len(f.metadata()[CHECKSUM_KEY]) == 64
    assert torch.equal(load_tensors(path)["a"], torch.arange(64.0))
    data = bytearray(path.read_bytes())
    data[-40] ^= 0x01  # one bit inside the tensor data: still a valid file, still finite
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="do not match the SHA-256"):
        load_tensors(path)


def test_non_finite_weights_are_refused_on_load(tmp_path):
    path = save_tensors(tmp_path / "w.safetensors", {"w": torch.tensor([1.0, float("inf")])})
    with pytest.raises(CheckpointError, match="NaN or infinite values \\(tensor 'w'\\)"):
        load_tensors(path)
    from safetensors.torch import save_file

    save_file({"w": torch.tensor([float("nan")])}, str(tmp_path / "foreign.safetensors"))  # no checksum
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load_tensors(tmp_path / "foreign.safetensors")


def test_resume_falls_back_from_a_corrupt_newest_checkpoint(tmp_path, caplog):
    train(_cfg(tmp_path, "train.steps=4", "train.keep_last=5"))
    newest = tmp_path / "checkpoints" / "step_0000004"
    _flip_tensor_bytes(newest / "model.safetensors")  # 0xFF bytes: NaN floats, and a checksum mismatch
    with pytest.raises(CheckpointError):
        load_checkpoint(newest)
    with caplog.at_level(logging.WARNING, logger="cinediff.train"):
        train(_cfg(tmp_path, "train.steps=6", "train.keep_last=5"))
    warning = next(r.getMessage() for r in caplog.records if "unreadable" in r.getMessage())
    assert str(newest) in warning and str(tmp_path / "checkpoints" / "step_0000002") in warning
    final = load_checkpoint(tmp_path / "checkpoints" / "step_0000006")  # retrained 2 -> 6, step 4 rewritten
    assert final["state"]["step"] == 6 and load_checkpoint(newest)["state"]["step"] == 4


def test_every_checkpoint_corrupt_is_one_clear_error(tmp_path):
    train(_cfg(tmp_path, "train.steps=2"))
    _flip_tensor_bytes(tmp_path / "checkpoints" / "step_0000002" / "model.safetensors")
    with pytest.raises(CheckpointError, match="every checkpoint under .* is unreadable"):
        train(_cfg(tmp_path, "train.steps=4"))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temp_folders_of_dead_processes_are_removed_at_start(tmp_path):
    ckpts = tmp_path / "checkpoints"
    dead, live = ckpts / f".step_0000009.tmp-{_dead_pid()}", ckpts / ".step_0000008.tmp-1"  # pid 1 is alive
    for folder in (dead, live):
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"half")
    train(_cfg(tmp_path, "train.steps=2"))
    assert not dead.exists() and live.exists()
    assert remove_stale_temp(ckpts) == []  # idempotent


def test_a_failed_checkpoint_write_removes_its_temp_folder(tmp_path, monkeypatch):
    real = checkpoint_module.save_tensors

    def disk_full(path, tensors, metadata=None):
        if "optimizer" in str(path):
            raise OSError(28, "No space left on device", str(path))
        return real(path, tensors, metadata)

    monkeypatch.setattr(checkpoint_module, "save_tensors", disk_full)
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.ones(2))])
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(tmp_path, 3, {"w": torch.ones(2)}, opt.state_dict(), {"counters": {}})
    assert list(tmp_path.iterdir()) == []


def test_temp_checkpoint_names_round_trip_and_nothing_else_matches():
    from cinediff.training.checkpoint import temp_checkpoint_name, temp_checkpoint_writer

    assert temp_checkpoint_name(12, 345) == ".step_0000012.tmp-345"
    assert temp_checkpoint_writer(temp_checkpoint_name(12, 345)) == 345
    for other in ("step_0000012", ".step_0000012.tmp-", ".step_x.tmp-3", ".step_0000012.tmp-3.old", ".lock"):
        assert temp_checkpoint_writer(other) is None
