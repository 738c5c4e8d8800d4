"""The ``cinediff`` command line: thin commands that call plain library functions."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cinediff import __version__
from cinediff.cli.data import data_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Efficient text-to-video diffusion.")
app.add_typer(data_app, name="data")


@app.callback(invoke_without_command=True)
def _main(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()


@app.command()
def info() -> None:
    """Show the device, torch build and default text encoder location."""
    import torch

    from cinediff.runtime import default_device

    typer.echo(f"cinediff {__version__}")
    typer.echo(f"torch {torch.__version__} (CUDA build: {torch.version.cuda or 'no'})")
    typer.echo(f"device: {default_device()}")


@app.command()
def train(
    config: str = typer.Argument(..., help="TOML run file (see configs/), or - for the defaults."),
    set_: list[str] = typer.Option([], "--set", help="Override a field, e.g. --set train.steps=100 (repeatable)."),
) -> None:
    """Train a model from a TOML run file; re-running the same command resumes exactly.

    Multi-process: torchrun --standalone --nproc_per_node=N -m cinediff.cli.main train CONFIG
    """
    import logging

    from cinediff.training.config import load_config
    from cinediff.training.trainer import train as run_training

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_dir = run_training(load_config(None if config == "-" else config, set_))
    typer.echo(f"run folder: {run_dir}")


@app.command()
def generate(
    prompt: str = typer.Argument(..., help='What to show, e.g. "a red circle moving left".'),
    out: str = typer.Option("out.mp4", "-o", "--out", help="Output video (.mp4); a .gif and a .json sidecar are written beside it."),
    model: str = typer.Option(None, "--model", help="Exported model folder (default: the one shipped with cinediff)."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same video."),
    num: int = typer.Option(1, "-n", "--num", help="Videos to make (seeds seed, seed+1, ...), tiled into one grid."),
    steps: int = typer.Option(None, "--steps", help="Sampler steps (default: the model's)."),
    guidance: float = typer.Option(None, "--guidance", help="Classifier-free guidance scale (default: the model's)."),
    sampler: str = typer.Option(None, "--sampler", help="heun | euler | ddim | dpmpp_2m (default: the model's)."),
    negative: str = typer.Option("", "--negative", help="Negative prompt (the unconditional branch of guidance)."),
    device: str = typer.Option(None, "--device", help="cpu | cuda (default: CUDA when available)."),
) -> None:
    """Generate a video from a text prompt, offline, with the default or a given model."""
    import dataclasses

    from cinediff.io import make_grid, write_video
    from cinediff.pipelines import GenerationConfig, generate_videos, load_model
    from cinediff.runtime import autocast, bf16_is_fast, default_device
    from cinediff.text import check_prompt

    try:
        check_prompt(prompt)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="PROMPT") from err
    dev = device or str(default_device())
    loaded = load_model(model, dev)
    defaults = GenerationConfig(**loaded.config.get("generation", {}), fps=loaded.fps)
    overrides = {"steps": steps, "guidance": guidance, "sampler": sampler, "negative_prompt": negative or None}
    config = dataclasses.replace(defaults, **{k: v for k, v in overrides.items() if v is not None})
    seeds = list(range(seed, seed + num))
    with autocast(dev, enabled=bf16_is_fast(dev)):
        videos = generate_videos(loaded.denoiser, loaded.text_encoder, [prompt] * num, loaded.shape, seeds, config, dev,
                                 autoencoder=loaded.autoencoder)
    video = make_grid(videos.float().cpu()) if num > 1 else videos[0].float().cpu()
    meta = {"prompt": prompt, "seeds": seeds, "generation": dataclasses.asdict(config),
            "model": model or "default", "model_step": loaded.config.get("step")}
    written = write_video(out, video, fps=loaded.fps, metadata=meta)
    written += write_video(str(Path(out).with_suffix(".gif")), video, fps=loaded.fps)
    for path in written:
        typer.echo(f"wrote {path}")


@app.command()
def export(
    run: str = typer.Argument(..., help="Run folder (its newest checkpoint) or a checkpoint folder."),
    out: str = typer.Option(..., "-o", "--out", help="Folder to write model.safetensors + config.json into."),
) -> None:
    """Export a trained text-to-video model (EMA weights) for `cinediff generate --model`."""
    from cinediff.pipelines import export_model

    typer.echo(f"exported to {export_model(run, out)}")


@app.command("eval")
def evaluate(
    model: str = typer.Argument(None, help="Exported model folder (default: the shipped model)."),
    prompts: str = typer.Option("builtin", "--prompts", help="builtin | builtin-heldout | a file with one prompt per line."),
    num: int = typer.Option(32, "--num", help="Videos to generate and score."),
    out: str = typer.Option("report", "-o", "--out", help="Report folder (index.html, metrics.json, GIFs)."),
    seed: int = typer.Option(0, "--seed"),
    steps: int = typer.Option(None, "--steps", help="Sampler steps (default: the model's)."),
) -> None:
    """Generate for a prompt set, score alignment (judge), temporal consistency and flicker; write a report."""
    from cinediff.evaluation.report import evaluate as run_evaluation
    from cinediff.evaluation.report import read_prompts
    from cinediff.runtime import default_device

    generation = {"steps": steps} if steps else {}
    metrics = run_evaluation(model, read_prompts(prompts, num), Path(out), seed, generation=generation,
                             device=str(default_device()))
    typer.echo(json.dumps(metrics, indent=1))
    typer.echo(f"report: {Path(out) / 'index.html'}")


@app.command()
def bench(
    suite: str = typer.Argument(..., help="backbones | train | noise"),
    json_path: str = typer.Option(None, "--json", help="Write the results here as JSON."),
    quick: bool = typer.Option(False, "--quick", help="Tiny sizes: checks the suite runs, figures mean little."),
    options: list[str] = typer.Option([], "--set", help="Suite option, e.g. --set threads=1 --set size=32 (repeatable)."),
) -> None:
    """Measure an efficiency claim as ratios side by side in one run; prints a table."""
    from rich.console import Console
    from rich.table import Table

    from cinediff.bench import run_suite

    from cinediff.training.config import apply_overrides

    result = run_suite(suite, json_path, quick=quick, **apply_overrides({}, options))
    console = Console()
    rows = result["rows"]
    table = Table(title=f"bench {suite} — {result['machine']['device']}, torch {result['machine']['torch']}")
    for key in rows[0]:
        table.add_column(key)
    for row in rows:
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()])
    console.print(table)
    console.print_json(data=result["ratios"])


def main() -> None:
    """Console entry point: user errors (bad input, missing or corrupt files) print one clear
    line and exit 1; set CINEDIFF_DEBUG=1 for the full traceback."""
    import os
    import sys

    from cinediff.io import VideoDecodeError
    from cinediff.weights import CheckpointError

    try:
        app()
    except (CheckpointError, FileNotFoundError, ValueError, VideoDecodeError) as err:
        if os.environ.get("CINEDIFF_DEBUG"):
            raise
        typer.secho(f"error: {err}", err=True, fg="red")
        sys.exit(1)


if __name__ == "__main__":
    main()
