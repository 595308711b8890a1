#!/usr/bin/env bash
# Evaluates a tiny checkpoint on held-out synthetic scenes (seed 1000: never
# used in training, which draws from --seed 1) with ctrlfuse-eval, beside the
# pixel-average and pixel-maximum baselines computed the same way, and
# measures prompt control. The model is scored prompted with the scenes'
# masks and with no prompt; bench/fusion_loss.py (python3-scipy) adds the
# release's fusion loss of every row.
# usage: bench/evaluate_demo_model.sh CHECKPOINT OUT_DIR
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
CKPT="$1"
OUT="$2"
B="$BUILD_DIR"
rm -rf "$OUT" && mkdir -p "$OUT"
"$B/tools/ctrlfuse-scenes" --out "$OUT/scenes" --count 40 --seed 1000 --width 320 --height 240 >/dev/null
"$B/server/ctrlfuse-server" --port 0 --metrics_port 0 --host 127.0.0.1 --checkpoint "$CKPT" --warmup_sizes 320x240 \
  >"$OUT/server.out" 2>"$OUT/server.log" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true' EXIT
wait_until_serving "$PID" "$OUT/server.log"
PORT="$(awk '/^port /{print $2}' "$OUT/server.out")"
"$B/client/ctrlfuse-client" --server "127.0.0.1:$PORT" batch --ir_dir "$OUT/scenes/ir" --vis_dir "$OUT/scenes/vi" \
  --mask_dir "$OUT/scenes/mask" --out_dir "$OUT/model" --masks=false --concurrency 4 >/dev/null
"$B/client/ctrlfuse-client" --server "127.0.0.1:$PORT" batch --ir_dir "$OUT/scenes/ir" --vis_dir "$OUT/scenes/vi" \
  --out_dir "$OUT/model-no-prompt" --masks=false --concurrency 4 >/dev/null
kill -TERM $PID; wait $PID || true; trap - EXIT
"$B/tools/ctrlfuse-baselines" --ir_dir "$OUT/scenes/ir" --vis_dir "$OUT/scenes/vi" \
  --average_dir "$OUT/average" --max_dir "$OUT/max" >/dev/null
ROWS=(model model-no-prompt average max)
for m in "${ROWS[@]}"; do
  "$B/tools/ctrlfuse-eval" --ir_dir "$OUT/scenes/ir" --vis_dir "$OUT/scenes/vi" --fused_dir "$OUT/$m" \
    --csv "$OUT/$m.csv" > "$OUT/$m.table"
done
echo "| fusion | $(sed -n 2p "$OUT/model.table" | cut -d'|' -f2- )"
echo "|---$(sed -n 3p "$OUT/model.table")"
for m in "${ROWS[@]}"; do echo "| $m $(sed -n 4p "$OUT/$m.table")"; done
echo
"$ROOT/bench/fusion_loss.py" "$OUT/scenes/ir" "$OUT/scenes/vi" "${ROWS[@]/#/$OUT/}" 2>/dev/null || true
echo
"$B/tools/ctrlfuse-prompt-control" --checkpoint "$CKPT" --count 40 --picture "$OUT/prompt_control.png"
