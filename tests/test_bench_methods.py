"""`cinediff bench methods`: the methods at one output, the equal-quality arithmetic, a tiny run end to end."""

import json
from pathlib import Path

import pytest

from cinediff.bench import methods as bm
from cinediff.bench import run_suite


def test_minutes_to_interpolates_from_zero_accuracy_at_zero_minutes():
    curve = [{"minutes": 10.0, "q": 0.2}, {"minutes": 20.0, "q": 0.6}]
    assert bm.minutes_to(curve, "q", 0.1) == pytest.approx(5.0)
    assert bm.minutes_to(curve, "q", 0.4) == pytest.approx(15.0)
    assert bm.minutes_to(curve, "q", 0.6) == pytest.approx(20.0)
    assert bm.minutes_to(curve, "q", 0.7) is None


def test_time_to_equal_quality_reads_both_curves_at_the_best_common_level():
    fast = [{"minutes": 10.0, "q": 0.5}, {"minutes": 20.0, "q": 0.8}]
    slow = [{"minutes": 30.0, "q": 0.25}, {"minutes": 60.0, "q": 0.5}]
    found = bm.time_to_equal_quality({"slow": slow, "fast": fast}, "slow", "fast", "q")
    assert found["level"] == 0.5 and found["ratio"] == pytest.approx(60 / 10)
    assert "slow never reaches fast's best 0.800" in found["note"]
    never = bm.time_to_equal_quality({"slow": [{"minutes": 5.0, "q": 0.0}], "fast": fast}, "slow", "fast", "q")
    assert never["ratio"] is None and "never scores above 0" in never["note"]
    assert bm.time_to_equal_quality({"fast": fast}, "slow", "fast", "q") == {}


def test_cost_at_quality_is_only_called_equal_within_two_standard_errors():
    rows = {"a": {"s": 6.0, "q": 0.50, "num_videos": 64}, "b": {"s": 2.0, "q": 0.55, "num_videos": 64},
            "c": {"s": 1.0, "q": 0.95, "num_videos": 64}}
    close = bm.cost_at_quality(rows, "a", "b", "s", "q")
    assert close["ratio"] == pytest.approx(3.0) and close["note"].startswith("equal quality")
    assert bm.cost_at_quality(rows, "a", "c", "s", "q")["note"].startswith("quality differs (a 0.500, c 0.950)")


