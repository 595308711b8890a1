#!/usr/bin/env bash
# The project built with AddressSanitizer + UndefinedBehaviorSanitizer (gcc)
# in build-asan/, running the server, image, client and quality tests
# (ctest labels server, client, quality): any ASan or UBSan report fails
# the test it happens in. LibTorch, gRPC, OpenCV and the other Debian
# libraries are not instrumented; their memory is still checked where our
# code touches it, and their leaks at exit are not reported as ours.
#
# ThreadSanitizer is not run: every lock in the project is an absl::Mutex,
# whose synchronisation TSan only sees in an Abseil built with
# -fsanitize=thread, and Debian's is not (every guarded access would be
# reported as a race). See docs/reliability.md.
#   ./scripts/sanitize.sh [ctest args...]     default: -L 'server|client|quality'
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$ROOT/scripts/setup.sh" >/dev/null  # packages, venvs, and the regular build's generated files
ASAN_DIR="${CTRLFUSE_ASAN_BUILD_DIR:-$ROOT/build-asan}"
torch_cmake="$("$PY" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
if [[ ! -f "$ASAN_DIR/build.ninja" ]]; then
  mkdir -p "$ASAN_DIR"
  cmake -S "$ROOT" -B "$ASAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCTRLFUSE_TCMALLOC=OFF -DCTRLFUSE_CUDA="${CTRLFUSE_CUDA:-ON}" \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_PREFIX_PATH="$torch_cmake" -DTorch_DIR="$torch_cmake/Torch" -DCTRLFUSE_PYTHON="$PY" \
    -DCTRLFUSE_DEPLOY_PYTHON="$DEPLOY_PY" -DCTRLFUSE_PYCLIENT_PYTHON="$PYCLIENT_PY" \
    -DCTRLFUSE_KSERVE_PYTHON="$KSERVE_PY" >"$ASAN_DIR/configure.log" 2>&1 ||
    { tail -30 "$ASAN_DIR/configure.log"; rm -f "$ASAN_DIR/build.ninja"; exit 1; }
fi
if ! ninja -C "$ASAN_DIR" >"$ASAN_DIR/last-build.log" 2>&1; then
  tail -40 "$ASAN_DIR/last-build.log"
  echo "sanitize: build failed (log: $ASAN_DIR/last-build.log)" >&2
  exit 1
fi
printf '%s\n' 'leak:libtorch_cpu.so' 'leak:libc10.so' 'leak:libgrpc' 'leak:libgpr' 'leak:libprotobuf' \
  'leak:libopencv' 'leak:libcares' 'leak:libcivetweb' 'leak:libprometheus' 'leak:libpython' >"$ASAN_DIR/lsan.supp"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_odr_violation=0"
export LSAN_OPTIONS="suppressions=$ASAN_DIR/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$ASAN_DIR"
[[ $# -gt 0 ]] || set -- -L 'server|client|quality'
ctest --output-on-failure --timeout 1800 "$@"
