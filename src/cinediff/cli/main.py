"""The ``cinediff`` command line: thin commands that call plain library functions."""

from __future__ import annotations

import typer

from cinediff import __version__

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Efficient text-to-video diffusion.")


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
