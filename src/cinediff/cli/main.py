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

    With train.eval_every = N the judge scores the EMA weights' samples every N steps: the
    learning curve goes into metrics.jsonl and learning_curve.png beside the run.

    Multi-process: torchrun --standalone --nproc_per_node=N -m cinediff.cli.main train CONFIG
    """
    import logging

    from cinediff.evaluation.curve import JudgeCurve
    from cinediff.training.config import load_config
    from cinediff.training.trainer import train as run_training

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_config = load_config(None if config == "-" else config, set_)
    run_dir = run_training(run_config, callbacks=[JudgeCurve()] if run_config.train.eval_every else [])
    typer.echo(f"run folder: {run_dir}")


def output_paths(out: str, count: int) -> list[Path]:
    """One file per video: ``out`` for one, ``out-0.mp4, out-1.mp4, ...`` for several."""
    path = Path(out)
    return [path] if count == 1 else [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(count)]


def prompts_to_generate(prompt: str | None, prompts_file: str | None) -> list[str]:
    """The prompt argument, or one prompt per non-empty line of ``prompts_file`` (not both)."""
    from cinediff.text import check_prompt

    if (prompt is None) == (prompts_file is None):
        raise typer.BadParameter("give a PROMPT or --prompts FILE (one of them)", param_hint="PROMPT")
    if prompts_file is not None:
        try:
            lines = [line.strip() for line in Path(prompts_file).read_text().splitlines()]
        except OSError as err:
            raise typer.BadParameter(f"cannot read {prompts_file}: {err.strerror}", param_hint="--prompts") from err
        prompts = [line for line in lines if line]
        if not prompts:
            raise typer.BadParameter(f"{prompts_file} has no prompts (one per line)", param_hint="--prompts")
        return prompts
    try:
        return [check_prompt(prompt)]
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="PROMPT") from err


LAYERS_HELP = ('Draw each " and "-joined object phrase as a video of its own and composite them '
               "(default: the model's setting; the shipped default: on).")
LITERAL_HELP = ("Pass the prompt as it is (default: words the model was not trained on are read as its nearest "
                "trained ones: colour names by colour, e.g. crimson → red, shape and motion wording by the text "
                "encoder, e.g. 'a sphere heading left' → 'a circle moving left').")
LITERAL = {"color_names": False, "ground_words": False}  # what --literal turns off


@app.command()
def generate(
    prompt: str = typer.Argument(None, help='What to show, e.g. "a red circle moving left".'),
    out: str = typer.Option("out.mp4", "-o", "--out", help="Output video (.mp4); a .gif and a .json sidecar are written "
                            "beside it. Several videos: out-0.mp4, out-1.mp4, ..."),
    model: str = typer.Option(None, "--model", help="A shipped model (default), an exported model folder, or a "
                              "pipeline folder (pipeline.json: Show-1, CMD) (default: the model shipped with cinediff)."),
    prompts_file: str = typer.Option(None, "--prompts", help="A file with one prompt per line (instead of PROMPT)."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same video; video i gets seed + i."),
    num: int = typer.Option(1, "-n", "--num", help="Videos per prompt."),
    grid: bool = typer.Option(False, "--grid", help="Also write every video tiled into one preview (out-grid.mp4)."),
    steps: int = typer.Option(None, "--steps", help="Sampler steps (default: the model's)."),
    guidance: float = typer.Option(None, "--guidance", help="Classifier-free guidance scale (default: the model's)."),
    sampler: str = typer.Option(None, "--sampler", help="heun | euler | ddim | dpmpp_2m (default: the model's)."),
    negative: str = typer.Option("", "--negative", help="Negative prompt (the unconditional branch of guidance)."),
    noise_prior: str = typer.Option(None, "--noise-prior", help="iid | mixed | progressive (default: the model's)."),
    noise_alpha: float = typer.Option(None, "--noise-alpha", help="PYoCo α of --noise-prior (default: its own)."),
    init: str = typer.Option(None, "--init", help="An image or video file to start from (SDEdit; see --strength)."),
    strength: float = typer.Option(None, "--strength", help="With --init: how much to change it, (0, 1] (default 0.6)."),
    fps: float = typer.Option(None, "--fps", help="Frame rate of the written files (default: the model's)."),
    device: str = typer.Option(None, "--device", help="cpu | cuda (default: CUDA when available)."),
    literal: bool = typer.Option(False, "--literal", help=LITERAL_HELP),
    layers: bool = typer.Option(None, "--layers/--no-layers", help=LAYERS_HELP),
) -> None:
    """Generate videos from a text prompt, offline, with the default or a given model (or pipeline)."""
    import cinediff
    from cinediff.io import make_grid, write_video, write_video_and_gif
    from cinediff.io.video import check_output_path, from_uint8_frames
    from cinediff.models.generate import generation_problems
    from cinediff.runtime import check_device, check_seed

    prompts = prompts_to_generate(prompt, prompts_file)  # every option checked before the model loads
    check_output_path(out)
    if num < 1:
        raise typer.BadParameter(f"must be ≥ 1, got {num}", param_hint="--num")
    total = len(prompts) * num
    check_seed(seed), check_seed(seed + total - 1)
    problems = generation_problems(steps, sampler, noise_prior, noise_alpha, fps, strength)
    problems |= {"strength": "must be used with --init"} if strength is not None and init is None else {}
    problems |= {"init": "must be an existing image or video file"} if init is not None and not Path(init).is_file() else {}
    for field, problem in problems.items():
        raise typer.BadParameter(problem, param_hint="--" + field.replace("_", "-"))
    dev = str(check_device(device)) if device else None
    pipe = cinediff.load(model or "default", device=dev)
    result = pipe(prompts, negative_prompt=negative or None, num_inference_steps=steps, guidance_scale=guidance,
                  seed=seed, num_videos_per_prompt=num, sampler=sampler, noise_prior=noise_prior,
                  noise_alpha=noise_alpha, init=init, strength=strength, layers=layers, **(LITERAL if literal else {}))
    rate = fps or pipe.fps
    settings = result.settings
    step = ({name: stage.config.get("step") for name, stage in pipe.model.models.items()} if pipe.is_multistage
            else pipe.model.config.get("step"))
    videos = [from_uint8_frames(frames) for frames in result.frames]
    for prompt, read in dict(zip(settings["prompts"], settings["read_as"])).items():
        if read != prompt:
            typer.echo(f"read {prompt!r} as {read!r} (words it was not trained on; --literal keeps them)")
    for i, (path, video) in enumerate(zip(output_paths(out, total), videos)):
        meta = {"prompt": settings["prompts"][i], "read_as": settings["read_as"][i], "seed": settings["seeds"][i],
                "seeds": [settings["seeds"][i]],
                "generation": settings["generation"], "model": model or "default", "model_step": step,
                **({"init": init} if init else {})}
        for written in write_video_and_gif(path, video, rate, meta):
            typer.echo(f"wrote {written}")
    if grid and total > 1:
        path = Path(out).with_name(f"{Path(out).stem}-grid{Path(out).suffix}")
        for written in write_video(path, make_grid(videos), fps=rate, metadata={"prompts": settings["prompts"],
                                                                                    "seeds": settings["seeds"]}):
            typer.echo(f"wrote {written}")


@app.command()
def models(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the models shipped with cinediff (text-to-video, autoencoders, the judge's classifier)."""
    from cinediff.models.catalog import headline_figures, shipped_models

    rows = shipped_models()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    header = ("name", "kind", "method", "shape", "params", "steps", "CPU-min", "size", "eval")
    figures = lambda r: ", ".join(f"{k} {v:g}" for k, v in headline_figures(r.get("eval", {})).items()) or "-"  # noqa: E731
    table = [header] + [(r["name"], r["kind"], r["method"], "×".join(map(str, r["shape"] or [])) or "-",
                         f"{r['params_m']:.2f} M", str(r["steps"] or "-"), f"{r.get('cpu_minutes', '-')}",
                         f"{r['size_mb']:.1f} MB", figures(r)) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


@app.command()
def demo(
    model: str = typer.Option(None, "--model", help="A shipped model or an exported model / pipeline folder, first "
                              "in the page's model list (default: the shipped ones)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (0.0.0.0 exposes it to your network)."),
    port: int = typer.Option(7860, "--port", help="Port to serve on."),
    share: bool = typer.Option(False, "--share/--no-share", help="A public gradio.live link (off: nothing leaves "
                               "this machine)."),
    out_dir: str = typer.Option(None, "--out-dir", help="Where the videos are written (default: a new temp folder)."),
    device: str = typer.Option(None, "--device", help="cpu | cuda (default: CUDA when available)."),
) -> None:
    """A web page to try the models in a browser: Generate and Compare tabs (gradio)."""
    from cinediff.runtime import check_device

    if not 0 < port < 65536:
        raise typer.BadParameter(f"must be in 1..65535, got {port}", param_hint="--port")
    if model is not None:
        from cinediff.models.loading import resolve_model_dir

        resolve_model_dir(model)  # a missing folder: one clear line before the server starts
    dev = str(check_device(device)) if device else None
    try:
        from cinediff.demo.app import launch
    except ImportError as err:
        raise typer.BadParameter(f"the demo needs gradio ({err}): pip install 'cinediff[demo]'",
                                 param_hint="demo") from err
    typer.echo(f"cinediff demo on http://{host}:{port} (Ctrl-C stops it)")
    launch(model, host, port, share, out_dir, dev)


@app.command()
def recipes() -> None:
    """List the packaged training recipes (cinediff train NAME) with a one-line description."""
    from cinediff.training.config import recipe_summaries as packaged

    entries = packaged()
    width = max(map(len, entries))
    for name, about in entries.items():
        typer.echo(f"{name:<{width}}  {about}")


config_app = typer.Typer(no_args_is_help=True, help="Inspect run configs.")
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show(
    recipe: str = typer.Argument(..., help="A packaged recipe name (cinediff recipes) or a TOML run file."),
    set_: list[str] = typer.Option([], "--set", help="Override a field, e.g. --set train.steps=100 (repeatable)."),
) -> None:
    """Print the resolved config (recipe + overrides + defaults) as TOML: every field the trainer uses."""
    from cinediff.training.config import config_to_toml, load_config

    typer.echo(config_to_toml(load_config(recipe, set_)), nl=False)


@app.command()
def export(
    run: str = typer.Argument(..., help="Run folder (its newest checkpoint) or a checkpoint folder."),
    out: str = typer.Option(..., "-o", "--out", help="Folder to write model.safetensors + config.json into."),
    format_: str = typer.Option("cinediff", "--format", help="cinediff (for cinediff generate/load) | diffusers "
                                "(a U-Net's image model as a diffusers UNet2DConditionModel folder)."),
    generation: list[str] = typer.Option([], "--generation", help="A generation default of the exported model, "
                                         "e.g. --generation sampler=dpmpp_2m --generation layers=true (repeatable)."),
) -> None:
    """Export a trained model (EMA weights) for `cinediff generate --model`; an autoencoder run
    becomes a saved autoencoder (latent scaling factor estimated on its training data)."""
    from cinediff.training.export import export_model, parse_generation
    from cinediff.training.export import export_diffusers_unet

    if format_ not in ("cinediff", "diffusers"):
        raise typer.BadParameter(f"must be cinediff or diffusers, got {format_!r}", param_hint="--format")
    try:
        defaults = parse_generation(generation)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--generation") from err
    exported = export_model(run, out, defaults) if format_ == "cinediff" else export_diffusers_unet(run, out)
    typer.echo(f"exported to {exported}")


@app.command()
def pipeline(
    method: str = typer.Argument(..., help="show1 | cmd"),
    stages: list[str] = typer.Argument(..., help="STAGE=EXPORT_DIR, e.g. keyframes=runs/show1/keyframes"),
    out: str = typer.Option(..., "-o", "--out", help="Pipeline folder to write pipeline.json into."),
    options: list[str] = typer.Option([], "--set", help="Method option, e.g. --set superres_strength=0.3."),
) -> None:
    """Chain exported stage models into a pipeline folder that `cinediff generate --model` runs."""
    from cinediff.pipelines import save_pipeline
    from cinediff.training.config import apply_overrides

    pairs = [stage.partition("=") for stage in stages]
    if any(not sep or not name or not path for name, sep, path in pairs):
        raise ValueError(f"stages are STAGE=EXPORT_DIR, got {stages}")
    folder = save_pipeline(out, method, {name: path for name, _, path in pairs}, apply_overrides({}, options))
    typer.echo(f"pipeline written to {folder / 'pipeline.json'}")


@app.command("eval")
def evaluate(
    model: str = typer.Argument(None, help="Exported model or pipeline folder (default: the shipped model)."),
    prompts: str = typer.Option("builtin", "--prompts", help="builtin | builtin-heldout | builtin-reworded (held-out wording) | a file with one prompt per line."),
    num: int = typer.Option(32, "--num", help="Videos to generate and score."),
    out: str = typer.Option("report", "-o", "--out", help="Report folder (index.html, metrics.json, GIFs)."),
    seed: int = typer.Option(0, "--seed"),
    steps: int = typer.Option(None, "--steps", help="Sampler steps (default: the model's)."),
    classifier: str = typer.Option("shipped", "--classifier", help="In-domain classifier folder for frechet_classifier: shipped | none | PATH."),
    i3d: str = typer.Option(None, "--i3d", help="Local I3D file (i3d_torchscript.pt or a pytorch-i3d state dict): adds FVD. "
                           "TorchScript files run code when loaded: only pass ones you trust."),
    clip: str = typer.Option(None, "--clip", help="Local CLIP directory (transformers save_pretrained): adds CLIPSIM."),
    literal: bool = typer.Option(False, "--literal", help=LITERAL_HELP),
    layers: bool = typer.Option(None, "--layers/--no-layers", help=LAYERS_HELP),
) -> None:
    """Generate for a prompt set, score alignment (judge), temporal consistency and flicker; write a report.

    Given an autoencoder (a saved folder or an autoencoder run), reports its reconstruction PSNR
    on NUM held-out clips of each built-in set instead (metrics.json in OUT)."""
    from cinediff.evaluation.report import evaluate as run_evaluation
    from cinediff.evaluation.report import read_prompts, reference_split
    from cinediff.training.export import is_autoencoder
    from cinediff.runtime import default_device

    if model and is_autoencoder(model):
        return evaluate_autoencoder(model, num, Path(out))
    generation = ({"steps": steps} if steps else {}) | (LITERAL if literal else {})
    generation |= {"layers": layers} if layers is not None else {}
    metrics = run_evaluation(model, read_prompts(prompts, num), Path(out), seed, generation=generation,
                             device=str(default_device()), real_split=reference_split(prompts),
                             classifier=classifier, i3d=i3d, clip=clip)
    typer.echo(json.dumps(metrics, indent=1))
    typer.echo(f"report: {Path(out) / 'index.html'}")


def evaluate_autoencoder(source: str, num: int, out: Path) -> None:
    from cinediff.evaluation.reconstruction import reconstruction_report
    from cinediff.training.export import load_any_autoencoder
    from cinediff.weights import atomic_write_json

    report = reconstruction_report(load_any_autoencoder(source), num=num)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "metrics.json", report)
    for name, row in report.items():
        judged = "".join(f", judge {k[6:]} {row[k]:.2f}" for k in ("judge_color", "judge_shape", "judge_motion") if k in row)
        typer.echo(f"{name:14s} PSNR {row['psnr_db']:.2f} dB (std {row['psnr_std_db']:.2f}, min {row['psnr_min_db']:.2f}) "
                   f"on {row['clips']} held-out clips of {row['shape']}{judged}")
    typer.echo(f"metrics: {out / 'metrics.json'}")


