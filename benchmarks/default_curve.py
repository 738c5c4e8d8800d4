"""The shipped default's learning curve over both stages: stage 1 (recipe ``default-base``, from the
recipe study's JSON) then stage 2 (recipe ``default``, a run folder's ``metrics.jsonl``), stage 2's
minutes and clips counted on from where stage 1 ended.

    .venv/bin/python benchmarks/default_curve.py --run runs/default \\
        [--stage1 benchmarks/recipes-32-cpu.json] [--out benchmarks/default-curve-cpu]

Writes ``<out>.json`` (the records, with ``stage``) and ``<out>.png`` (judge accuracy vs clips seen).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cinediff.evaluation.curve import CURVE_KEYS, read_curve
from cinediff.evaluation.plots import line_chart

STAGE1_CANDIDATE = "unet-pixel-32-sweep-product"  # the recipe study's run that stage 1 is


def both_stages(stage1: list[dict], stage2: list[dict]) -> list[dict]:
    """Stage 1's records then stage 2's, whose ``minutes`` and ``clips`` continue stage 1's last ones."""
    last = max(stage1, key=lambda r: r["step"])
    shifted = [r | {"minutes": r["minutes"] + last["minutes"], "clips": r["clips"] + last["clips"],
                    "stage_step": r["step"], "stage": 2} for r in stage2]
    return [r | {"stage": 1, "stage_step": r["step"]} for r in stage1] + shifted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="stage 2's run folder")
    parser.add_argument("--stage1", default="benchmarks/recipes-32-cpu.json")
    parser.add_argument("--out", default="benchmarks/default-curve-cpu")
    args = parser.parse_args()
    stage1 = json.loads(Path(args.stage1).read_text())["curves"][STAGE1_CANDIDATE]
    records = both_stages(stage1, read_curve(Path(args.run) / "metrics.jsonl"))
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps({"suite": "default-curve", "stage1": args.stage1,
                                                     "records": records}, indent=1) + "\n")
    # clips, not minutes, on the x axis: the two stages ran on machines of different speed
    line_chart({"default": records}, CURVE_KEYS, out.with_suffix(".png"), x="clips",
               title="shipped default: stage 1, then stage 2 (from 48,816 clips)")
    for r in records:
        print(f"stage {r['stage']} step {r['stage_step']:5d}  {r['clips']:7d} clips  {r['minutes']:6.1f} min  "
              + "  ".join(f"{k.removeprefix('accuracy_')} {r[k]:.2f}" for k in r if k.startswith("accuracy_")))


if __name__ == "__main__":
    main()
