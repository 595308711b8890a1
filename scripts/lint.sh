#!/usr/bin/env bash
# clang-format (check) on every C++ file, clang-tidy (.clang-tidy) on the
# layers above model/ (model/'s LibTorch headers make clang-tidy take ~20 s a
# file; run it there with --all). Needs a configured build/ (compile_commands).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
mapfile -t files < <(git ls-files '*.cc' '*.h')
clang-format --dry-run -Werror "${files[@]}"
echo "lint: clang-format clean (${#files[@]} files)"
if [[ "${1:-}" == "--all" ]]; then
  mapfile -t tidy < <(git ls-files '*.cc' | grep -v '^tests/')
else
  mapfile -t tidy < <(git ls-files 'server/*.cc' 'client/*.cc' 'image/*.cc' 'quality/*.cc' 'tools/*.cc' | grep -v -E 'train_main|eval_main')
fi
clang-tidy -p "$BUILD_DIR" --quiet "${tidy[@]}" 2>/dev/null
echo "lint: clang-tidy clean (${#tidy[@]} files)"
