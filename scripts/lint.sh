#!/usr/bin/env bash
# clang-format (check) on every C++ file, clang-tidy (.clang-tidy) on the
# layers above model/, and with --all on model/ too (its LibTorch headers make
# clang-tidy take ~20 s a file). Needs a configured build/ (compile_commands).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
mapfile -t files < <(git ls-files '*.cc' '*.h')
clang-format --dry-run -Werror "${files[@]}"
echo "lint: clang-format clean (${#files[@]} files)"
mapfile -t tidy < <(git ls-files 'server/*.cc' 'client/*.cc' 'image/*.cc' 'quality/*.cc' 'common/*.cc' 'proto/*.cc' 'tools/*.cc' | grep -v -E 'train_main|eval_main')
clang-tidy -p "$BUILD_DIR" --quiet "${tidy[@]}" 2>/dev/null
echo "lint: clang-tidy clean (${#tidy[@]} files)"
if [[ "${1:-}" == "--all" ]]; then
  # model/ (LibTorch headers: ~20 s a file). clang-tidy cannot read GCC's
  # precompiled headers, so use a configure-only tree without them.
  TIDY_DIR="$ROOT/build-tidy"
  torch_cmake="$("$PY" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
  cmake -S "$ROOT" -B "$TIDY_DIR" -G Ninja -DCTRLFUSE_MODEL_ONLY=ON -DCTRLFUSE_USE_PCH=OFF \
    -DCMAKE_PREFIX_PATH="$torch_cmake" -DTorch_DIR="$torch_cmake/Torch" >/dev/null
  mapfile -t model < <(git ls-files 'model/*.cc')
  clang-tidy -p "$TIDY_DIR" --quiet "${model[@]}" 2>/dev/null
  echo "lint: clang-tidy clean on model/ (${#model[@]} files)"
fi
