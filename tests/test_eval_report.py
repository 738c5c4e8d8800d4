"""The eval report: real reference clips and the floor, classifier vs judge accuracy, FVD and
CLIPSIM wiring, plots and the page; missing or skipped classifier."""

import json
import math
from functools import partial

import pytest
import torch
from test_eval_clipsim import clip_dir  # noqa: F401  (fixture: a tiny random CLIP directory)
from test_eval_fvd import tiny_i3d_file  # noqa: F401  (fixture: a tiny random I3D state dict)
from test_pipeline import pixel_model  # noqa: F401  (fixture: a tiny exported 4x16x16 model)
from typer.testing import CliRunner

from cinediff.cli.main import app
from cinediff.evaluation import classifier as classifier_module
from cinediff.evaluation.classifier import (
    VideoClassifier,
    accuracy,
    classifier_features,
    load_classifier,
    save_classifier,
)
from cinediff.evaluation.clipsim import clipsim, load_clip
from cinediff.evaluation.frechet import frechet_distance_of_features
from cinediff.evaluation.fvd import fvd, load_i3d
from cinediff.evaluation.report import (
    Scorers,
    builtin_prompts,
    distance_metrics,
    evaluate,
    frechet_with_floor,
    load_scorers,
    real_clips,
)

N = 4  # generated videos in the report


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    torch.manual_seed(0)
    return save_classifier(VideoClassifier(width=16).eval(), tmp_path_factory.mktemp("classifier"))


@pytest.fixture(scope="module")
def report(pixel_model, classifier_dir, clip_dir, tiny_i3d_file, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("report")
    evaluate(pixel_model, builtin_prompts(N), out, generation={"steps": 2}, classifier=classifier_dir,
             i3d=tiny_i3d_file[0], clip=clip_dir[0])
    return out, json.loads((out / "metrics.json").read_text())


def reference_sets(info):
    """The real reference clips, their records and the floor clips a report used."""
    real = info["real_clips"]
    clips, records = real_clips(real["split"], range(*real["reference"]), real["size"])
    return clips, records, real_clips(real["split"], range(*real["floor"]), real["size"])[0]


def test_floor_is_real_vs_disjoint_real(report, classifier_dir):
    metrics, info = report[1]["metrics"], report[1]["info"]
    ref, floor = (range(*info["real_clips"][k]) for k in ("reference", "floor"))
    assert len(ref) == len(floor) == N and not set(ref) & set(floor)
    assert info["real_clips"]["captions_are_prompts"] and info["real_clips"]["size"] == [4, 16, 16]
    real, _, other = reference_sets(info)
    assert not torch.equal(real, other)
    feats = partial(classifier_features, load_classifier(classifier_dir))
    assert metrics["frechet_classifier_floor"] == pytest.approx(frechet_distance_of_features(feats(other), feats(real)))
    for key in ("frechet_classifier", "frechet_classifier_floor"):
        assert math.isfinite(metrics[key]) and metrics[key] > 0


def test_identical_real_sets_are_at_distance_zero(classifier_dir):
    real, _ = real_clips("train", range(6), (4, 16, 16))
    extract = partial(classifier_features, load_classifier(classifier_dir))
    same = frechet_with_floor(extract, real, real, real.clone(), "d")
    scale = frechet_with_floor(extract, real, real, real_clips("train", range(6, 12), (4, 16, 16))[0], "d")
    assert abs(same["d"]) < 1e-6 * scale["d_floor"] and abs(same["d_floor"]) < 1e-6 * scale["d_floor"]


def test_accuracies_of_classifier_and_judge(report, classifier_dir):
    metrics = report[1]["metrics"]
    real, records, _ = reference_sets(report[1]["info"])
    direct = accuracy(load_classifier(classifier_dir), real, records)
    assert set(direct) == {"color", "shape", "motion"}
    assert {k: metrics[f"real_classifier_accuracy_{k}"] for k in direct} == direct
    for key in ("classifier_accuracy_", "accuracy_", "real_accuracy_"):
        assert all(0 <= metrics[key + a] <= 1 for a in ("color", "shape", "motion"))
    assert metrics["real_accuracy_color"] == 1  # the judge on real clips: its sanity column


def test_clipsim_and_fvd_are_wired(report, clip_dir, tiny_i3d_file):  # noqa: F811
    metrics, info = report[1]["metrics"], report[1]["info"]
    real, records, _ = reference_sets(info)
    direct = clipsim(real, [r["caption"] for r in records], load_clip(clip_dir[0])).mean().item()
    assert metrics["real_clipsim"] == pytest.approx(direct, abs=1e-6) and -1 <= metrics["clipsim"] <= 1
    # 4-frame clips are too short for I3D's temporal pooling: a note, no crash, no number
    assert "fvd" not in metrics and any("FVD skipped" in n and "4-frame" in n for n in info["notes"])
    detector = load_i3d(tiny_i3d_file[0])
    generated, real, floor = (real_clips("train", range(i, i + 2), (16, 32, 32))[0] for i in (0, 10, 20))
    found, notes = distance_metrics(Scorers(i3d=detector), generated, real, floor)
    with pytest.warns(UserWarning, match="biased"):
        direct = fvd(real, generated, detector)
    assert found["fvd"] == pytest.approx(direct.fvd, rel=1e-6) and found["fvd_floor"] > 0
    assert "2 clips per set, 16 frames; biased upwards" in notes[0]


def test_plots_and_page(report):
    out, data = report
    page = (out / "index.html").read_text()
    for name in ("accuracy.png", "temporal.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f'src="{name}"' in page
    assert page.count("<figure>") == N and "frechet_classifier" in page and "floor: real ↔ real" in page
    assert "<script" not in page and "http" not in page  # self-contained
    assert len(data["per_video"]["real"]["flicker"]) == N


def test_classifier_none_skips_cleanly(pixel_model, tmp_path):  # noqa: F811
    result = CliRunner().invoke(app, ["eval", str(pixel_model), "--num", "2", "--steps", "2", "-o", str(tmp_path),
                                      "--classifier", "none"])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert not any("classifier" in k for k in data["metrics"]) and data["metrics"]["num_videos"] == 2
    assert any("--classifier none" in n for n in data["info"]["notes"]) and (tmp_path / "accuracy.png").is_file()


def test_missing_shipped_classifier_is_a_note(pixel_model, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(classifier_module, "default_classifier_dir", lambda: tmp_path / "not-shipped")
    metrics = evaluate(pixel_model, builtin_prompts(2), tmp_path / "r", generation={"steps": 2})
    data = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert "frechet_classifier" not in metrics and "classifier_accuracy_color" not in metrics
    assert any("no in-domain classifier" in n and "skipped" in n for n in data["info"]["notes"])
    assert "no in-domain classifier" in (tmp_path / "r" / "index.html").read_text()
    with pytest.raises(FileNotFoundError):  # a path the user names must exist
        load_scorers(tmp_path / "not-a-classifier")


def test_values_from_files_are_escaped_in_the_page(pixel_model, tmp_path):  # noqa: F811
    """A downloaded model's config.json (its ``step``) and a prompt file went into index.html unescaped."""
    import shutil

    model = shutil.copytree(pixel_model, tmp_path / "model")
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps(config | {"step": "<script>alert('step')</script>"}))
    prompt = "a red circle moving left <script>alert('prompt')</script>"
    evaluate(model, [prompt], tmp_path / "r", generation={"steps": 2}, classifier="none")
    page = (tmp_path / "r" / "index.html").read_text()
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#x27;step&#x27;)&lt;/script&gt;" in page and "alert(&#x27;prompt&#x27;)" in page
