"""Pipeline folders: a ``pipeline.json`` naming a multi-stage method and each stage's exported model.

    {"method": "show1",
     "stages": {"keyframes": "keyframes", "interpolation": "interp/export", "superres": "sr"},
     "config": {"superres_strength": 0.25}}

Stage paths are relative to the json's folder and stay inside it: ``save_pipeline`` copies a
stage that lies elsewhere into ``<folder>/<stage>``, and loading refuses a path that leaves the
folder (``..``, absolute, a symlink out) unless ``allow_outside=True``. ``config`` holds fields of the
method's config dataclass (``Show1Config``, ``CMDConfig``). ``cinediff generate --model DIR``
runs such a folder like a single exported model.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from cinediff.configuration import make_config
from cinediff.pipelines.cmd import METHOD as CMD
from cinediff.models.loading import LoadedModel, contained, load_model
from cinediff.pipelines.show1 import METHOD as SHOW1
from cinediff.pipelines.stages import Method
from cinediff.weights import CheckpointError, atomic_write_text

PIPELINE_FILE = "pipeline.json"
METHODS: dict[str, Method] = {"show1": SHOW1, "cmd": CMD}


@dataclass
class Pipeline:
    method: str  # a key of METHODS
    models: dict[str, LoadedModel]  # by stage name
    config: object  # the method's config dataclass

    @property
    def fps(self) -> float:
        return self.models[METHODS[self.method].fps_stage].fps

    def __call__(self, prompts: Sequence[str], seeds: Sequence[int], device: torch.device | str = "cpu", **overrides):
        """The method's outputs (every stage's; ``.video`` the final clips); ``overrides`` apply to every stage."""
        return METHODS[self.method].run(self.models, prompts, seeds, self.config, device, **overrides)


def check_stages(method: str, stages: dict) -> Method:
    """The method, after checking ``stages`` names all its required stages and no unknown ones."""
    if method not in METHODS:
        raise ValueError(f"unknown pipeline method {method!r}; choose one of {sorted(METHODS)}")
    spec = METHODS[method]
    missing, unknown = set(spec.stages) - set(stages), set(stages) - set(spec.stages) - set(spec.optional)
    if missing or unknown:
        raise ValueError(f"{method} pipeline: missing stages {sorted(missing)}, unknown stages {sorted(unknown)}; "
                         f"needs {list(spec.stages)}, optional {list(spec.optional)}")
    return spec


def save_pipeline(out_dir: str | Path, method: str, stages: dict[str, str | Path], config: dict | None = None) -> Path:
    """Write ``out_dir/pipeline.json`` for exported stage folders (stored relative to ``out_dir``)."""
    spec = check_stages(method, stages)
    make_config(spec.config, config or {})  # unknown fields fail now, not at generation time
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, path in stages.items():
        if not (Path(path) / "config.json").is_file():
            raise CheckpointError(f"stage {name!r}: {path} is not an exported cinediff model (no config.json)")
    paths = {name: os.path.relpath(stage_inside(out_dir, name, Path(path)), out_dir.resolve())
             for name, path in stages.items()}
    text = json.dumps({"method": method, "stages": paths, "config": config or {}}, indent=1)
    atomic_write_text(out_dir / PIPELINE_FILE, text)
    return out_dir


def stage_inside(out_dir: Path, name: str, path: Path) -> Path:
    """A stage folder inside the pipeline folder: itself if it lies there, else a copy in ``out_dir/name``
    (so the folder is self-contained: it can move, and loading never follows a path out of it)."""
    path, root = path.resolve(), out_dir.resolve()
    if path.is_relative_to(root):
        return path
    target = root / name
    if target.exists():
        shutil.rmtree(target)
    return Path(shutil.copytree(path, target))


def is_pipeline(path: str | Path | None) -> bool:
    return path is not None and (Path(path) / PIPELINE_FILE).is_file()


def load_pipeline(path: str | Path, device: torch.device | str = "cpu", allow_outside: bool = False) -> Pipeline:
    """Load every stage's exported model of a pipeline folder onto ``device``; stage paths that leave
    the folder are refused unless ``allow_outside``."""
    path = Path(path)
    try:
        spec = json.loads((path / PIPELINE_FILE).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path / PIPELINE_FILE}: {err}") from err
    method = check_stages(spec.get("method"), spec.get("stages", {}))
    models = {name: load_model(contained(path, stage_dir, f"stage {name!r}", allow_outside), device, allow_outside)
              for name, stage_dir in spec["stages"].items()}
    return Pipeline(spec["method"], models, make_config(method.config, spec.get("config", {})))
