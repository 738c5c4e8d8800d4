"""``cinediff demo``: a gradio page over the ``cinediff.load`` pipeline API.

Two tabs. **Generate**: prompt, negative prompt, seed (with a random button), steps, guidance,
sampler, noise prior and α, and the model (every shipped text-to-video model, or any exported
model or pipeline folder typed in); the video plays in the page, its mp4 and JSON sidecar are
offered for download, and the sampler's step callback drives gradio's progress bar.
**Compare**: one prompt and seed through two models, or through two noise priors, side by side.

The server is meant for one person on one machine: it binds to 127.0.0.1, makes no share link,
sends no analytics (``GRADIO_ANALYTICS_ENABLED=False`` before gradio is imported, system fonts
instead of web fonts) and runs one request at a time (``queue(default_concurrency_limit=1)``).
Bad input raises ``gr.Error``: one line in the page, and the server goes on serving.

    build_app(Studio(out_dir)).launch()      # what `cinediff demo` does, with its options
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # read when gradio is imported

log = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
DEFAULT_PORT = 7860
FONTS = ("ui-sans-serif", "system-ui", "sans-serif")  # no web-font request from the page
MONO_FONTS = ("ui-monospace", "monospace")
VIDEO_CSS = "video { image-rendering: pixelated; }"  # 32x32 clips enlarged without blur
FIELD_NAMES = {"noise_prior": "noise prior", "noise_alpha": "noise α"}  # as the page labels them


@dataclass
class Request:
    """One generation as the page asks for it; None (or a blank box): the model's own default."""

    model: str
    prompt: str
    negative_prompt: str = ""
    seed: int = 0
    steps: int | None = None
    guidance: float | None = None
    sampler: str | None = None
    noise_prior: str | None = None
    noise_alpha: float | None = None

    def checked(self) -> Request:
        """The same request with page values normalised (blank → None; the text of a number box or a
        float → a number, an int for seed and steps), or a ValueError naming the field."""
        from cinediff.models.generate import generation_problems
        from cinediff.runtime import check_seed
        from cinediff.text import check_prompt

        model = blank(self.model)
        if model is None:
            raise ValueError("choose a model (a shipped name or a model folder)")
        check_prompt(self.prompt)
        seed, steps = as_number(self.seed, "seed", whole=True), as_number(self.steps, "steps", whole=True)
        if seed is None:
            raise ValueError("seed must be a whole number")
        check_seed(seed)
        sampler, prior = blank(self.sampler), blank(self.noise_prior)
        guidance, alpha = as_number(self.guidance, "guidance"), as_number(self.noise_alpha, "noise α")
        for field, problem in generation_problems(steps, sampler, prior, alpha).items():
            raise ValueError(f"{FIELD_NAMES.get(field, field)} {problem}")
        return Request(str(model).strip(), self.prompt, self.negative_prompt or "", seed, steps, guidance,
                       sampler, prior, alpha)


def blank(value):
    """None for an empty page field (None or whitespace), else the value."""
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def as_number(value, name: str, whole: bool = False) -> float | int | None:
    """A page field (a number, or the text of an optional box) as a number; blank → None."""
    value = blank(value)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not whole:
        return number
    if not number.is_integer():
        raise ValueError(f"{name} must be a whole number, got {value}")
    return int(number)


def shipped_video_models() -> list[str]:
    """Names of the text-to-video models inside the package (the model dropdown's choices)."""
    from cinediff.models.catalog import shipped_models

    return [row["name"] for row in shipped_models() if row["kind"] == "text-to-video"]