@pytest.mark.parametrize("size", [32, 64])
def test_every_method_trains_towards_the_same_output(size):
    every = bm.methods(frames=16, size=size)
    assert set(every) == {"snap-video", "unet-video", "latent-shift", "pyoco-iid", "pyoco-mixed", "pyoco-progressive",
                          "cmd", "show1"}
    for method in every.values():
        assert sum(s.share for s in method.stages) == pytest.approx(1.0)
        configs = {s.run: bm.stage_config(s, Path("runs"), 1.0, None) for s in method.stages}
        for config in configs.values():
            assert config.data.dataset == "moving-shapes" and config.optim.schedule == "constant"
            assert config.train.max_minutes == 1.0
        if method.name == "show1":  # 6 keyframes at size/2 → 16 frames at size/2 → ×2
            keyframes, interpolation, superres = configs.values()
            assert (keyframes.data.args["frames"], keyframes.data.args["height"]) == (6, size // 2)
            assert interpolation.model.target_args == {"stride": 3} and interpolation.data.args["frames"] == 16
            assert superres.model.target_args == {"factor": 2} and superres.data.args["height"] == size
        else:
            last = configs[method.stages[-1].run]
            assert [last.data.args[k] for k in ("frames", "height", "width", "fps")] == [16, size, size, 8.0]
    assert every["pyoco-progressive"].stages[1].init_from == "image"
    assert bm.stage_config(every["pyoco-progressive"].stages[1], Path("r"), 1.0, None).model.noise_alpha == 2.0


def test_show1_needs_three_k_plus_one_frames():
    with pytest.raises(ValueError, match="3k \\+ 1"):
        bm.methods(frames=8)


def test_suites_refuse_options_they_do_not_take_and_methods_a_budget_it_cannot_use():
    with pytest.raises(ValueError, match="bench noise has no option budget"):
        run_suite("noise", None, budget=3.0)
    for bad in ({"rounds": 0}, {"budget": 0.0}, {"size": 48}):
        with pytest.raises(ValueError, match="bench methods: "):
            run_suite("methods", None, **bad)


def test_a_tiny_study_runs_end_to_end_and_refuses_a_changed_recipe(tmp_path, monkeypatch):
    out = tmp_path / "study"
    page = tmp_path / "page" / "methods.html"
    result = run_suite("methods", tmp_path / "methods.json", quick=True, names=("snap-video", "unet-video", "show1"),
                       out_dir=str(out), page=str(page))
    rows = {r["method"]: r for r in result["rows"]}
    assert list(rows) == ["snap-video", "unet-video", "show1"]
    for name, row in rows.items():
        report = json.loads((out / "reports" / name / "metrics.json").read_text())
        assert report["info"]["real_clips"]["size"] == [4, 16, 16]  # the same output for every method
        assert row["num_videos"] == 2 and row["sample_seconds"] > 0 and row["peak_total_mb"] > 0
        assert row["train_tflops"] > 0 and row["sample_tflops"] > 0
        assert [p["round"] for p in result["curves"][name]] == [1, 2]
        minutes = [p["minutes"] for p in result["curves"][name]]
        assert 0 < minutes[0] < minutes[1] == pytest.approx(row["train_minutes"])
    show1 = {s["run"]: s for s in result["stages"]["show1"]}
    assert [s["steps"] for s in show1.values()] == [2, 2, 2]  # one step per round and stage
    assert json.loads((out / "exports" / "show1" / "pipeline.json").read_text())["method"] == "show1"
    assert set(result["ratios"]) == {"fit_vs_unet_training_time", "pixel_vs_show1_peak_memory"}
    assert result["ratios"]["pixel_vs_show1_peak_memory"]["paper"] == 4.8
    assert set(result["ratios_at"]) == set(bm.JUDGE_KEYS) and result["ratios_at"]["accuracy_all"] == result["ratios"]
    colour = result["ratios_at"]["accuracy_color"]["pixel_vs_show1_peak_memory"]
    assert colour["ratio"] == result["ratios"]["pixel_vs_show1_peak_memory"]["ratio"]  # the cost is the same,
    assert colour["unet-video_accuracy_color"] == rows["unet-video"]["accuracy_color"]  # the quality it is read at not
    assert json.loads((tmp_path / "methods.json").read_text())["suite"] == "methods"
    html = page.read_text()
    assert "Equal-quality ratios" in html and 'src="methods-files/show1.gif"' in html
    assert "read at each judge accuracy" in html
    assert (page.parent / "methods-files" / "curves.png").is_file()

    monkeypatch.setattr(bm, "QUICK_FIT", [*bm.QUICK_FIT[:-1], "model.backbone_args.num_latents=8"])
    with pytest.raises(ValueError, match="trained with another config"):
        bm.run(quick=True, names=("snap-video",), out_dir=str(out), flops=False)


def _study_result(budget_points: list[float], all_scores: list[float]) -> dict:
    """A bench methods result of two methods (FIT vs the U-Net) with curves at ``budget_points``."""
    keys = {k: 0.0 for k in bm.JUDGE_KEYS}
    curve = lambda scale: [{"round": i + 1, "minutes": m, **keys, "accuracy_color": a * scale,  # noqa: E731
                            "accuracy_all": a * scale} for i, (m, a) in enumerate(zip(budget_points, all_scores))]
    row = lambda name: {"method": name, "num_videos": 64, "sample_seconds": 1.0, "peak_memory_mb": 10.0,  # noqa: E731
                        **keys, "frechet_classifier": None}
    stage = lambda name: [{"run": name, "minutes": budget_points[-1], "steps": 10, "clips": 120, "train_tflops": 1.0}]  # noqa: E731
    return {"rows": [row("snap-video"), row("unet-video")], "curves": {"snap-video": curve(1.0), "unet-video": curve(0.5)},
            "stages": {"snap-video": stage("snap-video"), "unet-video": stage("unet-video")}}


def test_the_readme_tables_join_a_study_continued_at_a_larger_budget():
    """benchmarks/methods_table.py: curves of a study run again at a larger budget continue the first
    run's, the point both have is kept once, and the ratios are read on the joined curves."""
    import importlib.util

    path = Path(__file__).parents[1] / "benchmarks" / "methods_table.py"
    spec = importlib.util.spec_from_file_location("methods_table", path)
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    first, later = _study_result([5.0, 10.0], [0.2, 0.4]), _study_result([10.0, 20.0], [0.4, 0.8])
    joined = table.joined_curves([first, later])
    assert [p["minutes"] for p in joined["snap-video"]] == [5.0, 10.0, 20.0]
    # FIT reaches the U-Net's best (0.4 at 20 min) at 10 min: 2x; on the first run alone the U-Net's best is
    # 0.2 at 10 min, FIT's 0.2 at 5 min: also 2x, but read at another level
    found = bm.ratios_at(joined, {r["method"]: r for r in later["rows"]})["accuracy_all"]["fit_vs_unet_training_time"]
    assert found["level"] == pytest.approx(0.4) and found["ratio"] == pytest.approx(2.0)
    text = table.tables([first, later])
    assert "| `fit_vs_unet_training_time` | 2 | – | – | – | 2 | 3.31 |" in text
    assert "5.0 → 0.00 / 0.20 / 0.20 / 0.00, 10.0 → 0.00 / 0.40" in text
    # --cost: memory measured again replaces the memory columns only, of the methods it has
    rows = table.with_costs(later["rows"], {"unet-video": {"peak_memory_mb": 3.0, "sample_seconds": 9.0,
                                                            "accuracy_all": 1.0}})
    assert rows["unet-video"]["peak_memory_mb"] == 3.0 and rows["unet-video"]["sample_seconds"] == 1.0
    assert rows["unet-video"]["accuracy_all"] == 0.0
    assert rows["snap-video"]["peak_memory_mb"] == 10.0
