#!/usr/bin/env bash
# ctrlfuse-client's commands (fuse, batch, stream, load, info) against a
# real ctrlfuse-server process on localhost. Usage: client_cli_test.sh BUILD_DIR
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
BUILD="$1"
T="$(mktemp -d)"
PY="${CTRLFUSE_PYTHON:?set by ctest: the venv python of scripts/setup.sh}"
source "$(dirname "$0")/../support/check.sh"
# Image size "WxH" of a file, via PIL.
size_of() { $PY -c "from PIL import Image; im=Image.open('$1'); print('%dx%d' % im.size)"; }

"$BUILD/tools/ctrlfuse-scenes" --out "$T/scenes" --count 4 --width 96 --height 64 >/dev/null
"$BUILD/server/ctrlfuse-server" --port 0 --metrics_port 0 --host 127.0.0.1 --warmup_sizes 96x64 \
  --max_batch_size 4 >"$T/server.out" 2>"$T/server.log" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; rm -rf "$T"' EXIT
wait_until_serving "$PID" "$T/server.log"
PORT="$(awk '/^port /{print $2}' "$T/server.out")"
C=("$BUILD/client/ctrlfuse-client" --server "127.0.0.1:$PORT" --retries 0)

# fuse: mask prompt, files out (fused + masks), colour
"${C[@]}" fuse --ir "$T/scenes/ir/0000.png" --vis "$T/scenes/vi/0000.png" --mask "$T/scenes/mask/0000.png" \
  --out_dir "$T/fuse" --colour --metrics Qabf,SSIM >"$T/fuse.txt"
check "fuse exits 0 and reports OK with metrics" grep -q "0000: OK .*Qabf=.*SSIM=" "$T/fuse.txt"
check "fuse writes a colour fused image of the input size" test "$(size_of "$T/fuse/0000.png")" = "96x64"
check "fused image has 3 channels" test "$($PY -c "from PIL import Image; print(Image.open('$T/fuse/0000.png').mode)")" = "RGB"
for m in mask mask_vis mask_ir prompt; do
  check "fuse writes $m" test "$(size_of "$T/fuse/0000_$m.png")" = "96x64"
done
check "prompt mask written back equals the input mask" \
  $PY -c "from PIL import Image; import numpy as np; a=np.asarray(Image.open('$T/fuse/0000_prompt.png')); b=np.asarray(Image.open('$T/scenes/mask/0000.png')); raise SystemExit(0 if (a==b).all() else 1)"
# boxes, points, grey output
check "fuse with boxes" "${C[@]}" fuse --ir "$T/scenes/ir/0001.png" --vis "$T/scenes/vi/0001.png" --boxes "10,10,50,40" --out_dir "$T/box"
check "box output is grey" test "$($PY -c "from PIL import Image; print(Image.open('$T/box/0001.png').mode)")" = "L"
check "fuse with points" "${C[@]}" fuse --ir "$T/scenes/ir/0001.png" --vis "$T/scenes/vi/0001.png" --points "20,20,1;60,40,0" --out_dir "$T/pts"
"${C[@]}" fuse --ir "$T/scenes/ir/0001.png" --vis "$T/scenes/vi/0001.png" --text "person ." --out_dir "$T/text" 2>"$T/text.err"
check "text prompt fails with UNIMPLEMENTED (exit 1)" test $? -eq 1
check "text error names Grounded-SAM and the flag" grep -q "UNIMPLEMENTED.*Grounded-SAM.*--grounding_checkpoint" "$T/text.err"
"${C[@]}" fuse --ir "$T/scenes/ir/0001.png" --vis "$T/scenes/vi/0001.png" --boxes "1,2,3" --out_dir "$T/bad" 2>"$T/bad.err"
check "malformed --boxes is refused before sending" grep -q "needs 4 numbers" "$T/bad.err"

