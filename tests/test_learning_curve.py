"""The learning curve: eval records in metrics.jsonl from a trainer callback, kept on resume."""

import ast
import json
import math
from pathlib import Path

import pytest


from cinediff.data import parse_caption
from cinediff.data.attributes import MOTIONS
from cinediff.data.shapes import MovingShapes
from cinediff.evaluation.curve import CURVE_FILE, JudgeCurve, curve_prompts, judge_scores, moving_fraction, read_curve
from cinediff.evaluation.judge import judge_video
from cinediff.training.config import load_config
from cinediff.training.trainer import train

TINY_FIT = ("model.backbone_args={dim=32, latent_dim=32, num_latents=4, num_blocks=1, self_attn_layers_per_block=1, "
            "dim_head=16, base_frames=4, base_size=[16, 16], frames_per_group=2, time_embed_dim=32}")


def tiny(out_dir, *extra):
    return load_config(None, ["model.backbone=fit", TINY_FIT, "model.text_encoder=''", "data.dataset=moving-shapes",
                              "data.args={frames=4, height=16, width=16, length=256}", "data.batch_size=3",
                              "train.precision=fp32", "train.log_every=1", "optim.warmup_steps=1",
                              f"train.out_dir='{out_dir}'", *extra])


def test_curve_prompts_cover_every_motion_equally_and_are_fixed():
    prompts = curve_prompts(12)
    motions = [parse_caption(p)["objects"][0]["motion"] for p in prompts]
    assert sorted(motions) == sorted(MOTIONS * 2)
    assert curve_prompts(12) == prompts and curve_prompts(6) == prompts[:6]


def test_judge_scores_on_real_clips_and_on_static_ones():
    clips = MovingShapes(frames=16, height=32, width=32, length=16, seed=3)
    videos, records = clips.render_batch(range(12))
    captions = [r["caption"] for r in records]
    scores = judge_scores(videos, captions)
    assert scores["accuracy_color"] >= 0.9 and scores["accuracy_motion"] >= 0.8 and scores["moving"] >= 0.9
    frozen = videos[:, :, :1].expand_as(videos)  # the first frame held: nothing moves
    assert moving_fraction([judge_video(v, c) for v, c in zip(frozen, captions)]) == 0.0
    assert judge_scores(frozen, captions)["accuracy_motion"] == 0.0


def test_eval_records_every_n_steps_survive_resume(tmp_path):
    calls = []

    def callback(context):
        calls.append(context.step)
        assert context.shape == (3, 4, 16, 16)
        return {"accuracy_all": context.step / 100, "moving": 0.5}

    common = ["train.eval_every=2", "train.checkpoint_every=2", "train.ema_decay=0.9"]
    train(tiny(tmp_path, "train.steps=4", *common), callbacks=[callback])
    train(tiny(tmp_path, "train.steps=6", *common), callbacks=[callback])  # resumes at step 4
    assert calls == [2, 4, 6]
    curve = read_curve(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in curve] == [2, 4, 6]
    assert [r["clips"] for r in curve] == [6, 12, 18]
    minutes = [r["minutes"] for r in curve]
    assert 0 < minutes[0] < minutes[1] < minutes[2]  # training time carries across the resume
    assert curve[2]["accuracy_all"] == 0.06 and all(r["eval_seconds"] >= 0 for r in curve)


def test_evaluating_does_not_change_training(tmp_path):
    """Losses with and without the learning curve are identical, also without EMA (the callback then
    samples the live model, which must come back in training mode: FIT self-conditions only there)."""
    def losses(run_dir, *extra):
        common = ["train.steps=4", "train.ema_decay=0", "model.backbone_args.self_conditioning_prob=0.5",
                  "train.eval_steps=2", "train.eval_num=2"]
        train(tiny(run_dir, *common, *extra), callbacks=[JudgeCurve()])
        records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
        return [r["loss"] for r in records if "loss" in r]

    assert losses(tmp_path / "plain") == losses(tmp_path / "curve", "train.eval_every=1")


def test_judge_curve_callback_samples_judges_and_plots(tmp_path):
    run = tiny(tmp_path, "train.steps=2", "train.eval_every=2", "train.eval_num=6", "train.eval_steps=2")
    train(run, callbacks=[JudgeCurve()])
    (record,) = read_curve(tmp_path / "metrics.jsonl")
    assert record["eval_prompts"] == 6 and 0 <= record["accuracy_all"] <= 1 and 0 <= record["moving"] <= 1
    assert (tmp_path / CURVE_FILE).stat().st_size > 1000


def test_eval_every_without_callback_warns_and_trains(tmp_path, caplog):
    train(tiny(tmp_path, "train.steps=2", "train.eval_every=1"))
    assert "no evaluation callback" in caplog.text
    assert read_curve(tmp_path / "metrics.jsonl") == []


def test_training_loop_does_not_import_the_evaluation_code():
    source = Path(__import__("cinediff.training.trainer", fromlist=["x"]).__file__).read_text()
    imported = [node.module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)]
    assert not [m for m in imported if m and m.startswith("cinediff.evaluation")]


