"""Run configuration: plain dataclasses with readable defaults, loaded from TOML.

A run file has one table per section (``[model]``, ``[data]``, ``[optim]``, ``[train]``);
``--set section.key=value`` overrides any field (values parsed as TOML, else as strings).
The resolved config is saved with every run and every checkpoint.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from cinediff.models.config import ModelConfig


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
    allow_config_change: bool = False  # resume a checkpoint trained with another model/data config or seed
    tensorboard: bool = False  # scalars to <run>/tensorboard (needs the tensorboard package)
    wandb: str = "off"  # off | offline (no network; `wandb sync` later) | online — needs the wandb package


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


_SECTIONS = {"model": ModelConfig, "data": DataConfig, "optim": OptimConfig, "train": TrainConfig}


# (lowest, highest) allowed value of numeric fields; None: unbounded on that side.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "model.cond_dropout": (0, 1), "model.temporal_loss_weight": (0, None), "model.binding_loss_weight": (0, None),
    "model.binding_margin": (0, None), "model.binding_min_sigma": (0, None), "data.batch_size": (1, None), "data.num_workers": (0, None),
    "data.image_batch_fraction": (0, 1), "optim.lr": (0, None), "optim.weight_decay": (0, None),
    "optim.warmup_steps": (0, None), "optim.min_lr_ratio": (0, 1), "optim.grad_clip": (0, None),
    "optim.grad_accum": (1, None), "train.steps": (0, None), "train.max_minutes": (0, None),
    "train.seed": (0, 2**63 - 1), "train.ema_decay": (0, 1), "train.checkpoint_every": (1, None),
    "train.keep_last": (0, None), "train.log_every": (1, None), "train.sample_every": (0, None),
    "train.sample_steps": (1, None), "train.eval_every": (0, None), "train.eval_num": (1, None),
    "train.eval_steps": (1, None), "train.max_consecutive_nonfinite": (1, None),
}
# Allowed values of string fields with a fixed set of choices.
CHOICES: dict[str, tuple[str, ...]] = {"train.wandb": ("off", "offline", "online")}
# What each annotation accepts (bool is not an int here, an int is a float).
_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,), "dict": (dict,), "list": (list,)}


def _accepted(annotation: str) -> tuple[type, ...] | None:
    """Python types a field annotated ``annotation`` (a string: ``from __future__ import annotations``)
    takes; None when not checked here."""
    accepted: tuple[type, ...] = ()
    for part in (p.strip() for p in annotation.split("|")):
        base = part.split("[", 1)[0]
        if part == "None":
            accepted += (type(None),)
        elif base == "tuple":
            accepted += (list, tuple)
        elif base in _TYPES:
            accepted += _TYPES[base]
        else:
            return None
    return accepted


def check_value(where: str, annotation: str, value) -> None:
    """One clear line (ValueError) when ``value`` has the wrong type or lies outside :data:`RANGES`."""
    accepted = _accepted(annotation)
    if accepted is not None and (not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted)):
        raise ValueError(f"{where} must be {annotation}, got {value!r} ({type(value).__name__})")
    if where in CHOICES and value not in CHOICES[where]:
        raise ValueError(f"{where} must be one of {list(CHOICES[where])}, got {value!r}")
    low, high = RANGES.get(where, (None, None))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"≥ {low}" if high is None else f"in [{low}, {high}]"
            raise ValueError(f"{where} must be {bounds}, got {value!r}")


def _section(cls, values: dict, where: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(fields)
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} in [{where}]; valid: {sorted(fields)}")
    for key, value in values.items():
        check_value(f"{where}.{key}", str(fields[key].type), value)
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


def recipe_writing(run_dir: str | Path) -> str | None:
    """The packaged recipe whose ``train.out_dir`` is ``run_dir`` (e.g. ``runs/default-wide`` →
    ``default-wide``): what to train when a later stage's ``model.init_from`` is missing."""
    for name, path in packaged_configs().items():
        out_dir = tomllib.loads(path.read_text()).get("train", {}).get("out_dir")
        if out_dir is not None and Path(out_dir) == Path(run_dir):
            return name
    return None