class Studio:
    """Runs the page's requests: loads pipelines on demand (the last ``keep`` stay loaded) and
    writes each video as ``<out_dir>/<n>-<seed>.mp4`` with its GIF and JSON sidecar."""

    def __init__(self, out_dir: str | os.PathLike | None = None, device: str | None = None, keep: int = 2):
        self.out_dir = Path(out_dir or tempfile.mkdtemp(prefix="cinediff-demo-"))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.device, self.keep = device, keep
        self.loaded: OrderedDict[str, object] = OrderedDict()
        self.count = 0

    def pipeline(self, model: str):
        """The loaded pipeline of ``model`` (a shipped name or a folder), loading it when new."""
        import cinediff

        if model not in self.loaded:
            self.loaded[model] = cinediff.load(model, device=self.device)
            while len(self.loaded) > self.keep:
                self.loaded.popitem(last=False)
        self.loaded.move_to_end(model)
        return self.loaded[model]

    def steps_of(self, pipe, request: Request) -> int | None:
        """Sampler steps this request will run (for the progress bar; None for a multi-stage chain)."""
        if pipe.is_multistage:
            return None
        return pipe.model.generation_config({"steps": request.steps}).steps

    def generate(self, request: Request, progress=None) -> tuple[Path, Path]:
        """Sample one video for ``request``; returns (mp4, JSON sidecar). ``progress(fraction, text)``
        is called after every sampler step."""
        from cinediff.io import write_video_and_gif
        from cinediff.io.video import from_uint8_frames

        request = request.checked()
        pipe = self.pipeline(request.model)
        total = self.steps_of(pipe, request)
        callback = None
        if progress is not None and total:
            def callback(_pipe, step, sigma, _tensors):
                progress((step + 1) / total, f"step {step + 1}/{total} (σ = {sigma:.3g})")
        result = pipe(request.prompt, negative_prompt=request.negative_prompt or None,
                      num_inference_steps=request.steps, guidance_scale=request.guidance, seed=request.seed,
                      sampler=request.sampler, noise_prior=request.noise_prior, noise_alpha=request.noise_alpha,
                      callback_on_step_end=callback)
        self.count += 1
        path = self.out_dir / f"{self.count:04d}-seed{request.seed}.mp4"
        video = from_uint8_frames(result.frames[0])
        meta = {"prompt": request.prompt, "read_as": result.settings["read_as"][0], "seed": request.seed,
                "request": asdict(request),
                "generation": result.settings["generation"], "model": request.model}
        mp4, sidecar, _gif = write_video_and_gif(path, video, pipe.fps, meta)
        return mp4, sidecar


def page_error(err: BaseException):
    """The one line the page shows for a failed request (the traceback goes to the server log)."""
    import gradio as gr

    from cinediff.io import VideoDecodeError

    if not isinstance(err, (ValueError, OSError, VideoDecodeError)):  # not the user's input: keep the traceback
        log.exception("request failed")
    message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return gr.Error(message, print_exception=False)


