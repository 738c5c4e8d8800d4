"""The trainer: exact resume after SIGKILL, NaN guard, accumulation, DDP with 2 CPU processes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cinediff.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from cinediff.weights import CheckpointError, load_tensors
from cinediff.training.config import OptimConfig, load_config
from cinediff.training.trainer import TrainingDiverged, lr_at, train

TINY_FIT = ("model.backbone_args={dim=32, latent_dim=32, num_latents=4, num_blocks=1, self_attn_layers_per_block=1, "
            "dim_head=16, base_frames=4, base_size=[16, 16], frames_per_group=2, time_embed_dim=32}")
TINY_DATA = "data.args={frames=4, height=16, width=16, length=256}"


def tiny_config(out_dir, *extra):
    return ["model.backbone=fit", TINY_FIT, "model.text_encoder=''", "data.dataset=moving-shapes", TINY_DATA,
            "data.batch_size=4", "train.precision=fp32", "train.log_every=1", "optim.warmup_steps=2",
            f"train.out_dir='{out_dir}'", *extra]


def run_cli(args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "cinediff.cli.main", "train", "-", *sum([["--set", a] for a in args], [])],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"},
                            **kwargs)


def final_weights(run_dir, step):
    ckpt = load_checkpoint(Path(run_dir) / "checkpoints" / f"step_{step:07d}")
    return ckpt


@pytest.fixture
def one_thread():
    """Bit-identical results need the same reduction order: one thread here and in subprocesses."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_sigkill_then_resume_is_bit_identical(tmp_path, one_thread):
    steps = 10
    common = [f"train.steps={steps}", "train.checkpoint_every=2", "train.keep_last=10", "train.ema_decay=0.9"]
    straight = train(load_config(None, tiny_config(tmp_path / "straight", *common)))

    # Kill -9 a run as soon as it has written the step-4 checkpoint, then run the same command again.
    proc = run_cli(tiny_config(tmp_path / "killed", *common))
    ckpts = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 300
    while not (ckpts / "step_0000004").exists():
        assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
        assert time.time() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (ckpts / f"step_{steps:07d}").exists(), "the run finished before it was killed"
    train(load_config(None, tiny_config(tmp_path / "killed", *common)))

    a, b = final_weights(straight, steps), final_weights(tmp_path / "killed", steps)
    for part in ("model", "ema"):
        assert a[part].keys() == b[part].keys()
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    # Loading initialises (zero) state for parameters that never had a gradient; the rest is identical.
    for param, slots in a["optimizer"]["state"].items():
        for slot, value in slots.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(b["optimizer"]["state"][param][slot])), (param, slot)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == steps  # the resumed run rewrote the records past its checkpoint


class NaNTask(torch.nn.Module):
    """Loss is NaN on the steps listed in ``bad`` (counted by calls)."""

    def __init__(self, bad):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(3))
        self.bad, self.calls = set(bad), 0

    def forward(self, batch, generators):
        self.calls += 1
        loss = (batch["video"].mean() - self.w.sum()) ** 2
        return (loss * float("nan") if self.calls in self.bad else loss), {}


def test_nonfinite_steps_are_skipped_and_counted(tmp_path):
    cfg = load_config(None, tiny_config(tmp_path, "train.steps=6", "train.checkpoint_every=3", "train.ema_decay=0"))
    task = NaNTask(bad={2, 5})
    train(cfg, task=task)
    ckpt = load_checkpoint(latest_checkpoint(tmp_path / "checkpoints"))
    assert ckpt["state"]["counters"]["nonfinite_skipped"] == 2
    assert torch.isfinite(ckpt["model"]["w"]).all()
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6] and records[-1]["nonfinite_skipped"] == 2


def test_a_nonfinite_step_keeps_the_checkpoint_schedule_and_the_final_checkpoint(tmp_path):
    """The NaN guard used to ``continue`` past the checkpoint write: a bad last step left no final checkpoint."""
    cfg = load_config(None, tiny_config(tmp_path, "train.steps=6", "train.checkpoint_every=3", "train.ema_decay=0",
                                        "train.keep_last=10"))
    train(cfg, task=NaNTask(bad={3, 6}))
    assert [p.name for p in sorted((tmp_path / "checkpoints").glob("step_*"))] == ["step_0000003", "step_0000006"]
    final = load_checkpoint(tmp_path / "checkpoints" / "step_0000006")
    assert final["state"]["step"] == 6 and final["state"]["counters"]["nonfinite_skipped"] == 2


