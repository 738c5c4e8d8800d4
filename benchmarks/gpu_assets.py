"""The largest shipped weights halved for the trip to a GPU machine.

The device tool copies the repository's tracked files and the carried ``.gpu/`` folder, at most
64 MiB in all: the tracked files are ~42 MB, of which the default model (20 MB) and the frame VAE
(16 MB), and ``.gpu/`` holds MiniLM (28 MB, ``gpu_minilm.py``), so every bench suite together does
not fit. ``pack`` (here) writes those two assets in fp16 to ``.gpu/assets/<name>.safetensors`` and
leaves in each tracked ``model.safetensors`` a stub of a few bytes; ``unpack`` (there,
``benchmarks/gpu.sh`` does it) writes them back in fp32, rounded to fp16 (the GPU runs bf16 autocast
anyway); ``restore`` (here, right after the device call) checks the real files out again. The tree
that travels is then ~52 MB.

    python benchmarks/gpu_assets.py pack      # here, after `bash benchmarks/gpu.sh prepare`
    python benchmarks/gpu_assets.py unpack    # there
    python benchmarks/gpu_assets.py restore   # here: git checkout of the stubbed files
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

ASSETS = ("default", "vae")  # the two largest, under src/cinediff/assets/
ROOT = Path("src/cinediff/assets")
PACKED = Path(".gpu/assets")
STUB = b"cinediff: packed for a GPU trip, see benchmarks/gpu_assets.py\n"


def weights_file(name: str, root: Path = ROOT) -> Path:
    return root / name / "model.safetensors"


def is_stub(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == len(STUB) and path.read_bytes() == STUB


def pack(names=ASSETS, root: Path = ROOT, packed: Path = PACKED) -> list[Path]:
    """fp16 copies of ``names``' weights into ``packed``, stubs in their place; an asset that is already
    a stub (packed before) is left alone, so a second pack never overwrites a copy with a stub."""
    packed.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        source = weights_file(name, root)
        if is_stub(source):
            if not (packed / f"{name}.safetensors").is_file():
                raise FileNotFoundError(f"{source} is a stub and {packed / name}.safetensors is missing: "
                                        "python benchmarks/gpu_assets.py restore")
            continue
        tensors = load_file(source)
        save_file({k: v.to(torch.float16) if v.is_floating_point() else v for k, v in tensors.items()},
                  packed / f"{name}.safetensors")
        source.write_bytes(STUB)
        written.append(packed / f"{name}.safetensors")
    return written


def unpack(names=ASSETS, root: Path = ROOT, packed: Path = PACKED) -> list[Path]:
    """The stubbed weights of ``names`` rebuilt in fp32 from ``packed``; real files are left alone."""
    written = []
    for name in names:
        target = weights_file(name, root)
        if is_stub(target):
            tensors = load_file(packed / f"{name}.safetensors")
            save_file({k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}, target)
            written.append(target)
    return written


def restore(names=ASSETS, root: Path = ROOT) -> None:
    """The real (tracked) weights back in place of the stubs."""
    stubs = [str(weights_file(n, root)) for n in names if is_stub(weights_file(n, root))]
    if stubs:
        subprocess.run(["git", "checkout", "--", *stubs], check=True)


if __name__ == "__main__":
    action = sys.argv[1]
    result = {"pack": pack, "unpack": unpack, "restore": restore}[action]()
    print(f"{action}: {[str(p) for p in result or []]}")