def build_app(studio: Studio, models: list[str] | None = None):
    """The gradio Blocks app of ``studio``; ``models``: the dropdown's choices (default: shipped ones;
    any other folder can be typed in)."""
    import gradio as gr

    from cinediff.noise import DEFAULT_ALPHA
    from cinediff.samplers import SAMPLERS

    def optional_number(label: str, elem_id: str, blank_means: str = "blank: the model's"):
        """A number the user may leave blank (gradio's Number cannot be empty: it would send 0)."""
        return gr.Textbox(label=label, value="", placeholder=blank_means, elem_id=elem_id, max_lines=1)

    choices = list(dict.fromkeys(models or shipped_video_models() or [DEFAULT_MODEL]))
    priors, samplers = ["", *DEFAULT_ALPHA], ["", *SAMPLERS]

    def run(request: Request, progress: gr.Progress) -> tuple[str, list[str], str]:
        try:
            mp4, sidecar = studio.generate(request, lambda f, text: progress(f, desc=text))
        except Exception as err:  # every failure becomes a message in the page; the server goes on
            raise page_error(err) from err
        return str(mp4), [str(mp4), str(sidecar)], f"wrote {mp4.name} (seed {request.seed})"

    with gr.Blocks(title="cinediff", analytics_enabled=False) as app:
        gr.Markdown("# cinediff\nText-to-video diffusion on your machine: nothing leaves it.")
        with gr.Tab("Generate"):
            with gr.Row():
                with gr.Column():
                    model = gr.Dropdown(choices, value=choices[0], label="model", allow_custom_value=True,
                                        info="a shipped model, or type an exported model / pipeline folder")
                    prompt = gr.Textbox(label="prompt", value="a red circle moving left", elem_id="prompt")
                    negative = gr.Textbox(label="negative prompt", value="")
                    with gr.Row():
                        seed = gr.Number(label="seed", value=0, precision=0, elem_id="seed")
                        reseed = gr.Button("random seed", size="sm")
                    with gr.Row():
                        steps = optional_number("steps", "steps")
                        guidance = optional_number("guidance", "guidance")
                    with gr.Row():
                        sampler = gr.Dropdown(samplers, value="", label="sampler (blank: the model's)")
                        prior = gr.Dropdown(priors, value="", label="noise prior (blank: the model's)")
                        alpha = optional_number("α", "alpha", "blank: the prior's")
                    button = gr.Button("Generate", variant="primary", elem_id="generate")
                with gr.Column():
                    video = gr.Video(label="video", elem_id="video", height=320, autoplay=True, loop=True)
                    files = gr.File(label="download: mp4 + JSON", file_count="multiple", elem_id="files")
                    status = gr.Markdown(elem_id="status")
            reseed.click(lambda: random.randrange(2**31), outputs=seed)

            def generate(m, p, n, s, k, g, sa, pr, a, progress=gr.Progress()):
                return run(Request(m, p, n, s, k, g, sa, pr, a), progress)

            button.click(generate, [model, prompt, negative, seed, steps, guidance, sampler, prior, alpha],
                         [video, files, status])
        with gr.Tab("Compare"):
            gr.Markdown("The same prompt and seed through two models, or one model with two noise priors.")
            with gr.Row():
                c_prompt = gr.Textbox(label="prompt", value="a red circle moving left", elem_id="c_prompt")
                c_seed = gr.Number(label="seed", value=0, precision=0)
                c_steps = optional_number("steps", "c_steps")
            sides = []
            with gr.Row():
                for side in ("A", "B"):
                    with gr.Column():
                        c_model = gr.Dropdown(choices, value=choices[0], label=f"model {side}",
                                              allow_custom_value=True)
                        with gr.Row():
                            c_prior = gr.Dropdown(priors, value="" if side == "A" else "mixed",
                                                  label=f"noise prior {side}")
                            c_alpha = optional_number(f"α {side}", f"alpha_{side}", "blank: the prior's")
                        c_video = gr.Video(label=f"video {side}", elem_id=f"video_{side}", height=320,
                                           autoplay=True, loop=True)
                        sides.append((c_model, c_prior, c_alpha, c_video))
            c_button = gr.Button("Compare", variant="primary", elem_id="compare")
            c_status = gr.Markdown(elem_id="c_status")

            def compare(p, s, k, m_a, pr_a, a_a, m_b, pr_b, a_b, progress=gr.Progress()):
                halves = [lambda f, text, lo=lo: progress(lo + f / 2, desc=text) for lo in (0.0, 0.5)]
                try:
                    a = studio.generate(Request(m_a, p, "", s, k, None, None, pr_a, a_a), halves[0])
                    b = studio.generate(Request(m_b, p, "", s, k, None, None, pr_b, a_b), halves[1])
                except Exception as err:
                    raise page_error(err) from err
                return str(a[0]), str(b[0]), f"A: {a[0].name}, B: {b[0].name} (seed {s})"

            c_inputs = [c_prompt, c_seed, c_steps] + [c for side in sides for c in side[:3]]
            c_button.click(compare, c_inputs, [sides[0][3], sides[1][3], c_status])
    return app.queue(default_concurrency_limit=1)


def page_style() -> dict:
    """``launch`` arguments for the look: system fonts (no web-font request), crisp enlarged pixels."""
    import gradio as gr

    return {"theme": gr.themes.Default(font=list(FONTS), font_mono=list(MONO_FONTS)), "css": VIDEO_CSS}


def launch(model: str | None = None, host: str = "127.0.0.1", port: int = DEFAULT_PORT, share: bool = False,
           out_dir: str | None = None, device: str | None = None, block: bool = True):
    """Start the demo (``cinediff demo``); ``model`` is put first in the dropdown. Returns the app
    (with ``block=False`` it serves in a background thread: tests, notebooks)."""
    studio = Studio(out_dir, device)
    models = ([model] if model else []) + shipped_video_models()
    app = build_app(studio, models)
    app.launch(server_name=host, server_port=port, share=share, prevent_thread_lock=not block,
               allowed_paths=[str(studio.out_dir)], show_error=False, quiet=not block, **page_style())
    return app