def test_too_many_nonfinite_steps_stop_with_the_last_checkpoint_intact(tmp_path):
    cfg = load_config(None, tiny_config(tmp_path, "train.steps=20", "train.checkpoint_every=2", "train.ema_decay=0",
                                        "train.max_consecutive_nonfinite=3"))
    with pytest.raises(TrainingDiverged, match="3 consecutive non-finite") as err:
        train(cfg, task=NaNTask(bad=set(range(5, 100))))
    last = latest_checkpoint(tmp_path / "checkpoints")
    # Checkpoints stay on schedule during the streak (step 6 holds step 4's weights: both updates were skipped).
    assert last.name == "step_0000006" and torch.isfinite(load_checkpoint(last)["model"]["w"]).all()
    assert str(last) in str(err.value)
    a, b = (load_checkpoint(tmp_path / "checkpoints" / f"step_{s:07d}")["model"]["w"] for s in (4, 6))
    assert torch.equal(a, b)


def test_divergence_before_any_checkpoint_says_so(tmp_path):
    cfg = load_config(None, tiny_config(tmp_path, "train.steps=20", "train.checkpoint_every=10", "train.ema_decay=0",
                                        "train.max_consecutive_nonfinite=2"))
    with pytest.raises(TrainingDiverged, match="No checkpoint was written yet") as err:
        train(cfg, task=NaNTask(bad=set(range(1, 100))))
    assert "None" not in str(err.value)


def test_gradient_accumulation_matches_the_full_batch(tmp_path):
    runs = {}
    for accum in (1, 2):
        out = tmp_path / f"accum{accum}"
        train(load_config(None, tiny_config(out, "train.steps=3", f"optim.grad_accum={accum}", "train.ema_decay=0")))
        runs[accum] = final_weights(out, 3)["model"]
    for k in runs[1]:
        torch.testing.assert_close(runs[1][k], runs[2][k], rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(sys.platform != "linux", reason="torchrun with gloo is tested on Linux")
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_cpu_processes_match_one_process(tmp_path, strategy):
    steps = 4
    common = [f"train.steps={steps}", "train.checkpoint_every=4", "train.ema_decay=0.9", "model.text_encoder=minilm"]
    one = train(load_config(None, tiny_config(tmp_path / "one", *common)))
    sets = sum([["--set", a] for a in tiny_config(tmp_path / "two", *common, f"train.distributed={strategy}")], [])
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             "-m", "cinediff.cli.main", "train", "-", *sets], capture_output=True, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]  # includes the replica sync check
    loss = lambda run: [json.loads(x)["loss"] for x in (Path(run) / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    assert loss(tmp_path / "two") == pytest.approx(loss(one), rel=1e-4)
    a, b = final_weights(one, steps), final_weights(tmp_path / "two", steps)
    for part in ("model", "ema"):
        assert a[part].keys() == b[part].keys()
        for k in a[part]:
            torch.testing.assert_close(a[part][k], b[part][k], rtol=1e-4, atol=1e-5)
    assert a["optimizer"]["state"].keys() <= b["optimizer"]["state"].keys()


def test_lr_schedule():
    cfg = OptimConfig(lr=1.0, warmup_steps=10, schedule="cosine", min_lr_ratio=0.1)
    cfg.total_steps = 110
    assert lr_at(0, cfg) == pytest.approx(0.1) and lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(60, cfg) == pytest.approx(0.1 + 0.9 * 0.5) and lr_at(110, cfg) == pytest.approx(0.1)


def test_checkpoints_are_atomic_and_errors_are_clear(tmp_path):
    model = {"w": torch.arange(4.0)}
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.ones(2))])
    opt.state_dict()
    save_checkpoint(tmp_path, 5, model, opt.state_dict(), {"counters": {}})
    (tmp_path / ".step_0000009.tmp-123").mkdir()  # what a crash mid-save leaves behind
    assert latest_checkpoint(tmp_path).name == "step_0000005"
    for i in range(6, 10):
        save_checkpoint(tmp_path, i, model, opt.state_dict(), {"counters": {}}, keep_last=2)
    assert [p.name for p in sorted(tmp_path.glob("step_*"))] == ["step_0000008", "step_0000009"]
    (tmp_path / "step_0000009" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "step_0000009")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_tensors(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="not a cinediff checkpoint"):
        load_checkpoint(tmp_path)


