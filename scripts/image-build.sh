#!/usr/bin/env bash
# The container image's build steps, run by the Dockerfile (one RUN per step,
# so dependency layers are cached apart from the sources) and by
# tests/deploy/image_build_test.sh here, where there is no Docker engine.
#   image-build.sh deps                   Debian build packages (scripts/deps.txt,
#                                         less the lint and test tools)
#   image-build.sh venv VENV              the pinned torch wheel (its LibTorch)
#   image-build.sh build VENV BUILD       configure + build the three binaries
#   image-build.sh stage BUILD DEST cpu|cuda
#                                         the runtime tree: DEST/bin (binaries,
#                                         RPATH $ORIGIN/../lib), DEST/lib (every
#                                         shared library they load, glibc and
#                                         libstdc++ excepted: the base image has
#                                         them), DEST/models (the bundled model)
#   image-build.sh verify DEST            every library resolves inside DEST or to
#                                         the C/C++ runtime; the binaries start
# Environment, for the test that runs these steps outside Docker:
#   CTRLFUSE_IMAGE_CHECK=1  deps and venv check what they would install is
#                           there; build configures and dry-runs ninja
#   CTRLFUSE_STAGE_LINK=1   stage hard-links libraries instead of copying them
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BINARIES=(server/ctrlfuse-server client/ctrlfuse-client tools/ctrlfuse-eval)
# Provided by every base image (Debian, Ubuntu): glibc, the GCC runtime.
BASE_LIBS='^(ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libresolv|libutil|libmvec|libstdc\+\+|libgcc_s)\.so'

step="${1:?usage: image-build.sh deps|venv|build|stage|verify ...}"
shift
case "$step" in
  deps)
    mapfile -t pkgs < <(grep -v '^\s*#' "$ROOT/scripts/deps.txt" | sed '/^\s*$/d' |
      grep -v -x -E 'prometheus|clang-format|clang-tidy|clang|libclang-rt-14-dev|libbenchmark-dev')
    if [[ "${CTRLFUSE_IMAGE_CHECK:-0}" == 1 ]]; then
      for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
          { echo "deps: $p is not installed" >&2; exit 1; }
      done
      echo "deps: all ${#pkgs[@]} packages installed"
      exit 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
    rm -rf /var/lib/apt/lists/*
    ;;
  venv)
    venv="${1:?venv DIR}"
    pin="$(grep '^torch==' "$ROOT/scripts/requirements.txt")"
    if [[ "${CTRLFUSE_IMAGE_CHECK:-0}" == 1 ]]; then
      "$venv/bin/python" -c "import importlib.metadata as m, sys; v = m.version('torch'); sys.exit(0 if 'torch==' + v == '$pin' else 'venv: torch ' + v + ', pinned $pin')"
      echo "venv: $venv has $pin"
      exit 0
    fi
    python3 -m venv "$venv"
    # torch at its pin, everything it pulls in at the versions frozen in
    # requirements.txt (the constraint file), not whatever PyPI has today.
    "$venv/bin/pip" install -q --no-cache-dir --disable-pip-version-check \
      -c "$ROOT/scripts/requirements.txt" "$pin"
    ;;
  build)
    venv="${1:?build VENV BUILD}" build="${2:?build VENV BUILD}"
    # Resolved here, by the venv's own Python (inside the image build), never
    # by the host's.
    torch_cmake="$("$venv/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
    cmake -S "$ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCTRLFUSE_CUDA=ON \
      -DCMAKE_PREFIX_PATH="$torch_cmake" -DTorch_DIR="$torch_cmake/Torch" -DCTRLFUSE_PYTHON="$venv/bin/python"
    if [[ "${CTRLFUSE_IMAGE_CHECK:-0}" == 1 ]]; then
      ninja -C "$build" -n "${BINARIES[@]##*/}" >/dev/null
      echo "build: configured; ninja has the targets ${BINARIES[*]##*/}"
      exit 0
    fi
    ninja -C "$build" "${BINARIES[@]##*/}"
    ;;
  stage)
    build="${1:?stage BUILD DEST cpu|cuda}" dest="${2:?stage BUILD DEST cpu|cuda}" variant="${3:?cpu or cuda}"
    [[ "$variant" == cpu || "$variant" == cuda ]] || { echo "stage: variant must be cpu or cuda" >&2; exit 2; }
    rm -rf "$dest"
    mkdir -p "$dest/bin" "$dest/lib" "$dest/models"
    put() {  # put FILE DIR: copy (or hard-link) FILE's target into DIR under FILE's name
      if [[ "${CTRLFUSE_STAGE_LINK:-0}" == 1 ]]; then
        ln -f "$(readlink -f "$1")" "$2/$(basename "$1")" 2>/dev/null && return
      fi
      cp -L "$1" "$2/"
    }
    for b in "${BINARIES[@]}"; do
      cp "$build/$b" "$dest/bin/"
      ldd "$build/$b" | awk '/=> \//{print $3}'
    done | sort -u | while read -r lib; do
      [[ "$(basename "$lib")" =~ $BASE_LIBS ]] || put "$lib" "$dest/lib"
    done
    if [[ "$variant" == cuda ]]; then
      # LibTorch and cuDNN open more CUDA libraries at run time (cuDNN's
      # engines, NVRTC's builtins) than ldd sees: take the wheel's whole set.
      torch_lib="$(dirname "$(ldd "$build/server/ctrlfuse-server" | awk '/libtorch_cpu.so/{print $3}')")"
      for dir in "$torch_lib" "$torch_lib"/../../nvidia/*/lib; do
        for lib in "$dir"/*.so*; do [[ -e "$dest/lib/$(basename "$lib")" ]] || put "$lib" "$dest/lib"; done
      done
    fi
    # DT_RPATH (not RUNPATH): it also serves the libraries' own dependencies.
    for b in "${BINARIES[@]}"; do patchelf --force-rpath --set-rpath '$ORIGIN/../lib' "$dest/bin/${b##*/}"; done
    cp "$ROOT/models/tiny-demo.pth" "$ROOT/models/README.md" "$dest/models/"
    echo "stage: $variant runtime in $dest: $(ls "$dest/lib" | wc -l) libraries, $(du -sh --apparent-size "$dest" | cut -f1)"
    ;;
  verify)
    dest="${1:?verify DEST}"
    # A library outside the tree would be missing in the image.
    bad=0
    lib_dir="$(cd "$dest/lib" && pwd -P)"
    for b in "$dest"/bin/*; do
      # Every library from DEST/lib or the base set; none missing.
      while read -r name path; do
        if [[ "$path" == "not found" ]]; then echo "verify: $b: $name not found" >&2; bad=1
        elif [[ "$(readlink -f "$path")" != "$lib_dir"/* && ! "$name" =~ $BASE_LIBS ]]; then
          echo "verify: $b: $name resolves outside the image tree ($path)" >&2; bad=1
        fi
      done < <(env -i ldd "$b" | awk '/=>/{print $1, ($3 == "not" ? "not found" : $3)}')
      # --version loads every library and exits 0 (absl flags).
      env -i "$b" --version >/dev/null 2>&1 || { echo "verify: $b --version failed" >&2; bad=1; }
    done
    ((bad == 0)) && echo "verify: $dest: every library inside the tree or the C/C++ runtime"
    exit $bad
    ;;
  *) echo "unknown step '$step'" >&2; exit 2 ;;
esac
