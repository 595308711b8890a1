#!/usr/bin/env bash
# The prepared GPU check, for a machine with an NVIDIA GPU and LibTorch 2.x
# (e.g. from a Python torch install). Builds model/ alone against that
# LibTorch (no gRPC/OpenCV needed), runs the model tests (the CUDA ones run
# instead of skipping) and the model benchmark on CUDA (vit_b and vit_h at
# 640x480, batch 1/4/8, fp32/fp16/bf16: time, images/s, peak GPU memory and
# the fused image's max |difference| against fp32), and writes
# $OUT/gpu-check.md (or ./gpu-check.md).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT_DIR="${OUT:-$ROOT}"
PY="$(command -v python3)"
TORCH_CMAKE="$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)')"
BUILD="$ROOT/build-gpu"
{
  echo "# GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  $PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
} > "$OUT_DIR/gpu-check.md"
GTEST_ARGS=()
if [[ ! -d /usr/src/googletest && ! -f /usr/lib/x86_64-linux-gnu/libgtest.a ]]; then
  echo "GoogleTest not installed: install libgtest-dev" >> "$OUT_DIR/gpu-check.md"
fi
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCTRLFUSE_MODEL_ONLY=ON -DCTRLFUSE_USE_PCH=OFF \
  -DCMAKE_PREFIX_PATH="$TORCH_CMAKE" -DTorch_DIR="$TORCH_CMAKE/Torch" -DCTRLFUSE_PYTHON="$PY" \
  -DCMAKE_BUILD_TYPE=Release "${GTEST_ARGS[@]}" >/dev/null
ninja -C "$BUILD" model_tests model_bench 2>&1 | tail -3
(cd "$BUILD" && ./tests/model_tests --gtest_brief=1 2>&1 | tail -20) >> "$OUT_DIR/gpu-check.md"
{
  echo
  echo "Model benchmark, 640x480 pair, random weights, warm, median of 3; max |Δ| is the fused image against the"
  echo "same weights and inputs in fp32 on the GPU (docs/performance.md, GPU)."
  echo
  echo "| config | size | batch | forward s | encode s | decode s | images/s | peak GPU GiB | precision | max abs diff vs fp32 |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for c in "vit_b 640 480 1" "vit_b 640 480 4" "vit_b 640 480 8" "vit_h 640 480 1" "vit_h 640 480 4" "vit_h 640 480 8"; do
    for p in fp32 fp16 bf16; do
      CTRLFUSE_BENCH_DEVICE=cuda CTRLFUSE_BENCH_PRECISION=$p CTRLFUSE_BENCH_COMPARE=1 \
        timeout 120 "$BUILD/bench/model_bench" $c 3 2>/dev/null || echo "| $c | $p: failed or timed out |"
    done
  done
} >> "$OUT_DIR/gpu-check.md"
cat "$OUT_DIR/gpu-check.md"
