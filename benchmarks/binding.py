"""The binding test (``cinediff.bench.diagnose.binding_test``) of several models on the same clips,
beside the motion-word test for scale: does a model bind each motion (or shape) word to its
object, or read the caption as a bag of words?

    .venv/bin/python benchmarks/binding.py default runs/default-two90-export runs/default-phrase-context-export \\
        --num 128 --json benchmarks/binding-cpu.json

For each model: ``num`` clips of its own training data with two objects (seed 4321), the relative
loss rise per σ with the objects' motions exchanged, with their shapes exchanged, and with every
motion word reversed (``motion_word_test``). Prints one line per model and test.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cinediff.bench.diagnose import binding_test, motion_word_test, training_clips
from cinediff.models.loading import load_model
from cinediff.runtime import prepare_cpu_math


def measure(model: str, num: int, num_sigmas: int = 8) -> dict[str, list[dict]]:
    loaded = load_model(None if model == "default" else model, "cpu")
    clips, records = training_clips(loaded, num, two_object_prob=1.0)
    found = {a: binding_test(loaded, clips, records, a, num_sigmas) for a in ("motion", "shape")}
    return {"motions_exchanged": found["motion"], "shapes_exchanged": found["shape"],
            "motion_words_reversed": motion_word_test(loaded, clips, records, num_sigmas)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="exported model folders, or default")
    parser.add_argument("--num", type=int, default=128, help="two-object clips per model")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    prepare_cpu_math("cpu")
    results = {}
    for model in args.models:
        results[model] = measure(model, args.num)
        for test, rows in results[model].items():
            print(model, test, " ".join(f"{r['sigma']:.3g}:{100 * r['relative_gap']:+.2f}%" for r in rows), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"num": args.num, "clip_seed": 4321, "models": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
