#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, coverage + ASan + UBSan) in
# build-fuzz/, runs the torch-free unit tests of the same code under the
# same sanitizers, then runs each fuzzer from its seed corpus (fuzz/corpus/<target>) for
# SECONDS (default 60). Fails on a crash, a sanitizer report, a leak, an
# input that takes over 10 s, or one that needs more than 2 GiB; the input
# that did it is left in build-fuzz/artifacts/ (rerun: build-fuzz/<target>
# <file>). New inputs found go to build-fuzz/corpus/<target>, not the repo.
#   ./scripts/fuzz.sh [SECONDS] [TARGET...]   targets: image_decode rle request checkpoint
set -euo pipefail
source "$(dirname "$0")/env.sh"
SECONDS_EACH="${1:-60}"
shift || true
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(image_decode rle request checkpoint)
FUZZ_DIR="${CTRLFUSE_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
"$ROOT/scripts/setup.sh" >/dev/null  # the Debian packages and the venv (its LibTorch)
torch_cmake="$("$PY" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
if [[ ! -f "$FUZZ_DIR/build.ninja" ]]; then
  cmake -S "$ROOT/fuzz" -B "$FUZZ_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCMAKE_PREFIX_PATH="$torch_cmake" -DTorch_DIR="$torch_cmake/Torch" >/dev/null
fi
ninja -C "$FUZZ_DIR" $(printf '%s_fuzzer ' "${TARGETS[@]}") sanitized_unit_tests
mkdir -p "$FUZZ_DIR/artifacts"
# Leaks are findings; LibTorch's and OpenCV's one-time allocations at exit
# are not ours (suppressed by library, not by our code).
printf 'leak:libtorch_cpu.so\nleak:libc10.so\nleak:libopencv_core.so\n' >"$FUZZ_DIR/lsan.supp"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1"
export LSAN_OPTIONS="suppressions=$FUZZ_DIR/lsan.supp"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
# The same instrumented parsers' unit tests first (codecs, decode slots,
# batcher, memory model): any ASan/UBSan report fails them.
if "$FUZZ_DIR/sanitized_unit_tests" >"$FUZZ_DIR/unit_tests.log" 2>&1; then
  echo "ok   sanitized unit tests: $(grep -Eo '[0-9]+ tests from [0-9]+ test suites ran' "$FUZZ_DIR/unit_tests.log")"
else
  echo "FAIL sanitized unit tests (log: $FUZZ_DIR/unit_tests.log):"; grep -E "ERROR|FAILED|runtime error" "$FUZZ_DIR/unit_tests.log" | head -8
  status=1
fi
for t in "${TARGETS[@]}"; do
  mkdir -p "$FUZZ_DIR/corpus/$t"
  echo "fuzz: $t for ${SECONDS_EACH} s"
  if ! "$FUZZ_DIR/${t}_fuzzer" "$FUZZ_DIR/corpus/$t" "$ROOT/fuzz/corpus/$t" -max_total_time="$SECONDS_EACH" \
    -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$FUZZ_DIR/artifacts/${t}-" >"$FUZZ_DIR/$t.log" 2>&1; then
    echo "FAIL fuzz $t (log: $FUZZ_DIR/$t.log):"; grep -E "ERROR|SUMMARY|Test unit written" "$FUZZ_DIR/$t.log" | head -8
    status=1
  else
    echo "ok   fuzz $t: $(grep -E '^stat::number_of_executed_units' "$FUZZ_DIR/$t.log" | awk '{print $2}') inputs," \
      "$(grep -c . <(ls "$FUZZ_DIR/corpus/$t")) in the corpus"
  fi
done
exit $status
