"""Benchmark machinery: FLOP counting against the matmul formula, and the suites run end to end (--quick).

No timing thresholds: the figures themselves are noise on shared machines."""

import functools
import json
from pathlib import Path

import pytest
import torch

from cinediff.backbones import build_backbone
from cinediff.bench import run_suite
from cinediff.bench.timing import count_flops, in_fresh_process, peak_memory_mb

TINY_FIT = dict(in_channels=3, out_channels=3, dim=32, latent_dim=32, num_latents=4, num_blocks=1,
                self_attn_layers_per_block=1, dim_head=16, base_frames=4, base_size=(16, 16), frames_per_group=2,
                time_embed_dim=32, patch_size=(1, 4, 4))


def test_count_flops_of_a_matmul_is_2mnk():
    a, b = torch.randn(8, 16), torch.randn(16, 32)
    assert count_flops(lambda: a @ b) == 2 * 8 * 16 * 32


def _fill(megabytes: int) -> float:
    """Allocate and touch ``megabytes`` MiB (float32 ones); returns their sum."""
    return torch.ones(megabytes * 2**18).sum().item()


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux only")
def test_peak_memory_is_the_calls_own_not_the_processes_or_its_parents():
    """A call that touches 64 MiB measures about 64 MiB (±32: allocator slack) after the process,
    or the parent that spawned it, held 1 GiB: Linux keeps getrusage's peak across execve, so a
    measurement spawned by a large bench process used to read the parent's size."""
    cpu = torch.device("cpu")
    held = torch.ones(2**28)  # 1 GiB, touched, alive while the child is spawned
    spawned = in_fresh_process(peak_memory_mb, functools.partial(_fill, 64), cpu)
    del held
    here = peak_memory_mb(functools.partial(_fill, 64), cpu)
    assert spawned == pytest.approx(64, abs=32) and here == pytest.approx(64, abs=32)


def test_count_flops_through_fit_self_conditioning():
    """The no-grad self-conditioning pass used to break torch's per-module tracker; it now counts."""
    x, c_noise = torch.randn(2, 3, 4, 16, 16), torch.zeros(2)

    def step(prob):
        model = build_backbone("fit", **TINY_FIT, self_conditioning_prob=prob).train()
        return count_flops(lambda: model(x, c_noise).square().mean().backward())

    without, with_pass = step(0.0), step(1.0)
    assert without > 0 and with_pass > without  # the extra forward pass is counted


def test_train_suite_quick_writes_json(tmp_path):
    result = run_suite("train", tmp_path / "train.json", quick=True, repeats=1)
    saved = json.loads((tmp_path / "train.json").read_text())
    assert {r["model"] for r in saved["rows"]} == {"fit", "unet-shift"}
    assert all(r["samples_per_s"] > 0 and 0 < r["mfu"] for r in result["rows"])


def test_pyoco_study_quick_trains_equal_budgets_and_resumes(tmp_path):
    """One image model, one fine-tune per prior from it at the same budget, each scored sampling with its
    own prior; running again reuses the finished runs; a folder of another experiment is refused."""
    result = run_suite("pyoco", tmp_path / "pyoco.json", quick=True, priors=("iid", "mixed"), zero_shot=False,
                       out_dir=str(tmp_path / "study"))
    rows = {r["prior"]: r for r in result["rows"]}
    assert set(rows) == {"iid", "mixed"}
    assert rows["iid"]["finetune_steps"] == rows["mixed"]["finetune_steps"] == 2
    assert rows["iid"]["batch_size"] == rows["mixed"]["batch_size"]
    for prior in ("iid", "mixed"):
        run_config = json.loads((tmp_path / "study" / prior / "config.json").read_text())["model"]
        assert run_config["noise_prior"] == prior and run_config["init_from"] == str(tmp_path / "study" / "image")
        report = json.loads((tmp_path / "study" / "reports" / prior / "metrics.json").read_text())
        assert report["info"]["generation"]["noise_prior"] == prior  # sampled with its training prior
        assert 0 <= rows[prior]["accuracy_all"] <= 1 and rows[prior]["frechet_classifier"] >= 0
    assert set(result["ratios"]) >= {"mixed_vs_iid_frechet", "mixed_minus_iid_accuracy_motion"}

    checkpoints = sorted((tmp_path / "study" / "mixed" / "checkpoints").iterdir())
    run_suite("pyoco", None, quick=True, priors=("mixed",), zero_shot=False, out_dir=str(tmp_path / "study"))
    assert sorted((tmp_path / "study" / "mixed" / "checkpoints").iterdir()) == checkpoints  # nothing retrained
    with pytest.raises(ValueError, match="another config \\(model.noise_alpha: 1.0 -> 0.5\\)"):
        run_suite("pyoco", None, quick=True, priors=("mixed",), alphas={"mixed": 0.5}, zero_shot=False,
                  out_dir=str(tmp_path / "study"))


