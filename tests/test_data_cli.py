"""``cinediff data preview`` / ``bench`` through typer's test runner."""

import typer
from typer.testing import CliRunner

from cinediff.cli.data import data_app
from cinediff.io.video import read_video


def cli():
    app = typer.Typer()
    app.add_typer(data_app, name="data")  # as cinediff.cli.main registers it
    return app


def test_preview_writes_a_grid_and_prints_captions(tmp_path):
    out = tmp_path / "grid.mp4"
    result = CliRunner().invoke(cli(), ["data", "preview", "moving-shapes", "-n", "4", "-o", str(out), "--split", "heldout", "--frames", "6", "--size", "32", "--seed", "2"])
    assert result.exit_code == 0, result.output
    video = read_video(out)
    assert video.shape[1] == 6 and video.shape[2] == 2 * 32 + 3 * 2  # 2x2 grid with 2-px padding
    assert ("purple" in result.output) or ("cyan" in result.output)


def test_bench_prints_speed():
    result = CliRunner().invoke(cli(), ["data", "bench", "moving-digits", "-n", "16", "--frames", "4"])
    assert result.exit_code == 0, result.output
    assert "clips/s" in result.output