def test_config_overrides_and_errors(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[train]\nsteps = 7\n[model]\nbackbone = "fit"\n')
    cfg = load_config(path, ["train.steps=9", "optim.betas=[0.9, 0.95]", "model.backbone_args.dim=64"])
    assert cfg.train.steps == 9 and cfg.model.backbone == "fit" and cfg.optim.betas == (0.9, 0.95)
    assert cfg.model.backbone_args == {"dim": 64}
    with pytest.raises(ValueError, match="unknown key"):
        load_config(None, ["train.stepz=3"])
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize("name", sorted(__import__("cinediff.training.config", fromlist=["x"]).packaged_configs()))
def test_packaged_recipes_load_and_build(name):
    from cinediff.training.tasks import build_task

    cfg = load_config(name, ["model.autoencoder=''", "model.init_from=''", "model.text_encoder=''"])
    with torch.device("meta"):
        task = build_task(cfg.model)
    assert sum(p.numel() for p in task.parameters()) > 0


TINY_UNET = ("model.backbone_args={{block_channels=[16, 32], attention_levels=[false, true], heads=2, norm_groups=8, "
             "in_channels=3, out_channels=3, temporal='{temporal}'}}")


@pytest.mark.parametrize("temporal", ["shift", "attention"])
def test_two_stage_image_then_video_recipe(tmp_path, temporal):
    """Latent-Shift / PYoCo recipe in miniature: image pre-training (T = 1 batches), then video
    fine-tuning initialised from it; shift adds no weights, attention only temporal ones."""
    base = ["model.backbone=unet", "model.formulation=vp", "model.text_encoder=''", TINY_DATA, "data.batch_size=2",
            "train.precision=fp32", "train.steps=2", "optim.warmup_steps=1"]
    image = train(load_config(None, [*base, TINY_UNET.format(temporal="none"), "data.image_batch_fraction=1.0",
                                     f"train.out_dir='{tmp_path / 'image'}'"]))
    video_cfg = load_config(None, [*base, TINY_UNET.format(temporal=temporal), f"model.init_from='{image}'",
                                   "model.noise_prior=mixed", f"train.out_dir='{tmp_path / 'video'}'", "train.steps=1",
                                   "optim.lr=0"])  # lr 0: the video run's weights stay those it started from
    video = train(video_cfg)
    start = load_checkpoint(latest_checkpoint(image / "checkpoints"))["ema"]
    after = load_checkpoint(latest_checkpoint(video / "checkpoints"))["model"]
    new = sorted(set(after) - set(start))
    assert all("temporal" in k for k in new) and (not new if temporal == "shift" else new)
    for k in start:
        assert torch.equal(start[k], after[k]), k


def test_saved_weights_are_readable_by_others(tmp_path):
    """safetensors creates 0600 files; shipped and exported weights follow the umask instead."""
    import os
    import stat

    from cinediff.weights import save_tensors

    old = os.umask(0o022)
    try:
        path = save_tensors(tmp_path / "w.safetensors", {"x": torch.zeros(2)})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_init_from_a_saved_autoencoder_or_an_exported_model(tmp_path):
    """Fine-tuning starts from saved models too: a save_pretrained autoencoder (shipped names included)
    and a `cinediff export` folder, keyed like the task's state dict."""
    from cinediff.autoencoders import build_autoencoder, load_autoencoder
    from cinediff.training.export import export_model
    from cinediff.training.tasks import build_task
    from cinediff.training.trainer import starting_weights

    vae_args = dict(block_channels=[16, 32], layers_per_block=1, norm_groups=8)
    saved = build_autoencoder("vae", **vae_args).save_pretrained(tmp_path / "vae")
    task = build_task(load_config(None, ["model.task=autoencoder", "model.backbone=vae",
                                         "model.backbone_args={block_channels=[16, 32], layers_per_block=1, norm_groups=8}"]).model)
    task.load_state_dict(starting_weights(saved))  # strict: every key, nothing else
    for k, v in load_autoencoder(saved).state_dict().items():
        assert torch.equal(task.state_dict()[f"autoencoder.{k}"], v), k
    assert set(starting_weights("vae")) == {f"autoencoder.{k}" for k in load_autoencoder("vae").state_dict()}

    base = ["model.backbone=unet", "model.formulation=vp", "model.text_encoder=''", TINY_DATA, "data.batch_size=2",
            "train.precision=fp32", "train.steps=1", TINY_UNET.format(temporal="none")]
    run = train(load_config(None, [*base, f"train.out_dir='{tmp_path / 'run'}'"]))
    weights = starting_weights(export_model(run, tmp_path / "export"))
    assert weights.keys() == starting_weights(run).keys()
    for k, v in starting_weights(run).items():
        assert torch.equal(weights[k], v), k


def test_config_show_prints_toml_that_loads_back_to_the_same_config(tmp_path):
    from typer.testing import CliRunner

    from cinediff.cli.main import app
    from cinediff.training.config import config_to_dict, packaged_configs

    for name in packaged_configs():
        result = CliRunner().invoke(app, ["config", "show", name, "--set", "train.steps=7"])
        assert result.exit_code == 0, result.output
        (tmp_path / f"{name}.toml").write_text(result.output)
        expected = load_config(name, ["train.steps=7"])
        assert config_to_dict(load_config(tmp_path / f"{name}.toml")) == config_to_dict(expected), name
        assert expected.train.steps == 7
    bad = CliRunner().invoke(app, ["config", "show", "default", "--set", "train.stepz=1"])
    assert bad.exit_code != 0 and "unknown key" in str(bad.exception)


class FakeWandb:
    """Stands in for the wandb package: records what the trainer sends."""

    def __init__(self):
        self.inits, self.logs, self.finished = [], [], 0

    def init(self, **kwargs):
        self.inits.append(kwargs)
        return self

    def log(self, values, step):
        self.logs.append((step, values))

    def finish(self):
        self.finished += 1


def test_wandb_logging_offline_gets_every_metrics_record_and_resumes_the_same_run(tmp_path, monkeypatch, caplog):
    fake = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    train(load_config(None, tiny_config(tmp_path, "train.steps=3", "train.wandb=offline")))
    first = fake.inits[0]
    assert first["mode"] == "offline" and first["dir"] == str(tmp_path) and first["resume"] == "allow"
    assert first["config"]["train"]["steps"] == 3 and fake.finished == 1
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(s, v["train/loss"]) for s, v in fake.logs] == [(r["step"], r["loss"]) for r in records]
    train(load_config(None, tiny_config(tmp_path, "train.steps=5", "train.wandb=offline")))  # resume
    assert fake.inits[1]["id"] == first["id"] and [s for s, _ in fake.logs] == [1, 2, 3, 4, 5]
    monkeypatch.setitem(sys.modules, "wandb", None)  # not installed: a warning, the run goes on
    with caplog.at_level("WARNING"):
        train(load_config(None, tiny_config(tmp_path / "b", "train.steps=1", "train.wandb=online")))
    assert "wandb package is not installed" in caplog.text and (tmp_path / "b" / "metrics.jsonl").is_file()
    with pytest.raises(ValueError, match=r"train.wandb must be one of \['off', 'offline', 'online'\], got 'yes'"):
        load_config(None, ["train.wandb=yes"])


