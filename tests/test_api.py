"""The Python API: cinediff.load → pipe(prompt) → frames, export_to_video, and the README quickstart."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from test_pipeline import tiny_run

import cinediff
from cinediff.io import read_video, write_video
from cinediff.models.loading import load_model
from cinediff.training.export import export_model
from cinediff.models.generate import generate_videos
from cinediff.training.trainer import train
from cinediff.weights import CheckpointError

PROMPT = "a red circle moving left"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    return export_model(train(tiny_run(root / "run", 3, 16, 4, "train.sample_every=0")), root / "export")


@pytest.fixture(scope="module")
def pipe(model_dir):
    return cinediff.load(model_dir, device="cpu")


def test_pipe_applies_the_models_defaults_and_matches_generate_videos(pipe, model_dir):
    out = pipe(PROMPT, num_inference_steps=2, seed=3)
    assert len(out.frames) == 1 and out.frames[0].shape == (4, 16, 16, 3) and out.frames[0].dtype == np.uint8
    loaded = load_model(model_dir)
    config = loaded.generation_config({"steps": 2})
    video = generate_videos(loaded.denoiser, loaded.text_encoder, [PROMPT], loaded.shape, [3], config)
    expected = ((video[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()
    np.testing.assert_array_equal(out.frames[0], expected)
    assert out.settings["seeds"] == [3] and out.settings["generation"]["steps"] == 2
    assert out.settings["generation"]["noise_prior"] == loaded.config["model"]["noise_prior"]


def test_a_string_is_one_prompt_and_seeds_do_not_depend_on_the_batch(pipe):
    both = pipe([PROMPT, "a blue square growing"], num_inference_steps=2, seed=[5, 6])
    alone = pipe("a blue square growing", num_inference_steps=2, seed=6)
    assert len(both.frames) == 2
    np.testing.assert_array_equal(both.frames[1], alone.frames[0])  # bit for bit
    many = pipe(PROMPT, num_inference_steps=2, seed=10, num_videos_per_prompt=3)
    assert many.settings["seeds"] == [10, 11, 12] and many.settings["prompts"] == [PROMPT] * 3
    drawn = [pipe(PROMPT, num_inference_steps=2, generator=torch.Generator().manual_seed(1)).settings["seeds"]
             for _ in range(2)]
    assert drawn[0] == drawn[1]  # a seeded generator gives the same seeds


def test_layers_draws_each_phrase_alone_and_composites(pipe, model_dir):
    """``layers=True``: a two-phrase prompt is the composite of its phrases drawn with their seeds
    (models.composition); the setting is reported; a one-phrase prompt comes out as without it."""
    from cinediff.io.video import to_uint8_frames
    from cinediff.models.composition import LAYER_SEED_KEY, composite
    from cinediff.models.generate import generate
    from cinediff.runtime import derive_seeds

    two = PROMPT + " and a blue square growing"
    out = pipe(two, num_inference_steps=2, seed=4, layers=True)
    assert out.settings["generation"]["layers"] is True
    assert pipe(two, num_inference_steps=2, seed=4).settings["generation"]["layers"] is False  # the model's
    config = pipe.model.generation_config({"steps": 2})
    phrases = [generate(pipe.model, [p], [s], config) for p, s in
               [(PROMPT, 4), ("a blue square growing", derive_seeds([4], LAYER_SEED_KEY, 1)[0])]]
    np.testing.assert_array_equal(out.frames[0], to_uint8_frames(composite(torch.cat(phrases))))
    np.testing.assert_array_equal(pipe(PROMPT, num_inference_steps=2, seed=4, layers=True).frames[0],
                                  pipe(PROMPT, num_inference_steps=2, seed=4).frames[0])


def test_unseen_colour_names_are_read_as_the_models_colour_words(pipe):
    """"ivory" is no word of the model's captions: it is read as "white" (the same video bit for bit),
    unless ``color_names=False`` passes it to the text encoder as it is."""
    read = pipe("an ivory square growing", num_inference_steps=2, seed=6)
    plain = pipe("a white square growing", num_inference_steps=2, seed=6)
    assert read.settings["read_as"] == ["a white square growing"] and read.settings["prompts"] == ["an ivory square growing"]
    np.testing.assert_array_equal(read.frames[0], plain.frames[0])
    literal = pipe("an ivory square growing", num_inference_steps=2, seed=6, color_names=False)
    assert literal.settings["read_as"] == ["an ivory square growing"]
    assert not np.array_equal(literal.frames[0], plain.frames[0])


def test_unseen_shape_and_motion_wording_is_read_as_the_training_wording(pipe):
    """"sphere" and "heading to the left" are no words of the model's captions: the clause is read as
    "a red circle moving left" (text.grounding; the same video bit for bit as that prompt), unless
    ``ground_words=False`` leaves it (colour names are still read)."""
    read = pipe("a scarlet sphere heading to the left", num_inference_steps=2, seed=6)
    assert read.settings["read_as"] == [PROMPT] and read.settings["generation"]["ground_words"] is True
    np.testing.assert_array_equal(read.frames[0], pipe(PROMPT, num_inference_steps=2, seed=6).frames[0])
    kept = pipe("a scarlet sphere heading to the left", num_inference_steps=2, seed=6, ground_words=False)
    assert kept.settings["read_as"] == ["a red sphere heading to the left"]


def test_the_pipeline_reads_each_prompt_once(pipe, monkeypatch):
    """The reading that is reported is the one generated from: the readers run once per call (the
    generation itself gets the read prompts with reading off)."""
    reads = []
    read_prompts = type(pipe.model).read_prompts

    def counted(self, prompts, config):
        if config.color_names or config.ground_words:
            reads.append(list(prompts))
        return read_prompts(self, prompts, config)

    monkeypatch.setattr(type(pipe.model), "read_prompts", counted)
    out = pipe("a scarlet sphere heading to the left", num_inference_steps=2, seed=6)
    assert reads == [["a scarlet sphere heading to the left"]] and out.settings["read_as"] == [PROMPT]
    assert out.settings["generation"]["color_names"] and out.settings["generation"]["ground_words"]


def test_generate_cli_says_how_it_read_the_prompt_and_literal_keeps_it(model_dir, tmp_path):
    import json

    from typer.testing import CliRunner

    from cinediff.cli.main import app

    for flags, read in (([], "a red circle moving left"), (["--literal"], "a crimson sphere moving left")):
        out = tmp_path / f"c{len(flags)}.mp4"
        result = CliRunner().invoke(app, ["generate", "a crimson sphere moving left", "-o", str(out), "--model",
                                          str(model_dir), "--steps", "2", *flags])
        assert result.exit_code == 0, result.output
        assert json.loads(out.with_suffix(".json").read_text())["read_as"] == read
        assert ("as 'a red circle moving left'" in result.output) == (not flags)


def test_output_types_and_export_to_video_round_trip(pipe, tmp_path):
    np_out = pipe(PROMPT, num_inference_steps=2, seed=0).frames[0]
    pt_out = pipe(PROMPT, num_inference_steps=2, seed=0, output_type="pt").frames[0]
    pil_out = pipe(PROMPT, num_inference_steps=2, seed=0, output_type="pil").frames[0]
    assert pt_out.shape == (4, 3, 16, 16) and 0 <= pt_out.min() and pt_out.max() <= 1
    np.testing.assert_array_equal(np.stack([np.asarray(im) for im in pil_out]), np_out)
    np.testing.assert_array_equal((pt_out * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy(), np_out)
    for frames, name in ((np_out, "a.gif"), (pt_out, "b.gif"), (pil_out, "c.gif")):
        written = cinediff.export_to_video(frames, tmp_path / name, fps=8)
        assert written == [tmp_path / name]
        back = ((read_video(tmp_path / name) + 1) * 127.5).round().permute(1, 2, 3, 0).numpy()
        assert back.shape == np_out.shape and np.abs(back - np_out).max() <= 40  # GIF palette
    cinediff.export_to_video(np_out, tmp_path / "d.mp4", fps=8)
    assert (tmp_path / "d.mp4").is_file()
    with pytest.raises(ValueError, match="uint8"):
        cinediff.export_to_video(np_out.astype(np.float64), tmp_path / "e.mp4")


def test_init_and_strength_start_from_a_clip_or_an_image(pipe, tmp_path):
    clip = torch.linspace(-1, 1, 3 * 4 * 16 * 16).reshape(3, 4, 16, 16)
    kept = pipe(PROMPT, num_inference_steps=4, seed=0, init=clip, strength=0.25, output_type="pt").frames[0]
    fresh = pipe(PROMPT, num_inference_steps=4, seed=0, output_type="pt").frames[0]
    target = ((clip + 1) / 2).permute(1, 0, 2, 3)
    assert (kept - target).abs().mean() < (fresh - target).abs().mean()  # low strength keeps the init
    ignored = pipe(PROMPT, num_inference_steps=4, seed=0, init=clip, strength=1.0, output_type="pt").frames[0]
    torch.testing.assert_close(ignored, fresh)  # strength 1: pure noise, as diffusers
    image = np.full((32, 32, 3), 200, dtype=np.uint8)  # resized to 16x16, repeated over the 4 frames
    assert pipe(PROMPT, num_inference_steps=2, seed=0, init=image, strength=0.5).frames[0].shape == (4, 16, 16, 3)
    assert pipe(PROMPT, num_inference_steps=2, seed=0, init=image).settings["generation"]["strength"] == 0.6
    write_video(tmp_path / "init.mp4", clip)
    from_file = pipe(PROMPT, num_inference_steps=4, seed=0, init=tmp_path / "init.mp4", strength=0.25)
    assert from_file.frames[0].shape == (4, 16, 16, 3)


def test_callback_sees_every_step(pipe):
    seen = []
    pipe(PROMPT, num_inference_steps=3, seed=0, sampler="euler",
         callback_on_step_end=lambda p, i, sigma, kw: seen.append((p, i, sigma, tuple(kw["latents"].shape))))
    assert [s[1] for s in seen] == [0, 1, 2] and all(s[0] is pipe for s in seen)
    assert seen[0][2] > seen[-1][2] and seen[0][3] == (1, 3, 4, 16, 16)


def test_bad_arguments_are_one_clear_error(pipe, tmp_path):
    for kwargs, message in (({"output_type": "gif"}, "output_type"), ({"strength": 1.5}, "strength"),
                            ({"num_videos_per_prompt": 0}, "num_videos_per_prompt"),
                            ({"seed": 1, "generator": torch.Generator()}, "not both"),
                            ({"seed": [1, 2]}, "2 seeds for 1"), ({"init": 3}, "init must be")):
        with pytest.raises(ValueError, match=message):
            pipe(PROMPT, num_inference_steps=1, **kwargs)
    with pytest.raises(ValueError, match="non-empty list"):
        pipe([], num_inference_steps=1)
    with pytest.raises(CheckpointError, match="neither a shipped model"):
        cinediff.load(tmp_path / "nothing-here")
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    with pytest.raises(CheckpointError, match="export it first"):
        cinediff.load(run)


def test_shipped_name_loads_everywhere():
    assert load_model("default").shape == load_model(None).shape
    pipe = cinediff.load("default", device="cpu")
    assert pipe.fps == load_model(None).fps and "default" in repr(pipe)
    assert pipe.to("cpu") is pipe


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    """Every Python block of the README that loads a model, run as written (in a temp folder; fewer steps)."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "cinediff.load" in b]
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        fast = block.replace("num_inference_steps=16", "num_inference_steps=2").replace("karras_sigmas(24,", "karras_sigmas(2,")
        scope = {}
        exec(compile(fast, "README.md", "exec"), scope)
    assert (tmp_path / "out.mp4").is_file()
    assert scope["video"].shape == (1, 3, 8, 32, 32)


