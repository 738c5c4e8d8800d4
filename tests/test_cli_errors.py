"""Bad input gets one clear line (exit 1), not a traceback, and nothing is lost."""

import errno
import json
import subprocess
import sys

import pytest
import torch
from test_pipeline import pixel_model  # noqa: F401  (fixture: a tiny exported 4x16x16 model)
from test_trainer import tiny_config

from cinediff.models.loading import load_model
from cinediff.runtime import check_device, check_seed, sample_generators
from cinediff.training.config import load_config
from cinediff.training.trainer import _open_metrics
from cinediff.weights import CheckpointError


def cli(*args, timeout=300):
    out = subprocess.run([sys.executable, "-m", "cinediff.cli.main", *map(str, args)], capture_output=True, text=True,
                         timeout=timeout)
    return out.returncode, out.stderr.strip().splitlines()


@pytest.mark.parametrize("override, message", [
    ("train.steps=abc", "train.steps must be int, got 'abc' (str)"),
    ("data.batch_size=-1", "data.batch_size must be ≥ 1, got -1"),
    ("train.ema_decay=1.5", "train.ema_decay must be in [0, 1], got 1.5"),
    ("optim.warmup_steps=2.5", "optim.warmup_steps must be int, got 2.5 (float)"),
    ("model.cond_dropout=true", "model.cond_dropout must be float, got True (bool)"),
])
def test_bad_config_values_are_one_line(override, message):
    with pytest.raises(ValueError) as err:
        load_config("default", [override])
    assert str(err.value) == message


def test_the_train_cli_says_one_line_for_a_bad_value_and_a_toml_syntax_error(tmp_path):
    code, lines = cli("train", "default", "--set", "train.steps=abc")
    assert code == 1 and lines == ["error: train.steps must be int, got 'abc' (str)"]
    recipe = tmp_path / "bad.toml"
    recipe.write_text("[train]\nsteps = = 3\n")
    code, lines = cli("train", recipe)
    assert code == 1 and len(lines) == 1 and lines[0].startswith(f"error: {recipe}: TOML syntax error")


def test_a_later_stage_without_its_predecessor_says_which_run_to_train(tmp_path, monkeypatch):
    """Recipe `default` starts from runs/default-rich: absent, one line names the recipe that writes it."""
    monkeypatch.chdir(tmp_path)  # no runs/ here
    code, lines = cli("train", "default", "--set", f"train.out_dir={tmp_path / 'run'}", "--set", "train.steps=1")
    assert code == 1 and lines[-1] == ("error: model.init_from: runs/default-rich does not exist (a later stage of a "
                                       "multi-stage recipe such as `default`: train the run it starts from first, "
                                       "`cinediff train default-rich`)")
    code, lines = cli("train", "default-wide", "--set", f"train.out_dir={tmp_path / 'run'}", "--set", "train.steps=1")
    assert code == 1 and lines[-1].endswith("`cinediff train default-base`)")
    code, lines = cli("train", "default", "--set", f"model.init_from={tmp_path / 'nowhere'}", "--set",
                      f"train.out_dir={tmp_path / 'run'}", "--set", "train.steps=1")
    assert code == 1 and lines[-1].endswith("does not exist (a later stage of a multi-stage recipe such as `default`: "
                                            "train the run it starts from first, e.g. `cinediff train default-base`)")
    assert not list((tmp_path / "run").glob("checkpoints/*"))


def test_generate_checks_its_output_seed_and_device_before_sampling(tmp_path):
    code, lines = cli("generate", "a red circle moving left", "-o", tmp_path)
    assert code != 0 and "is a directory" in lines[-1]
    code, lines = cli("generate", "a red circle moving left", "-o", tmp_path / "out.txt")
    assert code != 0 and "unsupported video suffix '.txt'" in lines[-1]
    code, lines = cli("generate", "a red circle moving left", "-o", tmp_path / "a.mp4", "--seed", 2**64)
    assert code == 1 and lines[-1].startswith("error: seed 18446744073709551616 is out of range")
    if not torch.cuda.is_available():
        code, lines = cli("generate", "a red circle moving left", "-o", tmp_path / "a.mp4", "--device", "cuda")
        assert code == 1 and lines == ["error: --device cuda asked for CUDA, but this is a CPU-only torch build; use "
                                       "--device cpu"] or "no visible CUDA device" in lines[-1]
    assert not list(tmp_path.glob("*.mp4"))


def test_seed_range():
    assert check_seed(2**64 - 1) == 2**64 - 1 and len(sample_generators([0, 2**64 - 1])) == 2
    for bad in (2**64, -1, 1.5, True):
        with pytest.raises(ValueError, match=r"\[0, 2\*\*64 - 1"):
            check_seed(bad)
    with pytest.raises(ValueError, match="unknown device"):
        check_device("quantum")


def test_a_config_json_that_is_not_a_model_config_is_one_error(pixel_model, tmp_path):  # noqa: F811
    import shutil

    for broken in ([1, 2], {"model": {"backbone": "fit"}, "fps": 8}, {"model": [], "shape": [3], "fps": 8}):
        folder = shutil.copytree(pixel_model, tmp_path / f"m{len(list(tmp_path.iterdir()))}")
        (folder / "config.json").write_text(json.dumps(broken))
        with pytest.raises(CheckpointError, match="not an exported cinediff model's config"):
            load_model(folder)


def test_a_torn_last_metrics_line_is_dropped_with_a_warning(tmp_path, caplog):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 1.0}\n{"step": 2, "loss": 0.5}\n{"step": 3, "lo')
    with caplog.at_level("WARNING", logger="cinediff.train"):
        _open_metrics(path, start_step=2).close()
    assert path.read_text() == '{"step": 1, "loss": 1.0}\n{"step": 2, "loss": 0.5}\n'
    assert "line 3 is not JSON" in caplog.text


def test_a_full_disk_is_one_line_naming_the_path(tmp_path, monkeypatch, capsys):
    from cinediff.cli import main as cli_main

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "run" / "checkpoints"))

    monkeypatch.setattr(cli_main, "app", full)
    with pytest.raises(SystemExit) as exit_code:
        cli_main.main()
    assert exit_code.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"error: no space left on the device writing {tmp_path / 'run' / 'checkpoints'}; files written "
                     "before (earlier checkpoints) are intact: free some space and run the same command again"]


def test_divergence_is_one_line_from_the_cli(tmp_path):
    args = sum([["--set", a] for a in tiny_config(tmp_path, "train.steps=30", "optim.lr=1e30", "optim.grad_clip=0",
                                                  "train.max_consecutive_nonfinite=2", "optim.warmup_steps=0")], [])
    code, lines = cli("train", "-", *args)
    assert code == 1 and lines[-1].startswith("error: 2 consecutive non-finite steps")
