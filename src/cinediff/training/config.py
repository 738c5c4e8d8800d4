"""Run configuration: plain dataclasses with readable defaults, loaded from TOML.

A run file has one table per section (``[model]``, ``[data]``, ``[optim]``, ``[train]``);
``--set section.key=value`` overrides any field (values parsed as TOML, else as strings).
The resolved config is saved with every run and every checkpoint.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ModelConfig:
    task: str = "diffusion"  # "diffusion" (text-to-video denoiser) or "autoencoder"
    backbone: str = "unet"  # diffusion: unet | fit | dit ; autoencoder: vae | cmd
    backbone_args: dict = field(default_factory=dict)  # fields of the backbone's config dataclass
    formulation: str = "edm"  # edm | vp
    formulation_args: dict = field(default_factory=dict)  # EDMPrecond / VPPrecond + VPSchedule keyword args
    noise_prior: str = "iid"  # iid | mixed | progressive (PYoCo)
    noise_alpha: float | None = None  # None: the prior's documented default
    text_encoder: str | None = "minilm"  # a local transformers dir, "minilm", or "" for unconditional
    cond_dropout: float = 0.1  # probability of training a sample on the empty prompt (for CFG)
    init_from: str | None = None  # weights that start this run: a run/checkpoint folder, a saved autoencoder or an export
    autoencoder: str | None = None  # saved autoencoder folder: diffuse in its latent space (latent VDMs)
    target: str = "video"  # what is generated: video | keyframes-interpolation | super-resolution | cmd-content | cmd-motion
    target_args: dict = field(default_factory=dict)  # e.g. {stride = 4}, {factor = 4}, cmd-content: {latent = "vae"}


@dataclass
class DataConfig:
    dataset: str = "moving-shapes"
    args: dict = field(default_factory=dict)  # fields of the data set's config
    batch_size: int = 8  # global batch: all ranks and accumulation steps together
    num_workers: int = 0
    image_batch_fraction: float = 0.0  # joint image-video training: share of steps on 1-frame clips


@dataclass
class OptimConfig:
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    warmup_steps: int = 100  # linear warm-up from 0
    schedule: str = "constant"  # constant | cosine (to min_lr_ratio · lr at the last step)
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0  # max global grad norm; 0 disables
    grad_accum: int = 1  # micro-batches per optimizer step (per rank)


@dataclass
class TrainConfig:
    steps: int = 1000
    max_minutes: float = 0.0  # > 0: also stop once training has taken this long (equal-time studies); resumable
    seed: int = 0
    out_dir: str = "runs/default"
    precision: str = "auto"  # auto (bf16 autocast where bf16 is native: CUDA, AVX512-BF16/AMX CPUs) | bf16 | fp32
    compile: bool = False  # torch.compile the backbone
    ema_decay: float = 0.999  # 0 disables EMA
    checkpoint_every: int = 500
    keep_last: int = 3
    log_every: int = 10
    sample_every: int = 0  # 0: never; else write sample videos every N steps
    sample_prompts: list = field(default_factory=lambda: ["a red circle moving left"])
    sample_steps: int = 24
    eval_every: int = 0  # 0: never; else every N steps the EMA weights generate eval_prompts, scored by a callback
    eval_num: int = 24  # prompts per learning-curve point (default prompts: seeded, every motion equally often)
    eval_prompts: list = field(default_factory=list)  # empty: the learning curve's default built-in subset
    eval_steps: int = 24  # sampler steps of the learning-curve samples
    distributed: str = "ddp"  # ddp | fsdp (under torchrun)
    max_consecutive_nonfinite: int = 20  # skipped non-finite steps in a row before stopping
    tensorboard: bool = False


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


_SECTIONS = {"model": ModelConfig, "data": DataConfig, "optim": OptimConfig, "train": TrainConfig}


def _section(cls, values: dict, where: str):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} in [{where}]; valid: {sorted(names)}")
    return cls(**{k: tuple(v) if isinstance(v, list) and k == "betas" else v for k, v in values.items()})


def _parse_value(text: str):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Apply ``["train.steps=10", "model.backbone_args.dim=64", ...]`` to a nested dict."""
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        *parents, leaf = key.strip().split(".")
        node = values
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = _parse_value(text.strip())
    return values


def packaged_configs() -> dict[str, Path]:
    """The recipes shipped in ``cinediff/configs`` by name (``default``, ``latent-shift-video``, ...)."""
    from importlib import resources

    folder = Path(str(resources.files("cinediff") / "configs"))
    return {p.stem: p for p in sorted(folder.glob("*.toml"))}


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Read a TOML run file — a path, or the name of a packaged recipe — (or the defaults when
    ``path`` is None) and apply overrides."""
    values: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file() and str(path) in packaged_configs():
            path = packaged_configs()[str(path)]
        if not path.is_file():
            raise FileNotFoundError(f"run config {path} does not exist (packaged recipes: {sorted(packaged_configs())})")
        values = tomllib.loads(path.read_text())
    return config_from_dict(apply_overrides(values, overrides or []))


def config_from_dict(values: dict) -> RunConfig:
    unknown = set(values) - set(_SECTIONS)
    if unknown:
        raise ValueError(f"unknown section(s) {sorted(unknown)}; valid: {sorted(_SECTIONS)}")
    return RunConfig(**{name: _section(cls, dict(values.get(name, {})), name) for name, cls in _SECTIONS.items()})


def config_to_dict(config: RunConfig) -> dict:
    return dataclasses.asdict(config)
