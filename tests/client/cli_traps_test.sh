#!/usr/bin/env bash
# ctrlfuse-client and ctrlfuse-server as a new user meets them: --help lists
# the flags, `info --json` is JSON, a missing, unset or misspelt folder or an
# --out_dir that is a file is an error naming the flag (exit 2, never an
# abort), one pairing rule (by stem, case-insensitive, any extension) with
# unpaired files on both sides reported and the same exit status in batch,
# stream and load, --ir_normalization reaches the server, and the server logs
# its warm-up. Against a real server on localhost.
# Usage: cli_traps_test.sh BUILD_DIR
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
BUILD="$1"
T="$(mktemp -d)"
PY="${CTRLFUSE_PYTHON:?set by ctest: the venv python of scripts/setup.sh}"
source "$(dirname "$0")/../support/check.sh"
expect() {  # expect "what" RC PATTERN command...: exit status RC and PATTERN in its stderr+stdout
  local what="$1" rc="$2" pattern="$3"; shift 3
  "$@" >"$T/out.txt" 2>&1
  local got=$?
  if [[ $got -eq $rc ]] && grep -q -- "$pattern" "$T/out.txt"; then echo "ok   $what"
  else echo "FAIL $what: rc $got (want $rc), output:"; head -5 "$T/out.txt"; fail=1; fi
}

S="$BUILD/server/ctrlfuse-server"
expect "server --help lists its flags" 1 "--max_batch_size" "$S" --help
expect "client --help lists its flags" 1 "--wait_for_server" "$BUILD/client/ctrlfuse-client" --help

"$BUILD/tools/ctrlfuse-scenes" --out "$T/s" --count 3 --width 64 --height 48 >/dev/null
"$S" --port 0 --metrics_port -1 --host 127.0.0.1 --warmup_sizes 64x48 --max_batch_size 2 \
  >"$T/server.out" 2>"$T/server.log" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
wait_until_serving "$PID" "$T/server.log" || { echo "FAIL server did not start"; cat "$T/server.log"; exit 1; }
PORT="$(awk '/^port /{print $2}' "$T/server.out")"
C=("$BUILD/client/ctrlfuse-client" --server "127.0.0.1:$PORT" --retries 0)
check "the server logs each warm-up step (2 batch sizes at 64x48)" \
  bash -c "grep -q 'warm-up 1/2: 64x48 batch 1' '$T/server.log' && grep -q 'warm-up 2/2: 64x48 batch 2' '$T/server.log'"

"${C[@]}" info --json >"$T/info.json"
check "info --json prints JSON with the model" \
  $PY -c "import json; d=json.load(open('$T/info.json')); assert d['config']=='tiny' and d['max_batch_size']==2, d"

for cmd in batch stream load; do
  expect "$cmd without --ir_dir: exit 2, names the flag" 2 "error: --ir_dir: not set" \
    "${C[@]}" $cmd --vis_dir "$T/s/vi" --out_dir "$T/o"
  expect "$cmd with a misspelt --vis_dir: exit 2, names it" 2 "error: --vis_dir: '$T/s/vis' does not exist" \
    "${C[@]}" $cmd --ir_dir "$T/s/ir" --vis_dir "$T/s/vis" --out_dir "$T/o"
  expect "$cmd with a missing --mask_dir: exit 2 (never a silent unprompted run)" 2 "error: --mask_dir: '$T/nomask' does not exist" \
    "${C[@]}" $cmd --ir_dir "$T/s/ir" --vis_dir "$T/s/vi" --mask_dir "$T/nomask" --out_dir "$T/o"
done
touch "$T/afile"
expect "fuse --out_dir at a file: exit 2, no abort" 2 "error: --out_dir: '$T/afile' exists and is not a folder" \
  "${C[@]}" fuse --ir "$T/s/ir/0000.png" --vis "$T/s/vi/0000.png" --out_dir "$T/afile"
expect "batch --out_dir at a file: exit 2" 2 "error: --out_dir: '$T/afile' exists and is not a folder" \
  "${C[@]}" batch --ir_dir "$T/s/ir" --vis_dir "$T/s/vi" --out_dir "$T/afile"
expect "fuse without --vis: exit 2" 2 "fuse needs --ir and --vis" "${C[@]}" fuse --ir "$T/s/ir/0000.png"

# One pairing rule: IR/0000.PNG pairs with vi/0000.jpg; extra files on both sides.
mkdir -p "$T/p/ir" "$T/p/vi"
cp "$T/s/ir/0000.png" "$T/p/ir/0000.PNG"
$PY -c "from PIL import Image; Image.open('$T/s/vi/0000.png').save('$T/p/vi/0000.jpg', quality=95)"
cp "$T/s/ir/0001.png" "$T/p/ir/only_ir.png"
cp "$T/s/vi/0002.png" "$T/p/vi/only_vi.png"
for cmd in batch stream load; do
  extra=(); [[ $cmd == load ]] && extra=(--count 2)
  "${C[@]}" $cmd --ir_dir "$T/p/ir" --vis_dir "$T/p/vi" --out_dir "$T/po_$cmd" "${extra[@]}" >"$T/$cmd.out" 2>"$T/$cmd.err"
  rc=$?
  check "$cmd pairs 0000.PNG with 0000.jpg and fuses it" \
    bash -c "[[ $cmd == load ]] && grep -q 'OK 2' '$T/$cmd.out' || test -s '$T/po_$cmd/0000.png'"
  check "$cmd reports the infrared file without a partner" \
    grep -q "problem: only_ir.png: no visible image with the stem 'only_ir' in --vis_dir" "$T/$cmd.err"
  check "$cmd reports the visible file without a partner" \
    grep -q "problem: only_vi.png: no infrared image with the stem 'only_vi' in --ir_dir" "$T/$cmd.err"
  check "$cmd exits 1 for unpaired files (the same in every command)" test $rc -eq 1
done

# --ir_normalization reaches the server (which names the field it refuses).
expect "a bad --ir_normalization comes back INVALID_ARGUMENT naming the field" 1 "INVALID_ARGUMENT.*ir_normalization" \
  "${C[@]}" fuse --ir "$T/s/ir/0000.png" --vis "$T/s/vi/0000.png" --ir_normalization bogus --out_dir "$T/o"
expect "a good one fuses" 0 "0000: OK" \
  "${C[@]}" fuse --ir "$T/s/ir/0000.png" --vis "$T/s/vi/0000.png" --ir_normalization minmax --out_dir "$T/o"

echo "$([ $fail -eq 0 ] && echo PASSED || echo FAILED): CLI traps"
exit $fail
