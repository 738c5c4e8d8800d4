#!/usr/bin/env bash
# One-command set-up on a fresh machine: a venv with the CPU build of torch, then cinediff.
# Usage: ./setup.sh [venv-dir]      (default .venv; re-running is safe)
set -euo pipefail
VENV="${1:-.venv}"
PY="${PYTHON:-python3}"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# The CPU build first: a plain `torch` requirement would otherwise pull a multi-GB CUDA build.
"$VENV/bin/python" -m pip install --quiet "torch==2.13.0"
"$VENV/bin/python" -m pip install --quiet -e ".[dev]"
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md, torch
cuda = [d.metadata["Name"] for d in md.distributions() if d.metadata["Name"].lower().startswith("nvidia-")]
print(f"cinediff installed: torch {torch.__version__}, CUDA wheels: {cuda or 'none'}")
PY