def test_generate_cli_one_file_per_video_prompts_file_grid_and_init(model_dir, tmp_path):
    import json

    from typer.testing import CliRunner

    from cinediff.cli.main import app

    prompts = tmp_path / "prompts.txt"
    prompts.write_text(f"{PROMPT}\n\n  a blue square growing  \n")
    out = tmp_path / "v.mp4"
    result = CliRunner().invoke(app, ["generate", "--prompts", str(prompts), "-n", "2", "--grid", "-o", str(out),
                                      "--model", str(model_dir), "--steps", "2", "--seed", "4", "--fps", "5"])
    assert result.exit_code == 0, result.output
    for i, (prompt, seed) in enumerate([(PROMPT, 4), (PROMPT, 5), ("a blue square growing", 6),
                                        ("a blue square growing", 7)]):
        meta = json.loads((tmp_path / f"v-{i}.json").read_text())
        assert (tmp_path / f"v-{i}.mp4").is_file() and (tmp_path / f"v-{i}.gif").is_file()
        assert (meta["prompt"], meta["seed"], meta["fps"]) == (prompt, seed, 5)
    alone = cinediff.load(model_dir)("a blue square growing", num_inference_steps=2, seed=7).frames[0]
    assert read_video(tmp_path / "v-3.mp4").shape == (3, *alone.shape[:3])
    assert (tmp_path / "v-grid.mp4").is_file() and not (tmp_path / "v.mp4").exists()
    init = tmp_path / "init.gif"
    write_video(init, torch.zeros(3, 4, 16, 16))
    result = CliRunner().invoke(app, ["generate", PROMPT, "-o", str(tmp_path / "i.mp4"), "--model", str(model_dir),
                                      "--steps", "2", "--init", str(init), "--strength", "0.5"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "i.json").read_text())["generation"]["strength"] == 0.5


