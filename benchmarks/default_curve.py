"""The shipped default's learning curve over all its stages: stage 1 (recipe ``default-base``, from
the recipe study's JSON) then each later stage (recipes ``default-wide``, ``default-rich``,
``default``, a tried ``default-phrases``: their run folders' ``metrics.jsonl``), each stage's minutes
and clips counted on from where the previous ended. ``--previous`` starts from a curve this script wrote (its stages kept)
instead of stage 1 alone: a new last stage is added without the earlier stages' run folders.

    .venv/bin/python benchmarks/default_curve.py --runs runs/default-wide runs/default-rich runs/default \\
        [--stage1 benchmarks/recipes-32-cpu.json] [--out benchmarks/default-curve-cpu]
    .venv/bin/python benchmarks/default_curve.py --previous benchmarks/default-curve-cpu.json --runs runs/default-phrases \\
        --out benchmarks/default-phrases-curve-cpu

Writes ``<out>.json`` (the records, with ``stage``, and ``extrapolation``: where the log-linear trend
of judge motion and all-correct reaches 0.90, fitted from 14,400 clips on, from stage 2 on and over
the last stage; :func:`cinediff.evaluation.curve.clips_to_reach`) and ``<out>.png`` (judge accuracy vs
clips seen). With ``--previous`` and no ``--runs`` it rewrites that curve (adding the extrapolation).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cinediff.evaluation.curve import CURVE_KEYS, clips_to_reach, read_curve
from cinediff.evaluation.plots import line_chart

STAGE1_CANDIDATE = "unet-pixel-32-sweep-product"  # the recipe study's run that stage 1 is


def all_stages(stage1: list[dict], *later: list[dict]) -> list[dict]:
    """Stage 1's records (or those of several stages, each with its ``stage``) then each later
    stage's, whose ``minutes`` and ``clips`` continue the previous stage's last ones; every record
    gets ``stage`` (1, 2, ...) and its own ``stage_step``."""
    records = [{"stage": 1, "stage_step": r["step"]} | r for r in stage1]
    first = max(r["stage"] for r in records) + 1
    for stage, curve in enumerate(later, start=first):
        last = max(records, key=lambda r: r["clips"])
        records += [r | {"minutes": r["minutes"] + last["minutes"], "clips": r["clips"] + last["clips"],
                         "stage_step": r["step"], "stage": stage} for r in curve]
    return records


TARGET = 0.90  # the bar of the default's motion (README)


def extrapolation(records: list[dict]) -> dict:
    """Where motion and all-correct reach :data:`TARGET` by the trend of the whole curve (past chance,
    from 14,400 clips), of stage 2 on, and of the last stage alone."""
    last = max(r["stage"] for r in records)
    windows = {"from 14,400 clips": 14_400,
               "from stage 2": min(r["clips"] for r in records if r["stage"] >= 2) if last >= 2 else None,
               f"stage {last} only": min(r["clips"] for r in records if r["stage"] == last)}
    return {"target": TARGET, **{name: {key.removeprefix("accuracy_"): clips_to_reach(records, TARGET, key, since)
                                        for key in ("accuracy_motion", "accuracy_all")}
                                 for name, since in windows.items() if since is not None}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", default=[], help="the run folders of stage 2, 3, ... in order")
    parser.add_argument("--stage1", default="benchmarks/recipes-32-cpu.json")
    parser.add_argument("--previous", help="a curve JSON this script wrote: its stages come first")
    parser.add_argument("--out", default="benchmarks/default-curve-cpu")
    args = parser.parse_args()
    if not args.runs and not args.previous:
        parser.error("give --runs (stages after stage 1) or --previous (a curve to extend or rewrite)")
    written = json.loads(Path(args.previous).read_text()) if args.previous else {}
    if args.previous:
        stage1 = written["records"]
    else:
        stage1 = json.loads(Path(args.stage1).read_text())["curves"][STAGE1_CANDIDATE]
    records = all_stages(stage1, *(read_curve(Path(run) / "metrics.jsonl") for run in args.runs))
    ends = {r["stage"]: max(q["clips"] for q in records if q["stage"] == r["stage"]) for r in records}
    begun = tuple(ends[k - 1] for k in sorted(ends) if k > 1)
    out = Path(args.out)
    sources = ({"stage1": args.stage1, "previous": args.previous} if args.runs
               else {k: written[k] for k in ("stage1", "previous") if k in written})
    trend = extrapolation(records)
    out.with_suffix(".json").write_text(json.dumps({"suite": "default-curve", **sources, "records": records,
                                                     "extrapolation": trend}, indent=1) + "\n")
    # clips, not minutes, on the x axis: the stages ran on machines of different speed
    line_chart({"default": records}, CURVE_KEYS, out.with_suffix(".png"), x="clips",
               title=f"shipped default, {len(ends)} stages (dashed: a stage begins)", marks=begun)
    for r in records:
        print(f"stage {r['stage']} step {r['stage_step']:5d}  {r['clips']:7d} clips  {r['minutes']:6.1f} min  "
              + "  ".join(f"{k.removeprefix('accuracy_')} {r[k]:.2f}" for k in r if k.startswith("accuracy_")))
    million = lambda v: "never" if v is None else f"{v / 1e6:.2f} M"  # noqa: E731
    for window, fits in trend.items():
        for key, fit in ({} if window == "target" else fits).items():
            low, high = fit["clips_90"]
            print(f"{key} {TARGET} {window}: +{fit['per_decade']:.2f} per tenfold clips -> {million(fit['clips'])} clips "
                  f"(90 %: {million(low)} - {million(high)})")


if __name__ == "__main__":
    main()