def test_binding_loss_adds_the_margin_penalty_of_the_exchanged_caption_and_nothing_without_one():
    """model.binding_loss_weight λ: per clip with an exchanged caption (data exchanged_captions), the loss
    gains λ · max(0, m − (L_exchanged − L_true) / L_true) on the same noisy clip; other clips, and the
    loss of a run with λ = 0, are those of the plain task (same random draws)."""
    from cinediff.data.shapes import MovingShapes
    from cinediff.data.collate import collate
    from cinediff.runtime import sample_generators
    from cinediff.text import text_condition
    from cinediff.training.tasks import build_task

    overrides = ["model.backbone=unet", TINY_UNET.format(temporal="attention"), "model.cond_dropout=0"]
    plain = build_task(load_config(None, overrides).model).eval()
    bound = build_task(load_config(None, [*overrides, "model.binding_loss_weight=2.0",
                                          "model.binding_margin=0.5", "model.binding_min_sigma=0.2"]).model).eval()
    bound.load_state_dict(plain.state_dict())
    data = MovingShapes(frames=4, height=16, width=16, two_object_prob=0.5, exchanged_captions="motion")
    batch = collate(data.__getitems__(range(16)))
    has = [r["exchanged_caption"] is not None for r in batch["attributes"]]
    assert any(has) and not all(has)
    loss_plain, _ = plain(batch, sample_generators(list(range(16))))
    loss_bound, logs = bound(batch, sample_generators(list(range(16))))
    # the penalty by hand: the plain loss of the same draws with the exchanged caption
    generators = sample_generators(list(range(16)))
    assert bound.training_captions(batch, generators) == batch["caption"]  # cond_dropout 0
    noise = bound.prior(batch["video"].shape, generators)
    sigma = bound.denoiser.sample_training_sigma(16, generators)
    rows = [i for i, h in enumerate(has) if h and sigma[i] > 0.2]
    assert rows and len(rows) < sum(has)  # binding_min_sigma leaves out the clips noised least
    cond = {"fps": batch["fps"][rows]} | text_condition(bound.text.module, [batch["attributes"][i]["exchanged_caption"]
                                                                           for i in rows], bound.text_ids)
    exchanged = bound.denoiser.loss(batch["video"][rows], sigma[rows], noise[rows], **cond)
    gap = (exchanged - loss_plain[rows]) / loss_plain[rows]
    torch.testing.assert_close(loss_bound[rows], loss_plain[rows] + 2.0 * (0.5 - gap).clamp(min=0))
    no = [i for i in range(16) if i not in rows]
    torch.testing.assert_close(loss_bound[no], loss_plain[no])
    assert logs["binding_gap"] == pytest.approx(float(gap.detach().mean()), rel=1e-5)
    with pytest.raises(ValueError, match="exchanged_captions"):
        MovingShapes(exchanged_captions="size")