def test_max_minutes_stops_with_a_checkpoint_and_a_curve_point_and_resume_respects_it(tmp_path):
    from cinediff.training.checkpoint import latest_checkpoint, load_checkpoint

    budget = ["train.steps=100000", "train.max_minutes=0.002", "train.eval_every=1000", "train.checkpoint_every=1000"]
    train(tiny(tmp_path, *budget), callbacks=[lambda context: {"moving": 0.0}])
    ckpt = latest_checkpoint(tmp_path / "checkpoints")
    state = load_checkpoint(ckpt)["state"]
    assert 0 < state["step"] < 100000 and state["counters"]["train_seconds"] >= 0.12
    assert [r["step"] for r in read_curve(tmp_path / "metrics.jsonl")] == [state["step"]]
    train(tiny(tmp_path, *budget), callbacks=[lambda context: {"moving": 0.0}])  # nothing left to do
    assert latest_checkpoint(tmp_path / "checkpoints") == ckpt


def test_recipe_study_quick_trains_each_candidate_to_its_budget_and_resumes(tmp_path):
    from cinediff.bench import run_suite
    from cinediff.bench.recipes import CANDIDATES, candidate_config, train_candidate

    options = dict(quick=True, candidates=("fit-pixel", "fit-pixel-pos"), out_dir=str(tmp_path / "study"))
    first = run_suite("recipes", tmp_path / "r.json", **options)
    assert [r["candidate"] for r in first["rows"]] == ["fit-pixel", "fit-pixel-pos"]
    assert all(r["steps"] >= 1 and r["minutes"] >= 0.02 for r in first["rows"])
    assert (tmp_path / "study" / "curves.png").is_file() and set(first["curves"]) == {"fit-pixel", "fit-pixel-pos"}
    again = run_suite("recipes", None, **options)  # budgets spent: nothing more is trained
    assert [r["steps"] for r in again["rows"]] == [r["steps"] for r in first["rows"]]
    assert set(CANDIDATES) >= {"fit-pixel", "fit-latent", "unet-latent"}
    other = candidate_config("fit-pixel", tmp_path / "study", 0.02, 2, quick=True)
    other.model.backbone_args["dim"] = 64  # another model in the same run folder: refused
    with pytest.raises(ValueError, match="another config \\(model.backbone_args.dim: 32 -> 64\\)"):
        train_candidate(other)


def test_every_recipe_candidate_builds(tmp_path):
    from cinediff.bench.recipes import CANDIDATES, candidate_config
    from cinediff.models.build import build_denoiser

    for name in CANDIDATES:
        config = candidate_config(name, tmp_path, 1.0, 2)
        denoiser = build_denoiser(config.model)
        assert sum(p.numel() for p in denoiser.parameters()) > 0, name
        frames, height, width = (config.data.args.get(k) for k in ("frames", "height", "width"))
        assert height % getattr(denoiser.backbone.config, "down_factor", 1) == 0 or config.model.autoencoder, name
        assert frames and width, name


def test_the_default_curve_continues_each_stage_where_the_previous_ended():
    """benchmarks/default_curve.py: a later stage's clips and minutes count on from the previous
    stage's last record; a curve it wrote (records with their stages) takes one more stage on top."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "default_curve.py"
    spec = importlib.util.spec_from_file_location("default_curve", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    point = lambda step, clips, minutes: {"step": step, "clips": clips, "minutes": minutes}  # noqa: E731
    two = module.all_stages([point(0, 0, 0.0), point(10, 480, 5.0)], [point(5, 240, 2.0)])
    assert [(r["stage"], r["stage_step"], r["clips"], r["minutes"]) for r in two] == [
        (1, 0, 0, 0.0), (1, 10, 480, 5.0), (2, 5, 720, 7.0)]
    three = module.all_stages(two, [point(4, 100, 1.0)])  # a written curve, then a new stage
    assert three[:3] == two and (three[3]["stage"], three[3]["clips"], three[3]["minutes"]) == (3, 820, 8.0)


def test_clips_to_reach_solves_the_log_linear_trend_and_a_flat_one_never_gets_there():
    from cinediff.evaluation.curve import clips_to_reach, log_linear_fit

    clips = [10_000 * 2 ** i for i in range(8)]
    rising = [{"clips": c, "accuracy_motion": 0.2 + 0.3 * math.log10(c / 10_000)} for c in clips]
    assert log_linear_fit([(r["clips"], r["accuracy_motion"]) for r in rising]) == pytest.approx((-1.0, 0.3))
    fit = clips_to_reach(rising, 0.9, resamples=200)
    assert fit["clips"] == pytest.approx(10 ** (1.9 / 0.3), rel=1e-6) and fit["per_decade"] == pytest.approx(0.3)
    assert fit["clips_90"] == pytest.approx([fit["clips"]] * 2, rel=1e-6)  # exact points: every resample agrees
    assert clips_to_reach(rising, 0.9, since=40_000)["points"] == 6
    flat = [{"clips": c, "accuracy_motion": 0.7 + 0.01 * (-1) ** i} for i, c in enumerate(clips)]
    assert clips_to_reach(flat, 0.9)["clips"] is None  # the trend never gets there (or past 10^12 clips)
    with pytest.raises(ValueError, match="3 or more"):
        clips_to_reach(rising, 0.9, since=10 ** 6)
