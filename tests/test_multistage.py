"""Multi-stage sampling: SDEdit starts, temporal windows, the Show-1 and CMD chains (each stage
alone and chained, tiny models trained 1 step through the real trainer), pipeline folders and the CLI."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from cinediff.autoencoders import build_autoencoder
from cinediff.cli.main import app
from cinediff.diffusion import VPPrecond
from cinediff.models.loading import load_model
from cinediff.training.export import export_model
from cinediff.models.generate import GenerationConfig, generate_videos
from cinediff.pipelines import Show1Config, blend_windows, load_pipeline, save_pipeline, window_starts
from cinediff.pipelines import cmd as cmd_stages
from cinediff.pipelines import show1 as show1_stages
from cinediff.pipelines.stages import run_stage
from cinediff.pipelines.windows import window_weights
from cinediff.training.config import load_config
from cinediff.training.trainer import train
from cinediff.weights import CheckpointError

PROMPTS = ["a red circle moving left", "a blue square growing"]
FAST = GenerationConfig(steps=2, guidance=2.0)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models: one intra-op thread is faster, and much faster on a busy machine (no spinning threads)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# SDEdit start -------------------------------------------------------------------------------
class Recorder(torch.nn.Module):
    """A smooth stand-in backbone that records the conditioning frames it is given."""

    def __init__(self):
        super().__init__()
        self.cond_shapes = []

    def forward(self, x, c_noise, cond_frames=None, **cond):
        self.cond_shapes.append(None if cond_frames is None else tuple(cond_frames.shape))
        return torch.tanh(0.5 * x) * 0.3


def test_generate_videos_sdedit_start_and_cond_frames():
    denoiser, shape = VPPrecond(Recorder()), (3, 4, 8, 8)
    init = torch.rand(2, *shape) * 2 - 1
    plain = generate_videos(denoiser, None, PROMPTS, shape, [1, 2], GenerationConfig(steps=10))
    full = generate_videos(denoiser, None, PROMPTS, shape, [1, 2], GenerationConfig(steps=10, strength=1.0), init=init)
    assert torch.equal(plain, full)  # strength 1: pure noise, bit for bit
    light = generate_videos(denoiser, None, PROMPTS, shape, [1, 2], GenerationConfig(steps=10, strength=0.1), init=init)
    assert (light - init).abs().mean() < 0.05  # one step from σ_min ≈ 0.03
    assert (plain - init).abs().mean() > 0.3
    cond = torch.zeros(2, 5, 4, 8, 8)
    generate_videos(denoiser, None, PROMPTS, shape, [1, 2], GenerationConfig(steps=2), cond_frames=cond)
    assert denoiser.backbone.cond_shapes[-1] == (2, 5, 4, 8, 8)


# Temporal windows ---------------------------------------------------------------------------
def test_window_starts():
    assert window_starts(29, 8, 7) == [0, 7, 14, 21]  # Show-1 super-resolution: 8 frames, stride 7
    assert window_starts(30, 8, 7) == [0, 7, 14, 21, 22]  # the last window ends on the last frame
    assert window_starts(29, 17, 16, align=4) == [0, 12]  # interpolation windows start on keyframe slots
    assert window_starts(9, 5, 3, align=2) == [0, 2, 4]  # starts rounded down to slots
    assert window_starts(5, 5, 4) == [0]
    with pytest.raises(ValueError, match="longer than the clip"):
        window_starts(4, 5, 1)
    with pytest.raises(ValueError, match="not a multiple of 4"):
        window_starts(10, 5, 4, align=4)
    with pytest.raises(ValueError, match="uncovered"):
        window_starts(20, 4, 6)
    with pytest.raises(ValueError, match="positive"):
        window_starts(10, 4, 0)


@pytest.mark.parametrize("total,size,stride", [(29, 8, 7), (30, 8, 7), (17, 5, 2), (6, 6, 1)])
def test_blend_windows_covers_every_frame_once(total, size, stride):
    starts = window_starts(total, size, stride)
    weights = window_weights(starts, size, total)
    torch.testing.assert_close(weights.sum(0), torch.ones(total))
    video = torch.randn(2, 3, total, 4, 4)
    windows = [video[:, :, s:s + size] for s in starts]  # windows that agree on their overlaps
    torch.testing.assert_close(blend_windows(windows, starts, total), video)
    ramp = [torch.full((1, 1, size, 1, 1), float(n)) for n in range(len(starts))]
    blended = blend_windows(ramp, starts, total)[0, 0, :, 0, 0]
    assert blended.min() >= 0 and blended.max() <= len(starts) - 1  # a convex combination of the windows


def test_blend_windows_errors():
    with pytest.raises(ValueError, match="window outputs"):
        blend_windows([torch.zeros(1, 1, 4, 1, 1)], [0, 4], 8)
    with pytest.raises(ValueError, match="uncovered"):
        window_weights([0, 6], 4, 10)
    with pytest.raises(ValueError, match="do not fit"):
        window_weights([0, 8], 4, 10)


# Tiny stages, trained one step each ------------------------------------------------------------
UNET = ("model.backbone_args={{block_channels=[16, 32], attention_levels=[false, true], heads=2, norm_groups=8, "
        "in_channels={i}, out_channels={i}, cond_channels={c}, temporal='attention'}}")


def stage_run(recipe, out, frames, size, *extra, channels=3, cond=0, text="''"):
    """A packaged recipe with a tiny U-Net on tiny moving-shapes clips, trained one step and exported."""
    data = f"data.args={{frames={frames}, height={size}, width={size}, length=16}}"
    cfg = load_config(recipe, [UNET.format(i=channels, c=cond), f"model.text_encoder={text}", "data.batch_size=2",
                               "data.dataset='moving-shapes'", data, "train.precision='fp32'", "train.steps=1",
                               f"train.out_dir='{out / 'run'}'", *extra])
    return export_model(train(cfg), out / "export")


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    """Show-1: keyframes 4×8×8; interpolation stride 2 on 5 frames (text-conditioned: guidance duplicates
    cond_frames); super-resolution ×2 on 4 frames; a latent expert at 32×32. CMD: content 16×16, motion."""
    root = tmp_path_factory.mktemp("stages")
    build_autoencoder("vae", block_channels=[16, 32], layers_per_block=1, norm_groups=8).save_pretrained(root / "vae")
    build_autoencoder("cmd", width=8, min_width=8, depth=1, norm_groups=4, factor=2).save_pretrained(root / "cmd")
    motion = ("model.backbone_args={in_channels=8, out_channels=8, content_channels=3, content_patch_size=4, dim=32, "
              "depth=1, dim_head=16, time_embed_dim=32}")
    return {
        "keyframes": stage_run("show1-keyframes", root / "keyframes", 4, 8),
        "interpolation": stage_run("show1-interpolation", root / "interpolation", 5, 8, "model.target_args={stride=2}",
                                   cond=4, text="'minilm'"),
        "superres": stage_run("show1-superres", root / "superres", 4, 16, "model.target_args={factor=2}", cond=3),
        "expert": stage_run("latent-shift-video", root / "expert", 4, 32, f"model.autoencoder='{root / 'vae'}'",
                            "model.init_from=''", "data.image_batch_fraction=0.0", channels=4),
        "content": stage_run("cmd-content", root / "content", 4, 16, f"model.autoencoder='{root / 'cmd'}'"),
        "motion": stage_run("cmd-motion", root / "motion", 4, 16, f"model.autoencoder='{root / 'cmd'}'", motion),
    }


def test_exports_record_what_each_stage_makes(stages):
    shapes = {name: load_model(path).shape for name, path in stages.items()}
    assert shapes == {"keyframes": (3, 4, 8, 8), "interpolation": (3, 5, 8, 8), "superres": (3, 4, 16, 16),
                      "expert": (4, 4, 16, 16), "content": (3, 16, 16), "motion": (8, 4, 8 + 8)}
    motion = load_model(stages["motion"])
    assert motion.autoencoder is not None and motion.decoder is None  # the pipeline decodes with content + motion
    assert load_model(stages["expert"]).decoder is not None


def test_show1_stages_alone(stages):
    models = {name: load_model(stages[name]) for name in ("keyframes", "interpolation", "superres", "expert")}
    keys = show1_stages.keyframes(models["keyframes"], PROMPTS[:1], [0], FAST)
    assert keys.shape == (1, 3, 4, 8, 8)
    video = show1_stages.interpolate(models["interpolation"], keys, PROMPTS[:1], [0], FAST)
    assert video.shape == (1, 3, 7, 8, 8)  # (4 − 1)·2 + 1 frames, two 5-frame windows starting on slots 0 and 2
    assert torch.equal(video[:, :, ::2], keys)
    raw = show1_stages.interpolate(models["interpolation"], keys, PROMPTS[:1], [0], FAST, replace_keyframes=False)
    torch.testing.assert_close(raw[:, :, 1::2], video[:, :, 1::2])
    half = GenerationConfig(steps=2, strength=0.5)  # SDEdit: one of the two steps
    high = show1_stages.super_resolve(models["superres"], video, PROMPTS[:1], [0], half)
    assert high.shape == (1, 3, 7, 16, 16) and not torch.equal(high[..., ::2, ::2], video)
    expert = show1_stages.translate(models["expert"], high, PROMPTS[:1], [0], half)
    assert expert.shape == (1, 3, 7, 32, 32) and expert.abs().max() <= 1
    with pytest.raises(ValueError, match="super-resolution"):
        show1_stages.super_resolve(models["interpolation"], video, PROMPTS[:1], [0], FAST)


@pytest.fixture(scope="module")
def show1_dir(stages, tmp_path_factory):
    names = ("keyframes", "interpolation", "superres", "expert")
    return save_pipeline(tmp_path_factory.mktemp("show1"), "show1", {n: stages[n] for n in names},
                         {"superres_strength": 0.5, "expert_strength": 0.5})


def test_show1_chain_same_seed_same_video_whatever_the_batch(show1_dir):
    pipeline = load_pipeline(show1_dir)
    assert isinstance(pipeline.config, Show1Config) and pipeline.config.superres_strength == 0.5
    both = pipeline(PROMPTS, [3, 4], steps=2)
    alone = pipeline(PROMPTS[1:], [4], steps=2)
    assert both.keyframes.shape == (2, 3, 4, 8, 8) and both.interpolated.shape == (2, 3, 7, 8, 8)
    assert both.superres.shape == (2, 3, 7, 16, 16) and both.video.shape == (2, 3, 7, 32, 32)
    assert torch.equal(both.interpolated[:, :, ::2], both.keyframes)
    for stage in ("keyframes", "interpolated", "superres", "expert"):
        torch.testing.assert_close(getattr(both, stage)[1:], getattr(alone, stage), rtol=1e-3, atol=1e-3)
    assert not torch.allclose(both.video[0], both.video[1])
    keys = show1_stages.keyframes(pipeline.models["keyframes"], PROMPTS[1:], [4], GenerationConfig(steps=2))
    torch.testing.assert_close(keys, alone.keyframes)  # stage 1 of the chain is the keyframe model alone


def test_cmd_stages_and_chain(stages, tmp_path):
    folder = save_pipeline(tmp_path / "cmd", "cmd", {"content": stages["content"], "motion": stages["motion"]})
    pipeline = load_pipeline(folder)
    both, alone = pipeline(PROMPTS, [3, 4], steps=2), pipeline(PROMPTS[1:], [4], steps=2)
    assert both.content.shape == (2, 3, 16, 16) and both.motion.shape == (2, 8, 4, 16)
    assert both.video.shape == (2, 3, 4, 16, 16) and both.video.abs().max() <= 1
    for part in ("content", "motion", "video"):
        torch.testing.assert_close(getattr(both, part)[1:], getattr(alone, part), rtol=1e-3, atol=1e-3)
    content = cmd_stages.content_frames(pipeline.models["content"], PROMPTS[1:], [4], GenerationConfig(steps=2))
    torch.testing.assert_close(content, alone.content)
    with pytest.raises(ValueError, match="cmd-motion"):
        cmd_stages.motion_latents(pipeline.models["content"], content, PROMPTS[1:], [4], FAST)


def test_cmd_content_stage_in_a_frame_autoencoders_latent_space(stages, tmp_path):
    """target_args.latent: the content frame is modelled as its VAE latent; the export carries that VAE
    (a relative folder: the export can move), and the stage decodes its samples to content frames."""
    vae, cmd = stages["expert"] / "autoencoder", stages["content"] / "autoencoder"
    run = stage_run("cmd-content", tmp_path / "latent-content", 4, 16, f"model.autoencoder='{cmd}'",
                    f"model.target_args={{latent='{vae}'}}", channels=4)
    moved = shutil.copytree(run, tmp_path / "moved")
    shutil.rmtree(run)
    model = load_model(moved)
    assert model.shape == (4, 8, 8) and model.config["model"]["target_args"] == {"latent": "latent-autoencoder"}
    latents = run_stage(model, PROMPTS[:1], [5], FAST, "cpu", clamp=False)
    content = cmd_stages.content_frames(model, PROMPTS[:1], [5], FAST)
    assert content.shape == (1, 3, 16, 16)
    torch.testing.assert_close(content, model.latent_autoencoder.decode(latents).clamp(-1, 1))
    pipeline = load_pipeline(save_pipeline(tmp_path / "cmd", "cmd", {"content": moved, "motion": stages["motion"]}))
    assert pipeline(PROMPTS[:1], [5], steps=2).video.shape == (1, 3, 4, 16, 16)


def test_pipeline_folder_is_checked_and_relative(stages, tmp_path):
    folder = save_pipeline(tmp_path / "p", "cmd", {"content": stages["content"], "motion": stages["motion"]})
    spec = json.loads((folder / "pipeline.json").read_text())
    assert spec["method"] == "cmd" and not spec["stages"]["motion"].startswith("/")
    with pytest.raises(ValueError, match="unknown pipeline method"):
        save_pipeline(tmp_path / "q", "pyoco", {})
    with pytest.raises(ValueError, match=r"missing stages \['motion'\]"):
        save_pipeline(tmp_path / "q", "cmd", {"content": stages["content"]})
    with pytest.raises(ValueError, match="superres_strenght"):
        save_pipeline(tmp_path / "q", "show1", {n: stages[n] for n in ("keyframes", "interpolation", "superres")},
                      {"superres_strenght": 0.3})
    with pytest.raises(CheckpointError, match="not an exported"):
        save_pipeline(tmp_path / "q", "cmd", {"content": tmp_path, "motion": stages["motion"]})


@pytest.mark.parametrize("method", ["show1", "cmd"])
def test_generate_cli_runs_a_pipeline_folder(method, show1_dir, stages, tmp_path):
    folder = show1_dir if method == "show1" else save_pipeline(
        tmp_path / "cmd", "cmd", {"content": stages["content"], "motion": stages["motion"]})
    out = tmp_path / "clip.mp4"
    result = CliRunner().invoke(app, ["generate", PROMPTS[0], "-o", str(out), "--model", str(folder), "--steps", "2"])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "clip.json").read_text())
    assert out.is_file() and meta["generation"] == {"pipeline": method, "steps": 2}
    one_stage = CliRunner().invoke(app, ["generate", PROMPTS[0], "-o", str(out), "--model", str(stages["motion"])])
    assert one_stage.exit_code != 0 and "pipeline folder" in str(one_stage.exception)


def test_pipeline_cli_writes_the_folder(stages, tmp_path):
    args = ["pipeline", "cmd", f"content={stages['content']}", f"motion={stages['motion']}", "-o", str(tmp_path / "p"),
            "--set", "stages={motion={guidance=7.5}}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    spec = json.loads((tmp_path / "p" / "pipeline.json").read_text())
    assert set(spec["stages"]) == {"content", "motion"} and spec["config"] == {"stages": {"motion": {"guidance": 7.5}}}
    bad = CliRunner().invoke(app, ["pipeline", "cmd", f"content{stages['content']}", "-o", str(tmp_path / "q")])
    assert bad.exit_code != 0


def test_paths_in_a_folders_json_never_lead_out_of_it(stages, tmp_path):
    """A downloaded pipeline.json or config.json could point at ../../.. or /etc: refused unless trusted."""
    folder = save_pipeline(tmp_path / "p", "cmd", {"content": stages["content"], "motion": stages["motion"]})
    spec = json.loads((folder / "pipeline.json").read_text())
    assert spec["stages"] == {"content": "content", "motion": "motion"}  # outside stages were copied in
    moved = shutil.move(folder, tmp_path / "moved")
    assert load_pipeline(moved)(PROMPTS[:1], [1], steps=1).video.shape == (1, 3, 4, 16, 16)  # self-contained

    for entry in ("../../../etc", "/etc", str(stages["motion"])):
        (Path(moved) / "pipeline.json").write_text(json.dumps(spec | {"stages": {**spec["stages"], "motion": entry}}))
        with pytest.raises(CheckpointError, match="points outside the folder"):
            load_pipeline(moved)
    assert load_pipeline(moved, allow_outside=True).models["motion"] is not None  # the user vouches for it

    model = shutil.copytree(stages["content"], tmp_path / "model")
    config = json.loads((model / "config.json").read_text())
    for key in ("autoencoder", "target_args"):
        bad = dict(config["model"]) | ({"autoencoder": "/etc"} if key == "autoencoder" else
                                       {"target_args": {"latent": "../../outside"}})
        (model / "config.json").write_text(json.dumps(config | {"model": bad}))
        with pytest.raises(CheckpointError, match="points outside the folder"):
            load_model(model)
