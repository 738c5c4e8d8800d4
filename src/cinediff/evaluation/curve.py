"""The learning curve: the judge's accuracy of a model's samples while it trains.

Colour is learnt in minutes; shape and motion much later, and the loss shows neither. So a
run can score its EMA weights every ``train.eval_every`` steps: :class:`JudgeCurve` is the
trainer callback (``training.trainer.EvalCallback``) that samples a fixed prompt set with fixed
seeds, judges the videos and returns the accuracies plus ``moving`` (the fraction of prompt
objects that move at all, i.e. whose judged motion is neither "static" nor missing) — the
number that separates "static objects" from "wrong direction". :func:`plot_curve` draws
accuracy against training minutes from a run's ``metrics.jsonl``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from cinediff.data.attributes import MOTIONS
from cinediff.data.captions import parse_caption
from cinediff.evaluation.judge import judge_video, verdict_accuracy
from cinediff.evaluation.report import PROMPT_SEED, builtin_prompts

CURVE_FILE = "learning_curve.png"
CURVE_KEYS = ("accuracy_color", "accuracy_shape", "accuracy_motion", "accuracy_all", "moving")  # what is plotted


def curve_prompts(num: int, seed: int = PROMPT_SEED) -> list[str]:
    """``num`` built-in prompts (captions of held-in moving-shapes clips, seed ``seed``) taken
    round-robin over the first object's motion, so every motion is equally represented."""
    pool = builtin_prompts(max(8 * num, 64), "train", seed)
    by_motion = {m: [p for p in pool if parse_caption(p)["objects"][0].get("motion") == m] for m in MOTIONS}
    chosen, rank = [], 0
    while len(chosen) < num:
        for motion in MOTIONS:
            if rank < len(by_motion[motion]) and len(chosen) < num:
                chosen.append(by_motion[motion][rank])
        rank += 1
    return chosen


def moving_fraction(verdicts: list[dict]) -> float:
    """Fraction of the prompt objects (that name a motion) whose judged motion is a real one."""
    found = [p for v in verdicts for p, e in zip(v["motion"]["predicted"], v["motion"]["expected"]) if e is not None]
    return sum(p not in (None, "static") for p in found) / max(len(found), 1)


def judge_scores(videos: torch.Tensor, prompts: list[str]) -> dict:
    """``accuracy_<attribute>`` / ``accuracy_all`` of the judge and ``moving`` for videos (B, C, T, H, W)."""
    verdicts = [judge_video(v, p) for v, p in zip(videos.float().cpu(), prompts)]
    accuracy = {f"accuracy_{k}": v for k, v in verdict_accuracy(verdicts).items()}
    return accuracy | {"moving": moving_fraction(verdicts)}


class JudgeCurve:
    """Trainer callback: sample ``prompts`` (default :func:`curve_prompts` of ``train.eval_num``)
    with seeds 0..N-1, judge them, redraw the run's :data:`CURVE_FILE`; returns the scores."""

    def __init__(self, prompts: list[str] | None = None, batch_size: int = 16):
        self.prompts, self.batch_size = prompts, batch_size

    def prompts_for(self, config) -> list[str]:
        return list(self.prompts or config.train.eval_prompts or curve_prompts(config.train.eval_num))

    def __call__(self, context) -> dict:
        prompts = self.prompts_for(context.config)
        videos = torch.cat([context.generate(prompts[i:i + self.batch_size],
                                             range(i, min(i + self.batch_size, len(prompts))),
                                             context.config.train.eval_steps).float().cpu()
                            for i in range(0, len(prompts), self.batch_size)])
        scores = judge_scores(videos, prompts) | {"eval_prompts": len(prompts)}
        records = read_curve(context.run_dir / "metrics.jsonl") + [{"step": context.step, "minutes": context.minutes,
                                                                     **scores}]
        plot_curve(records, context.run_dir / CURVE_FILE, title=context.run_dir.name)
        return scores


def read_curve(metrics_path: Path) -> list[dict]:
    """The ``{"kind": "eval"}`` records of a ``metrics.jsonl`` (empty when there is none)."""
    if not Path(metrics_path).is_file():
        return []
    records = [json.loads(line) for line in Path(metrics_path).read_text().splitlines() if line.strip()]
    return [r for r in records if r.get("kind") == "eval"]


def plot_curve(records: list[dict], path: Path, title: str = "", curves: dict[str, list[dict]] | None = None,
               keys: tuple[str, ...] = CURVE_KEYS) -> Path:
    """Accuracy against training minutes: one line per key of ``records`` (one run), or with
    ``curves`` (``{run name: records}``) one panel per key and one line per run."""
    from cinediff.evaluation.plots import line_chart

    runs = curves if curves is not None else {title or "run": records}
    return line_chart(runs, keys, path, x="minutes", title=title)


def log_linear_fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares ``(a, b)`` of ``accuracy ≈ a + b · log10(clips)`` over ``(clips, accuracy)`` points."""
    import numpy as np

    x, y = np.log10([p[0] for p in points]), np.array([p[1] for p in points])
    b, a = np.polyfit(x, y, 1)
    return float(a), float(b)


def clips_to_reach(records: list[dict], target: float, key: str = "accuracy_motion", since: float = 0,
                   resamples: int = 2000, seed: int = 0) -> dict:
    """Where a learning curve's log-linear trend reaches ``target``: fit ``key`` against log10(clips)
    over the records with ``clips >= since`` (:func:`log_linear_fit`) and solve for the clips; a
    bootstrap over the points (``resamples``) gives a 90 % interval. A trend that does not rise
    never gets there: None (JSON null), likewise for interval ends past 10^12 clips.

    Returns ``{"points", "from_clips", "accuracy_at_last", "per_decade", "clips", "clips_90"}`` with
    ``per_decade`` the gain per tenfold clips and ``clips_90`` [5th, 95th] percentile."""
    import numpy as np

    points = [(r["clips"], r[key]) for r in records if r["clips"] >= since]
    if len(points) < 3:
        raise ValueError(f"need 3 or more curve points from {since:,} clips, got {len(points)}")

    def solve(fit: tuple[float, float]) -> float:
        a, b = fit
        return 10 ** ((target - a) / b) if b > 0 and (target - a) / b < 12 else float("inf")

    rng = np.random.default_rng(seed)
    draws = sorted(solve(log_linear_fit([points[i] for i in rng.integers(len(points), size=len(points))]))
                   for _ in range(resamples))
    finite = lambda v: None if not np.isfinite(v) else float(v)  # noqa: E731
    a, b = log_linear_fit(points)
    return {"points": len(points), "from_clips": points[0][0], "accuracy_at_last": points[-1][1], "per_decade": b,
            "clips": finite(solve((a, b))),
            "clips_90": [finite(draws[round(q * (resamples - 1))]) for q in (0.05, 0.95)]}