def test_show1_suite_quick_compares_chain_and_pixel_model_at_the_same_size(tmp_path):
    result = run_suite("show1", tmp_path / "show1.json", quick=True, per_stage=False)
    chain, pixel = result["rows"]
    final = list(result["input"]["shapes"]["superres"])
    assert chain["output"] == pixel["output"] == final == [3, 5, 16, 16]  # 3 keyframes → 5 frames → ×2
    assert all(r["peak_memory_mb"] >= 0 and r["peak_total_mb"] > 0 and r["seconds"] > 0 for r in result["rows"])
    assert result["ratios"]["pixel_vs_chain_peak_total"] > 0


def test_cmd_suite_quick_counts_fewer_flops_for_cmd(tmp_path):
    """FLOPs are counted, not timed: CMD's image network on one content frame plus the small motion DiT
    costs less than the same network denoising every frame."""
    result = run_suite("cmd", tmp_path / "cmd.json", quick=True)
    cmd, cmd_latent, pixel, latent = result["rows"]
    assert cmd["output"] == cmd_latent["output"] == pixel["output"] == latent["output"] == [3, 4, 32, 32]
    assert all(r["tflops"] > 0 for r in result["rows"])
    assert result["ratios"]["pixel_video_unet_vs_cmd_tflops"] > 1.5
    assert cmd_latent["tflops"] < cmd["tflops"]  # the content U-Net on a 4×4 latent instead of 32×32 pixels


def test_cmd_suite_size_reaches_every_measured_model():
    from cinediff.bench.cmd import Setup

    for what in ("content", "latent-content", "motion", "pixel", "latent"):
        data = Setup(quick=True, size=128).config(what).data.args
        assert (data["height"], data["width"], data["frames"]) == (128, 128, 4), what
        assert Setup().config(what).data.args["height"] == 64


def test_generate_suite_counts_network_evaluations_per_sampler():
    """Heun: two evaluations per step but the last (EDM Algorithm 1); Euler, DPM-Solver++(2M), DDIM: one."""
    result = run_suite("generate", None, quick=True, samplers=("heun", "euler", "dpmpp_2m", "ddim"))
    nfe = {(r["sampler"], r["batch"]): r["nfe"] for r in result["rows"]}
    # the shipped default samples with DPM-Solver++(2M): the batch row and the ratios use it
    assert nfe == {("heun", 1): 3, ("euler", 1): 2, ("dpmpp_2m", 1): 2, ("ddim", 1): 2, ("dpmpp_2m", 2): 2}
    assert set(result["ratios"]) == {"heun_vs_dpmpp_2m_s_per_video", "euler_vs_dpmpp_2m_s_per_video",
                                     "ddim_vs_dpmpp_2m_s_per_video", "batch_2_throughput_gain"}


def test_generate_suite_times_another_model_side_by_side():
    """``against``: one row per model and prompt (one object, two) at its own generation defaults,
    and new / old seconds per video."""
    result = run_suite("generate", None, quick=True, samplers=("heun",), against="default")
    first, second, two_first, two_second = result["comparison"]
    assert second["model"] == "default" and second["shape"] == first["shape"] and second["layers"]
    assert " and " in two_first["prompt"] and " and " not in first["prompt"]
    assert result["ratios"]["s_per_video_vs_against"] == pytest.approx(first["s_per_video"] / second["s_per_video"])
    assert result["ratios"]["two_objects_s_per_video_vs_against"] == pytest.approx(
        two_first["s_per_video"] / two_second["s_per_video"])
    assert result["input"]["against"] == "default"


def test_the_gpu_asset_pack_halves_the_weights_and_never_loses_them(tmp_path):
    """benchmarks/gpu_assets.py: pack leaves a stub and an fp16 copy, unpack rebuilds fp32 weights equal
    to the fp16-rounded originals (integer tensors exact), and a second pack keeps the copy."""
    import importlib.util

    from safetensors.torch import load_file, save_file

    spec = importlib.util.spec_from_file_location("gpu_assets", Path(__file__).parents[1] / "benchmarks" / "gpu_assets.py")
    gpu_assets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_assets)
    root, packed = tmp_path / "assets", tmp_path / ".gpu" / "assets"
    (root / "default").mkdir(parents=True)
    original = {"w": torch.randn(64, 64), "steps": torch.arange(3)}
    save_file(original, root / "default" / "model.safetensors")
    gpu_assets.pack(["default"], root, packed)
    weights = root / "default" / "model.safetensors"
    assert gpu_assets.is_stub(weights) and (packed / "default.safetensors").stat().st_size < 64 * 64 * 4
    gpu_assets.pack(["default"], root, packed)  # again: the copy stays, the stub is not packed
    assert load_file(packed / "default.safetensors")["w"].dtype == torch.float16
    gpu_assets.unpack(["default"], root, packed)
    rebuilt = load_file(weights)
    assert rebuilt["w"].dtype == torch.float32 and torch.equal(rebuilt["w"], original["w"].half().float())
    assert torch.equal(rebuilt["steps"], original["steps"])
    (packed / "default.safetensors").unlink()
    weights.write_bytes(gpu_assets.STUB)
    with pytest.raises(FileNotFoundError, match="restore"):
        gpu_assets.pack(["default"], root, packed)
