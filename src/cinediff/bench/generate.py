"""What ``cinediff generate`` costs: seconds per video for each sampler, and what batching buys.

For one exported model (default: the shipped one) and one prompt, side by side in this process:
every sampler at ``steps`` steps (default: the model's) — network evaluations (NFE: Heun takes
two per step but the last, the others one; classifier-free guidance batches both branches into
one call) and wall seconds per video at batch 1 — then the default sampler at ``batch`` videos per call (seconds
per video; > 1× when batching uses the machine better). Text encoding, sampling and decoding are
all timed, as the command runs them.

``against`` (another exported model, e.g. the previous default): each model's own generation
defaults (sampler, steps, layered composition) at batch 1, as ``cinediff generate`` runs them, timed
in the same process alternately, for a one-object prompt and a two-object one (which a model with
``layers`` draws as two videos): ``s_per_video_vs_against`` and ``two_objects_s_per_video_vs_against``
(what a user waits, new / old).
"""

from __future__ import annotations

import dataclasses
import statistics

import torch

from cinediff.bench.timing import time_call

PROMPT = "a red circle moving left"
TWO_OBJECTS = "a red circle moving left and a blue square growing"


class CountingDenoiser(torch.nn.Module):
    """A denoiser that counts its calls (network evaluations) and passes everything else through."""

    def __init__(self, denoiser):
        super().__init__()
        self.inner, self.calls = denoiser, 0

    def forward(self, *args, **kwargs):
        self.calls += 1
        return self.inner(*args, **kwargs)

    def __getattr__(self, name):  # sigma_min, to_data, backbone, ... of the wrapped denoiser
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.inner, name)


def run(quick: bool = False, model: str | None = None, steps: int | None = None, batch: int = 8,
        samplers: tuple[str, ...] = ("heun", "euler", "dpmpp_2m", "ddim"), repeats: int = 3,
        device: str | None = None, against: str | None = None) -> dict:
    from cinediff.models.loading import load_model
    from cinediff.models.generate import generate as generate_as_configured
    from cinediff.models.generate import generate_videos
    from cinediff.runtime import default_device, prepare_cpu_math

    device = device or str(default_device())
    prepare_cpu_math(device)
    loaded = load_model(model, device)
    if quick:
        steps, batch, repeats = 2, 2, 1
    base = loaded.generation_config({"steps": steps})
    counting = CountingDenoiser(loaded.denoiser)

    def generate(config, n):
        return generate_videos(counting, loaded.text_encoder, [PROMPT] * n, loaded.shape, list(range(n)), config,
                               device, disable_progress=True, autoencoder=loaded.decoder)

    def default_video(model_loaded, prompt):
        return lambda: generate_as_configured(model_loaded, [prompt], [0], device=device)

    rows = []
    for sampler, n in [*((sampler, 1) for sampler in samplers), (base.sampler, batch)]:
        config = dataclasses.replace(base, sampler=sampler)
        counting.calls = 0
        generate(config, n)  # warm-up, and the count of network evaluations
        nfe = counting.calls
        seconds = time_call(lambda: generate(config, n), torch.device(device), warmup=0, repeats=repeats)
        rows.append({"sampler": sampler, "steps": config.steps, "batch": n, "nfe": nfe, "s_per_video": seconds / n})
    single = {r["sampler"]: r["s_per_video"] for r in rows if r["batch"] == 1}
    ratios = {f"{name}_vs_{base.sampler}_s_per_video": s / single[base.sampler]
              for name, s in single.items() if name != base.sampler and base.sampler in single}
    if base.sampler in single:
        ratios[f"batch_{batch}_throughput_gain"] = single[base.sampler] / rows[-1]["s_per_video"]
    result = {"rows": rows, "ratios": ratios,
              "input": {"model": str(model or "default"), "shape": list(loaded.shape), "prompt": PROMPT,
                        "guidance": base.guidance, "device": device}}
    if against is not None:
        result = with_comparison(result, loaded, load_model(against, device), default_video, repeats, device,
                                 str(model or "default"), against)
    return result


def with_comparison(result: dict, ours, other, default_video, repeats: int, device: str, name: str,
                    other_name: str) -> dict:
    """``result`` plus, per prompt (one object, two objects), one row per model at its own
    generation defaults (batch 1), timed alternately (``repeats`` rounds, median each), and their
    ratios ``s_per_video_vs_against`` / ``two_objects_s_per_video_vs_against``."""
    result["comparison"] = []
    for prompt, key in ((PROMPT, "s_per_video_vs_against"), (TWO_OBJECTS, "two_objects_s_per_video_vs_against")):
        calls = {"ours": default_video(ours, prompt), "theirs": default_video(other, prompt)}
        calls["ours"](), calls["theirs"]()  # warm-up
        times = {"ours": [], "theirs": []}
        for _ in range(repeats):
            for who, call in calls.items():
                times[who].append(time_call(call, torch.device(device), warmup=0, repeats=1))
        med = {k: statistics.median(v) for k, v in times.items()}
        for model_name, loaded, seconds in ((name, ours, med["ours"]), (other_name, other, med["theirs"])):
            cfg = loaded.generation_config()
            result["comparison"].append({"model": model_name, "prompt": prompt, "shape": list(loaded.shape),
                                         "sampler": cfg.sampler, "steps": cfg.steps, "layers": cfg.layers,
                                         "s_per_video": seconds})
        result["ratios"][key] = med["ours"] / med["theirs"]
    result["input"]["against"] = other_name
    return result