@pytest.mark.parametrize("args, message", [
    (["--sampler", "magic"], "--sampler"), (["--noise-prior", "pink"], "--noise-prior"), (["--steps", "0"], "--steps"),
    (["--strength", "0.5"], "used with --init"), (["--init", "missing.mp4"], "--init"), (["--fps", "-1"], "--fps"),
    (["--noise-alpha", "-1"], "--noise-alpha"), (["--init", __file__, "--strength", "1.5"], "--strength"),
])
def test_generate_cli_checks_every_option_before_loading_a_model(tmp_path, args, message):
    from typer.testing import CliRunner

    from cinediff.cli.main import app

    result = CliRunner().invoke(app, ["generate", PROMPT, "-o", str(tmp_path / "x.mp4"), "--model",
                                      str(tmp_path / "no-such-model"), *args])
    assert result.exit_code == 2 and message in result.output  # a usage error, not the missing model
    assert not list(tmp_path.glob("x*"))


def test_generation_problems_names_each_bad_setting_and_passes_good_ones():
    from cinediff.models.generate import generation_problems

    assert generation_problems() == {} and generation_problems(4, "heun", "mixed", 0.0, 8.0, 1.0) == {}
    found = generation_problems(steps=0, sampler="magic", noise_prior="pink", noise_alpha=-1.0, fps=0.0, strength=0.0)
    assert list(found) == ["steps", "sampler", "noise_prior", "noise_alpha", "fps", "strength"]
    assert found["steps"] == "must be ≥ 1, got 0" and found["strength"] == "must be in (0, 1], got 0.0"
    assert found["noise_prior"] == "must be one of ['iid', 'mixed', 'progressive'], got 'pink'"


