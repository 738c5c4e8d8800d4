"""How well unseen wording is read (text.grounding) through the shipped default's text encoder: each
way of embedding shape spans tried, on the development wordings (which chose) and the held-out ones
(which measure), side by side, into ``benchmarks/reading-cpu.json``.

    .venv/bin/python benchmarks/reading.py [--model default] [--out benchmarks/reading-cpu.json]

Rows: one sentence frame alone, or the six averaged; then with the nouns' dictionary definitions
(text.glosses) asked first, then the verbs' too (the shipped reader). Columns: shape-noun accuracy of
the span alone (60 development nouns, the 6 held-out shape words), shape / motion accuracy of whole
clauses (120 development clauses, the 84 clauses of 64 ``builtin-reworded`` prompts) and motion
accuracy of the 54 development clauses whose verb carries the motion ("a tan coin falling").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import cinediff.text.grounding as grounding
from cinediff.data import captions
from cinediff.evaluation.report import clause_accuracy, reworded_clauses
from cinediff.models.loading import load_model
from cinediff.text.glosses import VERB_TABLE, read_table

FRAMES = ("a picture of a {}", "a photo of a {}", "an image of a {}", "a drawing of a {}", "a {} shape",
          "the shape of a {}", "a red {} moving left", "{}")


def noun_accuracy(reader: grounding.ClauseReader, table: dict[str, tuple[str, ...]]) -> float:
    """Fraction of the nouns of ``table`` (shape -> nouns) whose nearest trained shape is their shape."""
    nouns = [" ".join(captions._words(n)) for names in table.values() for n in names]
    truth = [shape for shape, names in table.items() for _ in names]
    sim = reader.similarity(nouns, reader.shape_bank, reader.shape_frames)
    return float(np.mean([reader.shape(noun, s) == t for noun, s, t in zip(nouns, sim, truth)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", default="benchmarks/reading-cpu.json")
    args = parser.parse_args()
    loaded = load_model(args.model)
    dev, held_out = captions.development_clauses(), reworded_clauses(64)
    dev_verbs = captions.development_verb_clauses()
    lexicon = captions.reading_lexicon(loaded.config["data"]["args"].get("captions", "base"))
    embed, config = loaded.clause_reader.embed, loaded.generation_config()

    def read(clauses: list[str]) -> list[str]:
        return loaded.read_prompts(clauses, config)

    rows = {}
    six, nouns, verbs = grounding.SHAPE_FRAMES, read_table(), read_table(VERB_TABLE)
    arms = [*((f, (f,), None, None) for f in FRAMES), ("six averaged", six, None, None),
            ("noun definitions, else one frame", ("{}",), nouns, None),
            ("noun definitions, else six averaged", six, nouns, None),
            ("noun and verb definitions (shipped)", six, nouns, verbs)]
    for name, frames, noun_glosses, verb_glosses in arms:
        # read_prompts now reads with this reader (an instance value overrides the cached property)
        reader = loaded.clause_reader = grounding.ClauseReader(embed, **lexicon, shape_frames=frames,
                                                               glosses=noun_glosses, verb_glosses=verb_glosses)
        rows[name] = {"dev_nouns": noun_accuracy(reader, captions.DEVELOPMENT_SHAPES),
                      "held_out_nouns": noun_accuracy(reader, captions.REWORDED_SHAPES),
                      **dict(zip(("dev_clause_shape", "dev_clause_motion"), clause_accuracy(read, dev))),
                      "dev_verb_motion": clause_accuracy(read, dev_verbs)[1],
                      **dict(zip(("held_out_clause_shape", "held_out_clause_motion"),
                                 clause_accuracy(read, held_out)))}
        print(f"{name:42}", " ".join(f"{k} {v:.3f}" for k, v in rows[name].items()), flush=True)
    report = {"model": args.model, "dev_nouns": 60, "held_out_nouns": 6, "dev_clauses": len(dev),
              "dev_verb_clauses": len(dev_verbs),
              "held_out_clauses": len(held_out), "rows": rows}
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