@app.command()
def bench(
    suite: str = typer.Argument(..., help="backbones | train | noise | generate | pyoco | show1 | cmd | diagnose | recipes | methods"),
    model: str = typer.Argument(None, help="diagnose: the model to examine (an exported folder; default: the shipped one)."),
    json_path: str = typer.Option(None, "--json", help="Write the results here as JSON."),
    quick: bool = typer.Option(False, "--quick", help="Tiny sizes: checks the suite runs, figures mean little."),
    options: list[str] = typer.Option([], "--set", help="Suite option, e.g. --set threads=1 --set size=32 (repeatable)."),
    budget: float = typer.Option(None, "--budget", help="methods: training minutes per method."),
    size: int = typer.Option(None, "--size", help="methods, cmd: clip height = width (methods: 32 or 64)."),
) -> None:
    """Measure an efficiency claim as ratios side by side in one run; prints a table."""
    from rich.console import Console

    from cinediff.bench import run_suite
    from cinediff.training.config import apply_overrides

    given = {"model": model, "budget": budget, "size": size}
    options = apply_overrides({}, options) | {k: v for k, v in given.items() if v is not None}
    result = run_suite(suite, json_path, quick=quick, **options)
    console = Console()
    title = f"bench {suite} — {result['machine']['device']}, torch {result['machine']['torch']}"
    groups: dict[str, list[dict]] = {}
    for row in result["rows"]:  # suites with several tests (diagnose): one table each
        groups.setdefault(row.get("test", ""), []).append({k: v for k, v in row.items() if k != "test"})
    for name, rows in groups.items():
        console.print(_table(f"{title}{': ' + name if name else ''}", rows))
    console.print_json(data=result["ratios"])