# batch: pairs by name, skip existing, --overwrite, failures listed, exit code
"${C[@]}" batch --ir_dir "$T/scenes/ir" --vis_dir "$T/scenes/vi" --mask_dir "$T/scenes/mask" --out_dir "$T/batch" --concurrency 3 >"$T/b1.txt"
check "batch fuses all 4 pairs" grep -q "batch: 4 fused, 0 skipped (output exists), 0 failed" "$T/b1.txt"
check "batch wrote 4 fused images" test "$(ls "$T/batch" | grep -c '^[0-9]*\.png$')" -eq 4
"${C[@]}" batch --ir_dir "$T/scenes/ir" --vis_dir "$T/scenes/vi" --out_dir "$T/batch" >"$T/b2.txt"
check "second batch skips existing outputs" grep -q "batch: 0 fused, 4 skipped" "$T/b2.txt"
"${C[@]}" batch --ir_dir "$T/scenes/ir" --vis_dir "$T/scenes/vi" --out_dir "$T/batch" --overwrite >"$T/b3.txt"
check "--overwrite redoes them" grep -q "batch: 4 fused, 0 skipped" "$T/b3.txt"
cp "$T/scenes/ir/0000.png" "$T/scenes/ir/9999.png"
"${C[@]}" batch --ir_dir "$T/scenes/ir" --vis_dir "$T/scenes/vi" --out_dir "$T/batch" >"$T/b4.txt" 2>"$T/b4.err"
check "unpaired file makes batch exit non-zero" test $? -eq 1
check "and is counted as a problem" grep -q "batch: 0 fused, 4 skipped (output exists), 0 failed, 1 problems" "$T/b4.txt"
check "which names the file and what it lacks" grep -q "problem: 9999.png: no visible image with the stem .9999. in --vis_dir" "$T/b4.err"
rm "$T/scenes/ir/9999.png"

# stream: frames in order with per-frame status
"${C[@]}" stream --ir_dir "$T/scenes/ir" --vis_dir "$T/scenes/vi" --mask_dir "$T/scenes/mask" --out_dir "$T/stream" >"$T/s.txt"
check "stream answers every frame in order" test "$(grep -o '^[0-9]*: OK' "$T/s.txt" | tr '\n' ' ')" = "0000: OK 0001: OK 0002: OK 0003: OK "
check "stream summary" grep -q "stream: 4 frames, 0 failed" "$T/s.txt"

# load: count, concurrency, JSON report
"${C[@]}" load --ir "$T/scenes/ir/0002.png" --vis "$T/scenes/vi/0002.png" --mask "$T/scenes/mask/0002.png" \
  --count 24 --concurrency 8 --json >"$T/load.json"
check "load JSON reports 24 OK with percentiles and batches > 1" $PY -c "
import json; d=json.load(open('$T/load.json'))
l=d['latency_seconds']
assert d['requests']==24 and d['codes']=={'OK':24}, d
assert 0 < l['p50'] <= l['p90'] <= l['p95'] <= l['p99'] <= l['max'], l
assert d['throughput'] > 0
assert max(int(k) for k in d['batch_sizes']) > 1, d['batch_sizes']"
"${C[@]}" load --ir_dir "$T/scenes/ir" --vis_dir "$T/scenes/vi" --mask_dir "$T/scenes/mask" --count 8 \
  --concurrency 4 --json >"$T/load_dir.json"
check "load over a folder cycles the 4 pairs, all OK" $PY -c "
import json; d=json.load(open('$T/load_dir.json')); assert d['requests']==8 and d['codes']=={'OK':8}, d"
"${C[@]}" load --ir "$T/scenes/ir/0002.png" --vis "$T/scenes/vi/0002.png" --rate 20 --duration 1 >"$T/load.txt"
check "rate-limited load prints the table" grep -q "^throughput" "$T/load.txt"
check "info names the model" sh -c "'${C[0]}' --server 127.0.0.1:$PORT info | grep -q 'config: \"tiny\"'"

kill -TERM $PID; wait $PID
check "server exits 0 on SIGTERM" test $? -eq 0
echo "$([ $fail -eq 0 ] && echo PASSED || echo FAILED): client CLI"
exit $fail
