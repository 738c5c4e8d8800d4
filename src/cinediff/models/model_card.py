"""The model card (README.md) ``cinediff export`` writes beside an exported model: what it is, how
it was trained, what the judge said — so a folder that travels explains itself."""

from __future__ import annotations

import json
from pathlib import Path

from cinediff.weights import atomic_write_text

JUDGE_KEYS = ("accuracy_color", "accuracy_shape", "accuracy_motion", "accuracy_count", "accuracy_all", "moving")


def last_eval(metrics: Path, step: int) -> dict | None:
    """The newest learning-curve record (``train.eval_every``) at or before ``step`` in a run's metrics.jsonl."""
    if not metrics.is_file():
        return None
    records = []
    for line in metrics.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a torn last line of a killed run
            continue
        if record.get("kind") == "eval" and record.get("step", 0) <= step:
            records.append(record)
    return records[-1] if records else None


def model_card(name: str, config: dict, state: dict, params: int, curve_point: dict | None) -> str:
    """Markdown for an exported text-to-video model. ``config``: the export's config.json; ``state``:
    the checkpoint's state.json (step, counters, full run config)."""
    run = state.get("config", {})
    model, data, optim, train = (run.get(k, {}) for k in ("model", "data", "optim", "train"))
    step = state.get("step", 0)
    minutes = state.get("counters", {}).get("train_seconds", 0.0) / 60
    clips = step * data.get("batch_size", 0) * optim.get("grad_accum", 1)
    lines = [
        f"# {name}", "",
        "A cinediff text-to-video model, written by `cinediff export`.", "",
        "| | |", "|---|---|",
        f"| method | {model.get('formulation')} + {model.get('backbone')} (target {model.get('target', 'video')}) |",
        f"| noise prior | {model.get('noise_prior', 'iid')} (alpha {model.get('noise_alpha')}) |",
        f"| text encoder | {model.get('text_encoder') or 'none'} |",
        f"| autoencoder | {model.get('autoencoder') or 'none (pixels)'} |",
        f"| makes | {' x '.join(map(str, config['shape']))} at {config['fps']:g} fps |",
        f"| parameters | {params / 1e6:.2f} M |",
        f"| data | {data.get('dataset')} {json.dumps(data.get('args', {}), sort_keys=True)} |",
        f"| training | {step} steps of batch {data.get('batch_size')} ({clips} clips), lr {optim.get('lr')} "
        f"({optim.get('schedule')}), {minutes:.1f} training minutes, seed {train.get('seed')} |",
    ]
    if model.get("init_from"):
        lines.append(f"| started from | {model['init_from']} |")
    lines += ["", "## Judge (learning curve)", ""]
    if curve_point:
        header = [k.removeprefix("accuracy_") for k in JUDGE_KEYS if k in curve_point]
        lines += [f"At step {curve_point['step']} ({curve_point.get('eval_prompts', '?')} prompts):", "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                  "| " + " | ".join(f"{curve_point[k]:.2f}" for k in JUDGE_KEYS if k in curve_point) + " |"]
    else:
        lines.append("Not evaluated during training: `cinediff eval DIR` scores it.")
    lines += ["", "## Use", "", "```python", "import cinediff", "",
              f'pipe = cinediff.load("{name}")', 'out = pipe("a red circle moving left", seed=0)',
              "cinediff.export_to_video(out.frames[0], \"out.mp4\", fps=pipe.fps)", "```", "",
              f'`cinediff generate "a red circle moving left" --model {name} -o out.mp4`', ""]
    return "\n".join(lines)


def write_model_card(out_dir: Path, config: dict, state: dict, params: int, run_dir: Path | None) -> Path:
    point = last_eval(run_dir / "metrics.jsonl", state.get("step", 0)) if run_dir is not None else None
    path = Path(out_dir) / "README.md"
    atomic_write_text(path, model_card(Path(out_dir).name, config, state, params, point))
    return path


def asset_card(row: dict, made: dict) -> str:
    """Markdown for a model shipped in the package: ``row`` from ``catalog.describe_asset`` (what the
    weights are), ``made`` from ``catalog.PROVENANCE`` (how they were trained, what they score)."""
    shape = " x ".join(map(str, row["shape"])) if row.get("shape") else "-"
    clips = made["steps"] * made["batch"]
    lines = [
        f"# {row['name']}", "",
        f"A {row['kind']} model shipped with cinediff: {made['about']}.", "",
        "| | |", "|---|---|",
        f"| architecture | {row['method']} |",
        f"| shape | {shape} |",
        f"| parameters | {row['params_m']:.2f} M ({row['size_mb']:.1f} MB, safetensors) |",
        f"| data | {made['data']} |",
        f"| training | {made['steps']} steps of batch {made['batch']} ({clips} examples), "
        f"{made['cpu_minutes']:g} minutes on 2 CPU cores |",
        f"| recipe | {made['recipe'] or '-'} |",
        f"| reproduce | `{made['command']}` |",
        "", "## Evaluation", "", f"Measured with {made['eval_how']}:", "",
        *eval_table(made["eval"]),
        "", "## Limits", "", made["limits"], "",
    ]
    return "\n".join(lines)


def eval_table(figures: dict) -> list[str]:
    """Markdown rows of an asset's evaluation: ``{metric: value}`` (one row), or
    ``{prompt set: {metric: value}}`` (one row per set, the set's name first)."""
    if not all(isinstance(v, dict) for v in figures.values()):
        return ["| " + " | ".join(figures) + " |", "|" + "---|" * len(figures),
                "| " + " | ".join(f"{v:.2f}" for v in figures.values()) + " |"]
    metrics = list(next(iter(figures.values())))
    return ["| prompts | " + " | ".join(metrics) + " |", "|" + "---|" * (len(metrics) + 1),
            *("| " + name + " | " + " | ".join(f"{row[m]:.2f}" for m in metrics) + " |" for name, row in figures.items())]
