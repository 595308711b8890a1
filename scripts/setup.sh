#!/usr/bin/env bash
# Installs what ctrlfuse-serve needs from Debian 12's packages (only what it
# uses), then configures and builds. Idempotent; quiet when all is there.
#   ./scripts/setup.sh            install + build everything
#   ./scripts/setup.sh --model    LibTorch-only build of model/ and its tests
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

if [[ ! -f "$BUILD_DIR/build.ninja" ]] || ! grep -q "CTRLFUSE_MODEL_ONLY:BOOL=$model_only" "$BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCTRLFUSE_MODEL_ONLY=$model_only >/dev/null
fi
# ninja prints one line per step; keep the output short unless it fails.
if ! ninja -C "$BUILD_DIR" > "$BUILD_DIR/last-build.log" 2>&1; then
  tail -50 "$BUILD_DIR/last-build.log"
  echo "setup: build failed (full log: $BUILD_DIR/last-build.log)" >&2
  exit 1
fi