def test_write_video_and_gif_writes_the_mp4_its_sidecar_and_the_gif(tmp_path):
    import json

    from cinediff.io import write_video_and_gif

    video = torch.rand(3, 4, 16, 16) * 2 - 1
    mp4, sidecar, gif = write_video_and_gif(tmp_path / "a.mp4", video, 4.0, {"prompt": "p"})
    assert (mp4.name, sidecar.name, gif.name) == ("a.mp4", "a.json", "a.gif")
    assert json.loads(sidecar.read_text())["prompt"] == "p"
    assert read_video(gif).shape == read_video(mp4).shape == (3, 4, 16, 16)


def test_models_and_recipes_commands_list_what_ships():
    import json

    from typer.testing import CliRunner

    from cinediff.cli.main import app
    from cinediff.models.catalog import parameter_count
    from cinediff.models.loading import default_model_dir
    from cinediff.training.config import packaged_configs

    rows = {r["name"]: r for r in json.loads(CliRunner().invoke(app, ["models", "--json"]).output)}
    assert {"default", "vae", "cmd-autoencoder", "classifier"} <= set(rows)
    default = rows["default"]
    loaded = load_model("default")
    assert default["kind"] == "text-to-video" and tuple(default["shape"]) == loaded.shape
    assert default["params_m"] == round(sum(p.numel() for p in loaded.denoiser.parameters()) / 1e6, 2)
    assert parameter_count(default_model_dir() / "model.safetensors") == sum(
        p.numel() for p in loaded.denoiser.state_dict().values())
    assert rows["vae"]["kind"] == "autoencoder" and rows["classifier"]["kind"] == "classifier"
    assert all(r["steps"] and r["cpu_minutes"] and r["eval"] for r in rows.values())  # provenance of every asset
    table = CliRunner().invoke(app, ["models"]).output.splitlines()
    assert table[0].split()[:3] == ["name", "kind", "method"] and len(table) == len(rows) + 1
    listed = CliRunner().invoke(app, ["recipes"]).output.splitlines()
    assert [line.split()[0] for line in listed] == sorted(packaged_configs())
    assert all(len(line.split(maxsplit=1)) == 2 for line in listed)  # every recipe has a description


