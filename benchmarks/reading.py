"""How well unseen wording is read (text.grounding) through the shipped default's text encoder: each
way of embedding shape spans tried, on the development wordings (which chose) and the held-out ones
(which measure), side by side, into ``benchmarks/reading-cpu.json``.

    .venv/bin/python benchmarks/reading.py [--model default] [--out benchmarks/reading-cpu.json]

Rows: one sentence frame alone, or the six averaged (the shipped reader). Columns: shape-noun
accuracy of the span alone (60 development nouns, the 6 held-out shape words) and shape / motion
accuracy of whole clauses (120 development clauses, the 84 clauses of 64 ``builtin-reworded`` prompts).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import cinediff.text.grounding as grounding
from cinediff.data import captions
from cinediff.evaluation.report import reworded_clauses
from cinediff.models.loading import load_model

FRAMES = ("a picture of a {}", "a photo of a {}", "an image of a {}", "a drawing of a {}", "a {} shape",
          "the shape of a {}", "a red {} moving left", "{}")


def noun_accuracy(reader: grounding.ClauseReader, table: dict[str, tuple[str, ...]]) -> float:
    """Fraction of the nouns of ``table`` (shape -> nouns) whose nearest trained shape is their shape."""
    nouns = [" ".join(captions._words(n)) for names in table.values() for n in names]
    truth = [shape for shape, names in table.items() for _ in names]
    best = reader.similarity(nouns, reader.shape_bank, grounding.SHAPE_FRAMES).argmax(1)
    return float(np.mean([reader.shape_names[int(i)] == t for i, t in zip(best, truth)]))


def clause_accuracy(loaded, items: list[tuple[str, str, str]]) -> tuple[float, float]:
    """(shape, motion) accuracy of (clause, shape, motion) items read by the model's readers."""
    config = loaded.generation_config()
    parsed = [captions.parse_clause(p) for p in loaded.read_prompts([c for c, _, _ in items], config)]
    return (float(np.mean([p.get("shape") == s for p, (_, s, _) in zip(parsed, items)])),
            float(np.mean([p.get("motion") == m for p, (_, _, m) in zip(parsed, items)])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", default="benchmarks/reading-cpu.json")
    args = parser.parse_args()
    loaded = load_model(args.model)
    shipped = grounding.SHAPE_FRAMES
    dev, held_out = captions.development_clauses(), reworded_clauses(64)
    rows = {}
    for name, frames in [*((f, (f,)) for f in FRAMES), ("six averaged (shipped)", shipped)]:
        grounding.SHAPE_FRAMES = frames
        loaded.__dict__.pop("clause_reader", None)  # rebuilt with these frames
        reader = loaded.clause_reader
        rows[name] = {"dev_nouns": noun_accuracy(reader, captions.DEVELOPMENT_SHAPES),
                      "held_out_nouns": noun_accuracy(reader, captions.REWORDED_SHAPES),
                      **dict(zip(("dev_clause_shape", "dev_clause_motion"), clause_accuracy(loaded, dev))),
                      **dict(zip(("held_out_clause_shape", "held_out_clause_motion"),
                                 clause_accuracy(loaded, held_out)))}
        print(f"{name:24}", " ".join(f"{k} {v:.3f}" for k, v in rows[name].items()), flush=True)
    grounding.SHAPE_FRAMES = shipped
    report = {"model": args.model, "dev_nouns": 60, "held_out_nouns": 6, "dev_clauses": len(dev),
              "held_out_clauses": len(held_out), "rows": rows}
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