def _table(title: str, rows: list[dict]):
    """A rich table: a row per measurement, or a column per measurement when rows have many fields."""
    from rich.table import Table

    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    table = Table(title=title)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    if len(keys) <= 8:
        for key in keys:
            table.add_column(key.removeprefix("accuracy_"))
        for row in rows:
            table.add_row(*[cell(row.get(k)) for k in keys])
    else:
        first, *rest = keys
        table.add_column(first)
        for row in rows:
            table.add_column(cell(row.get(first)))
        for key in rest:
            table.add_row(key.removeprefix("accuracy_"), *[cell(row.get(key)) for row in rows])
    return table


def main() -> None:
    """Console entry point: user errors (bad input, missing or corrupt files) print one clear
    line and exit 1; set CINEDIFF_DEBUG=1 for the full traceback."""
    import errno
    import os
    import sys

    from cinediff.io import VideoDecodeError
    from cinediff.training.runfolder import RunFolderLocked
    from cinediff.training.trainer import TrainingDiverged
    from cinediff.weights import CheckpointError

    try:
        app()
    except (CheckpointError, FileNotFoundError, ValueError, VideoDecodeError, RunFolderLocked,
            TrainingDiverged) as err:
        if os.environ.get("CINEDIFF_DEBUG"):
            raise
        typer.secho(f"error: {err}", err=True, fg="red")
        sys.exit(1)
    except OSError as err:
        if os.environ.get("CINEDIFF_DEBUG") or err.errno != errno.ENOSPC:
            raise
        where = f" writing {err.filename}" if err.filename else ""
        typer.secho(f"error: no space left on the device{where}; files written before (earlier checkpoints) "
                    "are intact: free some space and run the same command again", err=True, fg="red")
        sys.exit(1)


if __name__ == "__main__":
    main()
