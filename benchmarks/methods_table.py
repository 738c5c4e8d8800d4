"""The README's tables and one plot from ``cinediff bench methods`` JSON files.

Several files are runs of the same study at growing ``--budget`` (the runs resume): their curves are
joined per method (points in order of training minutes; a point at the same minutes is kept once, the
later file's), the table and the ratios come from the last file. The ratios are read again at every
judge accuracy (:func:`cinediff.bench.methods.ratios_at`), so files written before ``ratios_at``
existed give them too. ``--cost`` replaces the memory columns by the figures of
``methods_cost.py`` (measured again on the same architectures) before the ratios are read; the
seconds stay the study's own, measured side by side in its run (a later day's machine can be
slower: the same 2 cores ran the re-measurement 1.5-3x slower).

    .venv/bin/python benchmarks/methods_table.py benchmarks/methods-cpu.json [benchmarks/methods-40-cpu.json] \\
        [--cost benchmarks/methods-cost-cpu.json] [--plot benchmarks/methods-curves-cpu.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cinediff.bench.methods import CURVE_KEYS, JUDGE_KEYS, measured_ratio, ratios_at
from cinediff.evaluation.plots import line_chart

COST_KEYS = ("peak_memory_mb", "peak_total_mb")  # what --cost replaces

COLUMNS = {"method": "method", "train_minutes": "train min", "train_tflops": "train TFLOP",
           "sample_seconds": "s / video", "peak_memory_mb": "peak MB", "accuracy_color": "colour",
           "accuracy_shape": "shape", "accuracy_motion": "motion", "accuracy_count": "count", "accuracy_all": "all",
           "frechet_classifier": "Fréchet", "frechet_classifier_floor": "floor",
           "temporal_consistency": "temporal", "flicker": "flicker"}


def cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, str) and " " not in value:
        return f"`{value}`"  # a name: a method, a ratio
    return str(value)


def markdown(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows])


def joined_curves(results: list[dict]) -> dict[str, list[dict]]:
    """Each method's curve points over all files, in order of minutes, one per distinct minutes."""
    curves: dict[str, dict[float, dict]] = {}
    for result in results:
        for name, points in result["curves"].items():
            for point in points:
                curves.setdefault(name, {})[round(point["minutes"], 2)] = point
    return {name: [points[m] for m in sorted(points)] for name, points in curves.items()}


def with_costs(rows: list[dict], costs: dict[str, dict] | None) -> dict[str, dict]:
    """The rows by method, their memory figures replaced by ``costs`` where it has the method."""
    costs = costs or {}
    return {r["method"]: r | {k: v for k, v in costs.get(r["method"], {}).items() if k in COST_KEYS} for r in rows}


def tables(results: list[dict], costs: dict[str, dict] | None = None) -> str:
    last = results[-1]
    rows = with_costs(last["rows"], costs)
    curves = joined_curves(results)
    every_key = ratios_at(curves, rows)
    out = [markdown(list(COLUMNS.values()), [[r.get(k) for k in COLUMNS] for r in rows.values()]), ""]
    names = list(next(iter(every_key.values())))
    out.append(markdown(["ratio", *[k.removeprefix("accuracy_") for k in JUDGE_KEYS], "paper"],
                        [[name, *[measured_ratio(every_key[k].get(name, {})) for k in JUDGE_KEYS],
                          every_key[JUDGE_KEYS[0]][name].get("paper")] for name in names]))
    out.append("")
    for key in JUDGE_KEYS:
        for name, value in every_key[key].items():
            if value.get("note"):
                out.append(f"- {key.removeprefix('accuracy_')}, {name}: {value['note']}")
    out.append("")
    out.append(markdown(["method", "curve: minutes → motion / all / colour / shape"],
                        [[name, ", ".join(f"{p['minutes']:.1f} → {p['accuracy_motion']:.2f} / {p['accuracy_all']:.2f} / "
                                          f"{p['accuracy_color']:.2f} / {p['accuracy_shape']:.2f}" for p in points)]
                         for name, points in curves.items()]))
    out.append("")
    out.append(markdown(["method", "stages: run minutes (steps, clips, train TFLOP)"],
                        [[name, "; ".join(f"{s['run']} {s['minutes']:.1f} ({s['steps']}, {s['clips']}, "
                                          f"{s['train_tflops']:.0f})" for s in stages)]
                         for name, stages in last["stages"].items()]))
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="bench methods JSON files, smallest budget first")
    parser.add_argument("--cost", type=Path, help="methods_cost.py's JSON: peak memory measured again")
    parser.add_argument("--plot", type=Path, help="write the joined curves (judge motion and all) here")
    args = parser.parse_args()
    results = [json.loads(path.read_text()) for path in args.results]
    costs = json.loads(args.cost.read_text())["costs"] if args.cost else None
    print(tables(results, costs))
    if args.plot:
        keys = (*CURVE_KEYS, "accuracy_color", "accuracy_shape")
        print(line_chart(joined_curves(results), keys, args.plot, title="judge accuracy vs training minutes"))


if __name__ == "__main__":
    main()
