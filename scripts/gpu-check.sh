#!/usr/bin/env bash
# The prepared GPU check, for a machine with an NVIDIA GPU and LibTorch 2.x
# (e.g. from a Python torch install). Builds model/ alone against that
# LibTorch (no gRPC/OpenCV needed), runs the model tests (the CUDA ones run
# instead of skipping) and the model benchmark on CUDA, and writes
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
  echo "| config | size | batch | forward s | encode s | decode s | images/s | peak RSS GiB |"
  echo "|---|---|---|---|---|---|---|---|"
  for c in "vit_b 640 480 1 5" "vit_b 640 480 4 3" "vit_h 640 480 1 3"; do
    CTRLFUSE_BENCH_DEVICE=cuda "$BUILD/bench/model_bench" $c || true
  done
} >> "$OUT_DIR/gpu-check.md"
cat "$OUT_DIR/gpu-check.md"