def recipe_defaults(config_class) -> dict:
    import dataclasses
    import json

    return json.loads(json.dumps(dataclasses.asdict(config_class())))


def test_the_default_recipe_reproduces_the_shipped_default():
    """`cinediff train default-base`, `default-wide`, `default-rich`, then `cinediff train default`
    train the shipped model: the same network, data and number of steps (and learning-rate schedule,
    so the step count is the only stopping rule)."""
    import dataclasses
    import json

    from cinediff.models.loading import default_model_dir
    from cinediff.training.config import load_config

    def recipe(name):
        return json.loads(json.dumps(dataclasses.asdict(load_config(name))))  # tuples as JSON lists

    shipped = json.loads((default_model_dir() / "config.json").read_text())
    stage4, stage3, stage2, stage1 = (recipe(n) for n in ("default", "default-rich", "default-wide", "default-base"))
    from cinediff.models.config import ModelConfig

    newer = {k: v for k, v in recipe_defaults(ModelConfig).items() if k not in shipped["model"]}  # fields added since
    assert newer == {}
    # the shipped stage 4 started from stage 3's export, shipped as `default` at the time
    assert shipped["model"]["init_from"] == "default" and stage4["model"]["init_from"] == stage3["train"]["out_dir"]
    assert stage4["model"] | {"init_from": "default"} == shipped["model"] and stage4["data"] == shipped["data"]
    assert stage4["train"]["steps"] == shipped["step"] and stage4["optim"]["schedule"] == "cosine"
    assert tuple(shipped["shape"]) == (3, stage4["data"]["args"]["frames"], 32, 32)
    # each stage starts from the previous one's run and changes only what its recipe's comment says
    assert stage1["model"]["init_from"] is None
    assert stage2["model"]["init_from"] == stage1["train"]["out_dir"]
    assert stage3["model"]["init_from"] == stage2["train"]["out_dir"]
    assert stage1["model"]["backbone_args"] | {"frame_text_attention": True} == stage2["model"]["backbone_args"]
    assert stage1["data"]["args"] | {"captions": "wide"} == stage2["data"]["args"]
    assert stage1["optim"] == stage2["optim"] and stage2["optim"]["schedule"] == "constant"
    assert stage2["model"]["backbone_args"] | {"frame_text_heads": 4} == stage3["model"]["backbone_args"]
    assert stage2["data"]["args"] | {"captions": "rich", "two_object_prob": 0.5} == stage3["data"]["args"]
    assert stage2["optim"] | {"schedule": "cosine"} == stage3["optim"]
    tokens = {"token_embedding": 30522, "token_embedding_rank": 32, "token_embedding_gain": 20.0}
    assert stage3["model"]["backbone_args"] | tokens == stage4["model"]["backbone_args"]
    assert stage3["model"]["formulation_args"] | {"P_mean": -0.4} == stage4["model"]["formulation_args"]
    assert stage3["data"]["args"] | {"two_object_prob": 0.6} == stage4["data"]["args"]
    assert stage3["optim"] | {"lr": 3e-4, "warmup_steps": 50} == stage4["optim"]
    assert len({s["data"]["batch_size"] for s in (stage1, stage2, stage3, stage4)}) == 1


