"""The ``cinediff`` command line: thin commands that call plain library functions."""

from __future__ import annotations

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
def bench(
    suite: str = typer.Argument(..., help="backbones | train | noise"),
    json_path: str = typer.Option(None, "--json", help="Write the results here as JSON."),
    quick: bool = typer.Option(False, "--quick", help="Tiny sizes: checks the suite runs, figures mean little."),
) -> None:
    """Measure an efficiency claim as ratios side by side in one run; prints a table."""
    from rich.console import Console
    from rich.table import Table

    from cinediff.bench import run_suite

    result = run_suite(suite, json_path, quick=quick)
    console = Console()
    rows = result["rows"]
    table = Table(title=f"bench {suite} — {result['machine']['device']}, torch {result['machine']['torch']}")
    for key in rows[0]:
        table.add_column(key)
    for row in rows:
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()])
    console.print(table)
    console.print_json(data=result["ratios"])


if __name__ == "__main__":
    app()
