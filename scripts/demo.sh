#!/usr/bin/env bash
# The main job: set up if needed, start ctrlfuse-server with the bundled
# model on localhost, fuse the bundled demo scenes with ctrlfuse-client
# using every prompt kind the server supports, write fused images, masks
# and a contact sheet to out/, print the throughput and the metrics URL,
# stop the server.
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$ROOT/scripts/setup.sh"
cd "$ROOT"

PORT="${CTRLFUSE_PORT:-50051}"
METRICS_PORT="${CTRLFUSE_METRICS_PORT:-9464}"
BIN="$BUILD_DIR"
OUT="$ROOT/out"
rm -rf "$OUT"
mkdir -p "$OUT"

# Demo scenes: the bundled ones, or regenerate them (deterministic, seed 1).
SCENES="$ROOT/data/demo"
if [[ ! -d "$SCENES/ir" ]]; then
  SCENES="$OUT/scenes"
  "$BIN/tools/ctrlfuse-scenes" --out "$SCENES" --count 6 --seed 1 >/dev/null
fi

if [[ -f "$ROOT/models/tiny-demo.pth" ]]; then
  echo "demo: model = bundled tiny demo model (models/tiny-demo.pth)"
else
  echo "demo: model = tiny configuration with SEEDED RANDOM weights (untrained: the fused images show the"
  echo "      pipeline working end to end, not fusion quality; see models/README.md)"
fi

"$BIN/server/ctrlfuse-server" --port "$PORT" --metrics_port "$METRICS_PORT" --host 127.0.0.1 \
  --max_batch_size 4 --max_queue_delay_ms 10 --warmup_sizes 320x240 >"$OUT/server.out" 2>"$OUT/server.log" &
SERVER_PID=$!
trap 'kill -TERM $SERVER_PID 2>/dev/null || true' EXIT
wait_until_serving "$SERVER_PID" "$OUT/server.log" 120 ||
  { cat "$OUT/server.log"; echo "demo: server exited or was not ready after 120 s" >&2; exit 1; }
echo "demo: server ready on 127.0.0.1:$PORT"

CLIENT=("$BIN/client/ctrlfuse-client" --server "127.0.0.1:$PORT")
# Every output in grey, so that the contact sheet compares like with like.
echo "demo: mask prompts, all scenes (batch):"
"${CLIENT[@]}" batch --ir_dir "$SCENES/ir" --vis_dir "$SCENES/vi" --mask_dir "$SCENES/mask" \
  --out_dir "$OUT/fused" --concurrency 6 | sed 's/^/  /'
echo "demo: no prompt, all scenes (batch), the reference the prompts are compared with:"
"${CLIENT[@]}" batch --ir_dir "$SCENES/ir" --vis_dir "$SCENES/vi" --out_dir "$OUT/none" --concurrency 6 \
  | sed 's/^/  /'
echo "demo: box and point prompts on each scene's first target (SAM turns them into masks):"
for f in "$SCENES"/ir/*; do
  f="$(basename "$f")"
  box="$(awk -F'\t' -v f="$f" '$1==f && $8==1 {print $4","$5","$4+$6","$5+$7; exit}' "$SCENES/labels.tsv")"
  pt="$(awk -F'\t' -v f="$f" '$1==f && $8==1 {print int($4+$6/2)","int($5+$7/2)",1"; exit}' "$SCENES/labels.tsv")"
  [[ -n "$box" ]] || continue
  "${CLIENT[@]}" fuse --ir "$SCENES/ir/$f" --vis "$SCENES/vi/$f" --boxes "$box" --out_dir "$OUT/box" >/dev/null
  "${CLIENT[@]}" fuse --ir "$SCENES/ir/$f" --vis "$SCENES/vi/$f" --points "$pt" --out_dir "$OUT/points" >/dev/null
done
echo "  $(ls "$OUT/box" | grep -c '_prompt.png') scenes with a box prompt, $(ls "$OUT/points" | grep -c '_prompt.png') with a point prompt"

first="$(ls "$SCENES/ir" | head -1)"
stem="${first%.*}"
echo "demo: one box prompt with quality metrics, scene $stem:"
box="$(awk -F'\t' -v f="$first" '$1==f && $8==1 {print $4","$5","$4+$6","$5+$7; exit}' "$SCENES/labels.tsv")"
"${CLIENT[@]}" fuse --ir "$SCENES/ir/$first" --vis "$SCENES/vi/$first" --boxes "$box" \
  --out_dir "$OUT/box_metrics" --metrics Qabf,SSIM,EN --masks=false | sed 's/^/  /'
echo "demo: text prompt (Grounded-SAM is not built in yet; the server says so):"
"${CLIENT[@]}" fuse --ir "$SCENES/ir/$first" --vis "$SCENES/vi/$first" --text "person ." --out_dir "$OUT/text" 2>&1 \
  | sed 's/^/  /' || true
echo "demo: the scenes as a video stream (FuseStream, in order):"
"${CLIENT[@]}" stream --ir_dir "$SCENES/ir" --vis_dir "$SCENES/vi" --mask_dir "$SCENES/mask" \
  --out_dir "$OUT/stream" --masks=false | sed 's/^/  /'

"$BIN/tools/ctrlfuse-contact-sheet" --ir_dir "$SCENES/ir" --vis_dir "$SCENES/vi" --none_dir "$OUT/none" \
  --prompted "mask=$OUT/fused,box=$OUT/box,points=$OUT/points" --truth_dir "$SCENES/mask" \
  --out "$OUT/contact_sheet.png" \
  | tee "$OUT/contact_sheet.txt" | sed 's/^/demo: /'
cat <<TEXT
demo: what the bundled model can and cannot do (it is the tiny configuration, trained here on synthetic
      scenes; docs/training.md): a prompt steers the fusion by a few grey levels (the lines above; the
      contact sheet's last column of each prompt shows where, amplified), towards the prompted CLASS
      (a person prompt lightens every person, not one of them). Its small SAM turns boxes and points into
      masks only sometimes: a box or point whose mask is empty, covers most of the image or lies off the
      target is marked unusable in the sheet, not shown as if it worked. For real prompt control load the official ViT-H
      checkpoint (README: Model configurations and checkpoints).
TEXT

echo "demo: re-prompt throughput, 16 concurrent clients over the scenes (their encodings are cached"
echo "      from the runs above, so this is the interactive loop's cost; bench/serving_bench.sh measures cold):"
"${CLIENT[@]}" load --ir_dir "$SCENES/ir" --vis_dir "$SCENES/vi" --mask_dir "$SCENES/mask" \
  --concurrency 16 --count 64 --masks=false | sed 's/^/  /'
echo "demo: metrics at http://127.0.0.1:$METRICS_PORT/metrics, e.g.:"
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | grep -E '^ctrlfuse_(images_fused_total|batch_size_(sum|count)|encode_cache_(hits|misses)_total) ' | sed 's/^/  /'

kill -TERM $SERVER_PID
wait $SERVER_PID || true
trap - EXIT
echo "demo: outputs in $OUT (fused/ mask prompts, none/, box/, points/, stream/, contact_sheet.png); server stopped"