def test_every_shipped_asset_carries_a_current_model_card():
    from cinediff.models.catalog import asset_folders, describe_asset, shipped_card

    folders = asset_folders()
    assert len(folders) >= 4
    for folder in folders:  # stale after retraining: python -c "...catalog import write_shipped_cards; ..."
        card = (folder / "README.md").read_text()
        assert card == shipped_card(folder), f"{folder.name}/README.md is stale: run catalog.write_shipped_cards()"
        row = describe_asset(folder)
        assert card.startswith(f"# {folder.name}\n") and f"{row['params_m']:.2f} M" in card and "## Evaluation" in card


def test_model_card_evaluation_has_one_row_per_prompt_set():
    from cinediff.models.catalog import headline_figures
    from cinediff.models.model_card import eval_table

    per_set = {"builtin": {"colour": 1.0, "motion": 0.625}, "builtin-heldout": {"colour": 0.9, "motion": 0.5}}
    assert eval_table(per_set) == ["| prompts | colour | motion |", "|---|---|---|", "| builtin | 1.00 | 0.62 |",
                                   "| builtin-heldout | 0.90 | 0.50 |"]
    assert eval_table({"PSNR (dB)": 40.123}) == ["| PSNR (dB) |", "|---|", "| 40.12 |"]
    assert headline_figures(per_set) == per_set["builtin"] and headline_figures({"a": 1.0}) == {"a": 1.0}


def test_export_writes_a_model_card_with_the_training_and_the_judge(model_dir, tmp_path):
    import json

    card = (model_dir / "README.md").read_text()
    assert card.startswith(f"# {model_dir.name}") and "edm + fit" in card and "3 x 4 x 16 x 16" in card
    assert "2 steps of batch 2 (4 clips)" in card and "Not evaluated" in card
    run = model_dir.parent / "run"
    with open(run / "metrics.jsonl", "a") as f:  # a learning-curve record, as train.eval_every writes it
        f.write(json.dumps({"kind": "eval", "step": 2, "eval_prompts": 24, "accuracy_color": 0.75,
                            "accuracy_shape": 0.5, "accuracy_motion": 0.25, "accuracy_count": 1.0,
                            "accuracy_all": 0.125, "moving": 0.5}) + "\n")
        f.write('{"kind": "eval", "step": 9, "accuracy_color": 0.1}\n{"torn')  # after the export step; torn line
    card = (export_model(run, tmp_path / "again") / "README.md").read_text()
    assert "At step 2 (24 prompts)" in card and "| 0.75 | 0.50 | 0.25 | 1.00 | 0.12 | 0.50 |" in card
    assert 'cinediff.load("again")' in card


def test_export_takes_generation_defaults_and_refuses_bad_ones_in_one_line(model_dir, tmp_path):
    """``cinediff export --generation k=v``: the exported model samples with them (config.json's
    ``generation``); an unknown key or a bad value is one line and writes nothing."""
    import subprocess
    import sys

    from cinediff.training.export import parse_generation

    run = model_dir.parent / "run"
    out = export_model(run, tmp_path / "layered", parse_generation(["layers=true", "sampler=dpmpp_2m"]))
    config = load_model(out).generation_config()
    assert config.layers and config.sampler == "dpmpp_2m" and config.steps == 24
    for bad, message in [("layer=true", "unknown generation setting 'layer'"), ("layers=yes", "layers must be a bool"),
                         ("sampler=foo", "sampler must be one of")]:
        proc = subprocess.run([sys.executable, "-m", "cinediff.cli.main", "export", str(run), "-o",
                               str(tmp_path / "bad"), "--generation", bad], capture_output=True, text=True)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "bad").exists()


