"""``cinediff data ...``: preview and benchmark data sets (thin wrappers over cinediff.data)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

data_app = typer.Typer(no_args_is_help=True, add_completion=False,
                       help="Preview and benchmark the data sets.")


def _overrides(seed: int | None, split: str | None, frames: int | None, size: int | None, sets: list[str]) -> dict:
    """Config fields from the common options and ``--set key=value`` (value parsed as JSON if it can be)."""
    out = {"seed": seed, "split": split, "frames": frames, "height": size, "width": size}
    for item in sets:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return {k: v for k, v in out.items() if v is not None}


@data_app.command()
def preview(
    name: str = typer.Argument("moving-shapes", help="Data set name (see cinediff.data.DATASETS)."),
    n: int = typer.Option(16, "-n", help="Number of clips in the grid."),
    out: Path = typer.Option(Path("preview.mp4"), "-o", "--out", help="Grid video (.mp4 .gif .webm .png)."),
    seed: int = typer.Option(None, help="Data set seed."),
    split: str = typer.Option(None, help="moving-shapes: train | heldout | all."),
    frames: int = typer.Option(None, help="Frames per clip."),
    size: int = typer.Option(None, help="Height and width in px."),
    sets: list[str] = typer.Option([], "--set", help="Any config field, e.g. --set root=videos --set background=gray."),
) -> None:
    """Render the first N clips into one grid video and print their captions."""
    from rich.console import Console
    from rich.table import Table

    from cinediff.data import build_dataset
    from cinediff.data.preview import preview_grid
    from cinediff.io.video import write_video

    dataset = build_dataset(name, **_overrides(seed, split, frames, size, sets))
    grid, items = preview_grid(dataset, n)
    write_video(out, grid, fps=items[0]["fps"] or 8)
    table = Table(title=f"{name}: {len(items)} clips -> {out}")
    for column in ("#", "index", "caption"):
        table.add_column(column)
    for k, item in enumerate(items):
        table.add_row(str(k), str(item["index"]), item["caption"])
    Console().print(table)


@data_app.command()
def bench(
    name: str = typer.Argument("moving-shapes", help="A synthetic set: moving-shapes | moving-digits | camera-moves."),
    n: int = typer.Option(1000, "-n", help="Clips to render."),
    frames: int = typer.Option(None, help="Frames per clip (default 16)."),
    size: int = typer.Option(None, help="Height and width in px (default 64)."),
) -> None:
    """Print the rendering speed of a synthetic set in clips per second."""
    import torch

    from cinediff.data import build_dataset
    from cinediff.data.synthetic import SyntheticClips, bench as bench_clips

    dataset = build_dataset(name, length=max(n, 8), **_overrides(None, None, frames, size, []))
    if not isinstance(dataset, SyntheticClips):
        raise typer.BadParameter(f"{name} is not a synthetic set")
    speed = bench_clips(dataset, n)
    cfg = dataset.config
    shape = f"{cfg.frames}x{cfg.height}x{cfg.width}"
    typer.echo(f"{name}: {speed:.0f} clips/s ({n} clips of {shape}, {torch.get_num_threads()} threads)")


@data_app.command()
def glosses(
    wordnet: Path = typer.Argument(..., help="A WordNet 3.x dict folder (Debian's wordnet-base: /usr/share/wordnet)."),
    out: Path = typer.Option(None, "-o", "--out", help="Folder for the two tables (default: the package's own)."),
) -> None:
    """Build the tables of trained shape words named in each noun's WordNet definitions and trained
    motion words in each verb's (text.glosses), for the widest training vocabulary."""
    from cinediff.data.captions import WIDE_SHAPES, reading_lexicon
    from cinediff.text import glosses as table
    from cinediff.text.grounding import definition_words

    for name in ("index.noun", "data.noun", "data.adj", "index.verb", "data.verb"):
        if not (wordnet / name).is_file():
            raise typer.BadParameter(f"{wordnet} has no {name}: give a WordNet dict folder")
    lexicon = reading_lexicon("rich")
    tables = [("noun", "shape", [w for words in WIDE_SHAPES.values() for w in words], table.SENSES, table.DEPTH,
               table.TABLE),
              ("verb", "motion", sorted(definition_words(lexicon["motions"], lexicon["directions"])),
               table.VERB_SENSES, table.VERB_DEPTH, table.VERB_TABLE)]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    for pos, what, keywords, senses, depth, default in tables:
        counts = table.gloss_counts(table.read_wordnet(wordnet, pos), keywords, senses, depth)
        path = table.write_table(counts, (out / default.name) if out else default)
        typer.echo(f"wrote {path}: {len(counts)} {pos}s name a trained {what} word")
