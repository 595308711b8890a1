#!/usr/bin/env bash
# The container image's build steps (scripts/image-build.sh, what the
# Dockerfile RUNs) exercised without a Docker engine: deps and venv find what
# they install, build configures from the venv's own torch, stage builds the
# CPU and CUDA runtime trees from this build, verify finds every library
# inside them, and the staged server and client, run with an empty
# environment as the image runs them, serve and fuse a pair; hadolint passes
# the Dockerfile (and fails a broken one). Usage: image_build_test.sh BUILD_DIR
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
BUILD="$1"
T="$(mktemp -d -p "$BUILD" .image-test.XXXXXX)"  # beside the build: same file system, hard links
fail=0
SPID=""
trap '[[ -n "$SPID" ]] && kill -TERM "$SPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
check() {  # check "what" command...
  local what="$1"; shift
  if "$@" >"$T/check.log" 2>&1; then echo "ok   $what"; else echo "FAIL $what"; cat "$T/check.log"; fail=1; fi
}
S="$ROOT/scripts/image-build.sh"
export CTRLFUSE_IMAGE_CHECK=1 CTRLFUSE_STAGE_LINK=1

check "deps: every build package is installed" "$S" deps
check "venv: the venv holds the pinned torch" "$S" venv "$VENV"
check "build: configures against the venv's torch, with the three targets" "$S" build "$VENV" "$T/build"
check "build: the image's REVISION argument names the build (no .git in a build context)" \
  bash -c "CTRLFUSE_REVISION=rev-from-docker ninja -C '$T/build' ctrlfuse_revision &&
           grep -q '\"rev-from-docker\"' '$T/build/server/generated/build_revision.h'"
for v in cpu cuda; do
  check "stage $v" "$S" stage "$BUILD" "$T/$v" "$v"
  check "verify $v: every library inside the tree" "$S" verify "$T/$v"
done
check "the CUDA tree has the libraries opened at run time (cuDNN engines)" \
  bash -c "ls '$T/cuda/lib' | grep -q '^libcudnn_engines'"
check "the CPU tree has only what the binaries link" bash -c "! ls '$T/cpu/lib' | grep -q '^libcudnn_engines'"
check "staged binaries look in \$ORIGIN/../lib" \
  bash -c "readelf -d '$T/cpu/bin/ctrlfuse-server' | grep -q 'RPATH.*\[\$ORIGIN/../lib\]'"

# The staged CPU tree runs as the image does: empty environment but the
# image's ENV, the entrypoint's --bundled_model.
"$S" stage "$BUILD" "$T/cpu" cpu >/dev/null  # fresh: nothing from the checks above
"$BUILD/tools/ctrlfuse-scenes" --out "$T/s" --count 1 --width 64 --height 48 >/dev/null
env -i PATH="$T/cpu/bin:/usr/bin:/bin" OMP_WAIT_POLICY=PASSIVE ctrlfuse-server \
  --bundled_model="$T/cpu/models/tiny-demo.pth" --host 127.0.0.1 --port 0 --metrics_port 0 \
  --warmup_sizes 64x48 --max_batch_size 1 >"$T/server.out" 2>"$T/server.log" &
SPID=$!
if wait_until_serving "$SPID" "$T/server.log"; then
  PORT="$(awk '/^port /{print $2}' "$T/server.out")"
  C=(env -i "$T/cpu/bin/ctrlfuse-client" --server "127.0.0.1:$PORT" --retries 0)
  check "staged server loaded the staged bundled model" grep -q "checkpoint=$T/cpu/models/tiny-demo.pth" "$T/server.log"
  check "staged client: health (the HEALTHCHECK command) is SERVING" \
    bash -c "[[ \"\$(${C[*]} health)\" == SERVING ]]"
  check "staged client fuses a pair through the staged server" \
    "${C[@]}" fuse --ir "$T/s/ir/0000.png" --vis "$T/s/vi/0000.png" --mask "$T/s/mask/0000.png" --out_dir "$T/o"
  check "... and the fused image is there" test -s "$T/o/0000.png"
  kill -TERM "$SPID"; wait "$SPID"; rc=$?; SPID=""
  check "staged server drains and exits 0 on SIGTERM" test "$rc" -eq 0
else
  echo "FAIL the staged server did not start:"; cat "$T/server.log"; fail=1
fi

HADOLINT="$DEPLOY_VENV/bin/hadolint"
check "hadolint passes the Dockerfile (no finding at all, info included)" \
  "$HADOLINT" --no-color --failure-threshold info "$ROOT/Dockerfile"
# The lint is live: a root runtime stage with an unpinned pip install fails.
printf 'FROM debian:12\nRUN pip install torch\nUSER root\n' >"$T/Dockerfile.bad"
"$HADOLINT" --no-color --failure-threshold warning "$T/Dockerfile.bad" >"$T/bad.txt" 2>&1
check "hadolint fails a broken Dockerfile (DL3013 unpinned pip, DL3002 root)" \
  bash -c "[[ $? -ne 0 ]] && grep -q DL3013 '$T/bad.txt' && grep -q DL3002 '$T/bad.txt'"
check ".dockerignore keeps build trees and environments out of the context" \
  bash -c "grep -qx build '$ROOT/.dockerignore' && grep -qx .venv '$ROOT/.dockerignore' && grep -qx .git '$ROOT/.dockerignore'"

echo "$([ $fail -eq 0 ] && echo PASSED || echo FAILED): image build steps"
exit $fail