def test_export_format_diffusers_from_a_unet_run(tmp_path):
    diffusers = pytest.importorskip("diffusers.models.unets.unet_2d_condition")
    from typer.testing import CliRunner

    from cinediff.cli.main import app
    from cinediff.training.config import load_config

    cfg = load_config("latent-shift-video", [
        "model.backbone_args={block_channels=[16, 32], attention_levels=[false, true], heads=2, norm_groups=8, "
        "in_channels=3, out_channels=3, temporal='shift'}", "model.autoencoder=''", "model.init_from=''",
        "data.dataset='moving-shapes'", "data.args={frames=4, height=16, width=16, length=16}", "data.batch_size=2",
        "data.image_batch_fraction=0.0", "train.precision='fp32'", "train.steps=1", f"train.out_dir='{tmp_path / 'run'}'"])
    run = train(cfg)
    result = CliRunner().invoke(app, ["export", str(run), "-o", str(tmp_path / "unet"), "--format", "diffusers"])
    assert result.exit_code == 0, result.output
    reference = diffusers.UNet2DConditionModel.from_pretrained(tmp_path / "unet").eval()
    ours = load_model(export_model(run, tmp_path / "export")).denoiser.backbone
    g = torch.Generator().manual_seed(0)
    x, t, text = torch.randn(2, 3, 16, 16, generator=g), torch.tensor([10.0, 500.0]), torch.randn(2, 6, 384, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, t, text=text), reference(x, t, encoder_hidden_states=text).sample,
                                   atol=1e-5, rtol=0)
    assert reference.config.sample_size == 16
    fit = CliRunner().invoke(app, ["export", str(export_model(train(tiny_run(tmp_path / "fit", 3, 16, 4,
                             "train.sample_every=0")), tmp_path / "fit-export")), "-o", str(tmp_path / "x"),
                             "--format", "diffusers"])
    assert fit.exit_code != 0 and "exports U-Net models" in str(fit.exception)


def test_a_model_with_learned_token_embeddings_trains_on_its_captions_ids_exports_and_generates(tmp_path):
    """text_ids travel from the captions through training (the table rows of caption words move, a word no
    caption uses stays zero), export and loading, into generation with CFG (same seed, same video)."""
    from cinediff.training.config import load_config

    config = load_config(None, [
        "model.backbone=unet", "model.formulation=edm",
        "model.backbone_args={block_channels=[16, 32], attention_levels=[false, true], heads=2, norm_groups=8, "
        "in_channels=3, out_channels=3, temporal='attention', temporal_head_dim=8, token_embedding=30522, "
        "token_embedding_rank=4, token_embedding_gain=10.0}",
        "data.dataset=moving-shapes", "data.args={frames=4, height=16, width=16, length=64}", "data.batch_size=2",
        "train.steps=2", "train.precision=fp32", f"train.out_dir='{tmp_path / 'run'}'", "train.sample_every=0",
        "optim.warmup_steps=1"])
    loaded = load_model(export_model(train(config), tmp_path / "export"))
    table = loaded.denoiser.backbone.token_embedding.table.weight
    tokenizer = loaded.text_encoder.tokenizer
    cls, never = tokenizer.convert_tokens_to_ids(["[CLS]", "xylophone"])  # in every caption; in none
    assert table[cls].abs().sum() > 0 and not table[never].any()
    prompt = "a red circle moving left"
    config = loaded.generation_config({"steps": 2})
    video = generate_videos(loaded.denoiser, loaded.text_encoder, [prompt], loaded.shape, [5], config)
    again = generate_videos(loaded.denoiser, loaded.text_encoder, [prompt], loaded.shape, [5], config)
    assert video.shape == (1, 3, 4, 16, 16) and torch.equal(video, again)