def recipe_summary(path: Path) -> str:
    """The first sentence of a recipe's leading comment block."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    text = " ".join(line for line in lines if line)
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return sentence if len(sentence) <= 110 else sentence[:107].rstrip() + "..."


def recipe_summaries() -> dict[str, str]:
    """Packaged recipe name → one-line description (``cinediff recipes``)."""
    return {name: recipe_summary(path) for name, path in sorted(packaged_configs().items())}


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Read a TOML run file — a path, or the name of a packaged recipe — (or the defaults when
    ``path`` is None) and apply overrides; a diffusers text-to-image ``model.init_from`` fills in
    the model (``diffusers_init.resolve_diffusers_init``)."""
    values: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file() and str(path) in packaged_configs():
            path = packaged_configs()[str(path)]
        if not path.is_file():
            raise FileNotFoundError(f"run config {path} does not exist (packaged recipes: {sorted(packaged_configs())})")
        try:
            values = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path}: TOML syntax error: {err}") from None
    from cinediff.models.diffusers_init import resolve_diffusers_init

    return resolve_diffusers_init(config_from_dict(apply_overrides(values, overrides or [])))


def config_from_dict(values: dict) -> RunConfig:
    unknown = set(values) - set(_SECTIONS)
    if unknown:
        raise ValueError(f"unknown section(s) {sorted(unknown)}; valid: {sorted(_SECTIONS)}")
    return RunConfig(**{name: _section(cls, dict(values.get(name, {})), name) for name, cls in _SECTIONS.items()})


def config_to_dict(config: RunConfig) -> dict:
    return dataclasses.asdict(config)


def without_none(values):
    """``values`` with None entries dropped (TOML has no null; an omitted key takes the dataclass default)."""
    if isinstance(values, dict):
        return {k: without_none(v) for k, v in values.items() if v is not None}
    if isinstance(values, (list, tuple)):
        return [without_none(v) for v in values]
    return values


def config_to_toml(config: RunConfig) -> str:
    """The whole resolved config as a TOML run file (``load_config`` reads it back to the same config)."""
    import tomli_w

    return tomli_w.dumps(without_none(config_to_dict(config)))


# Keys a resumed run must share with its checkpoint: anything else would continue another experiment.
RESUME_KEYS = ("model", "data", "train.seed")
RESUME_HARMLESS = ("data.num_workers",)  # changes how data is loaded, not what is trained


def _flatten(values, prefix: str = "") -> dict:
    if not isinstance(values, dict):
        return {prefix: values}
    out = {}
    for key, value in values.items():
        out |= _flatten(value, f"{prefix}.{key}" if prefix else key)
    return out


def config_differences(saved: dict, wanted: RunConfig | dict, keys=RESUME_KEYS, ignore=RESUME_HARMLESS) -> list[str]:
    """``"key: saved -> wanted"`` for every dotted key under ``keys`` (sections or single keys) on which
    a saved config (``config.json`` / a checkpoint's) and ``wanted`` disagree, ``ignore`` left out."""
    wanted = wanted if isinstance(wanted, dict) else config_to_dict(wanted)
    flat_saved, flat_wanted = (_flatten(json_roundtrip(v)) for v in (saved, wanted))
    selected = [k for k in sorted(set(flat_saved) | set(flat_wanted))
                if any(k == p or k.startswith(p + ".") for p in keys) and k not in ignore]
    missing = "(unset)"
    return [f"{k}: {flat_saved.get(k, missing)!r} -> {flat_wanted.get(k, missing)!r}"
            for k in selected if flat_saved.get(k, missing) != flat_wanted.get(k, missing)]


def json_roundtrip(values):
    """``values`` as JSON would give it back (tuples as lists), so saved and live configs compare equal."""
    import json

    return json.loads(json.dumps(values))
