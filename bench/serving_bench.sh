#!/usr/bin/env bash
# Serving benchmark: served throughput under 16 concurrent clients beside the
# model-only throughput at the same batch size (their ratio is the server's
# efficiency), and the re-prompt latency with and without the encode cache.
# Two placements: "shared", the server (all cores) and the load client on the
# same cores, and, where there are two cores or more, "client apart": the
# server and the model-only run on core 0 with one intra-op thread, the
# client on core 1, as a client on its own machine would leave the server's
# cores to it (the efficiency then counts the server's own work: gRPC,
# decode, batching, encode).
# usage: bench/serving_bench.sh [BUILD_DIR]   (tiny model, 320x240 scenes, CPU)
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
B="${1:-$BUILD_DIR}"
T="$(mktemp -d)"
# Only a server this script started (`kill 0` would signal the whole group).
trap '{ [[ -n "${PID:-}" ]] && kill -TERM "$PID"; } 2>/dev/null || true; rm -rf "$T"' EXIT
"$B/tools/ctrlfuse-scenes" --out "$T/s" --count 16 --width 320 --height 240 >/dev/null
IR="$T/s/ir/0000.png" VIS="$T/s/vi/0000.png" MASK="$T/s/mask/0000.png"
# The model-only run sees the same scenes the server gets, as the engine
# would feed them (not noise).
"$PY" "$(dirname "$0")/scene_tensors.py" "$T/s" "$T/scenes.pth" >/dev/null
BUNDLED="$(cd "$(dirname "$0")/.." && pwd)/models/tiny-demo.pth"

SERVER_CPUS=() CLIENT_CPUS=()  # taskset prefixes of the placement being run
start_server() {  # args: extra flags
  rm -f "$T/out" "$T/log"  # the previous server's "ready" line and port must not be read
  "${SERVER_CPUS[@]}" "$B/server/ctrlfuse-server" --port 0 --metrics_port 0 --host 127.0.0.1 --warmup_sizes 320x240 \
    --checkpoint "$BUNDLED" "$@" \
    >"$T/out" 2>"$T/log" &
  PID=$!
  wait_until_serving "$PID" "$T/log"
  PORT="$(awk '/^port /{print $2}' "$T/out")"
}
stop_server() { kill -TERM "$PID"; wait "$PID" || true; }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }

throughput() {  # args: placement label, intra-op threads (0: all cores)
  local label="$1" threads="$2"
  for mb in 1 4; do
    # ... and the weights it serves (the bundled demo model, the server's
    # default for tiny): a trained checkpoint does not cost what random
    # weights do (its subnormals, docs/performance.md).
    model=$(CTRLFUSE_BENCH_INPUTS="$T/scenes.pth" CTRLFUSE_BENCH_CHECKPOINT="$BUNDLED" \
      "${SERVER_CPUS[@]}" "$B/bench/model_bench" tiny 320 240 "$mb" 3 "$threads" | awk -F'|' '{gsub(/ /,"",$8); print $8}')
    # Cache off: every request runs the encoder, as distinct pairs would.
    start_server --max_batch_size "$mb" --max_queue_delay_ms 20 --cache_mb 0 --threads "$threads"
    # 16 distinct pairs in turn (identical pairs in a batch would be encoded once).
    "${CLIENT_CPUS[@]}" "$B/client/ctrlfuse-client" --server "127.0.0.1:$PORT" load --ir_dir "$T/s/ir" \
      --vis_dir "$T/s/vi" --mask_dir "$T/s/mask" --concurrency 16 --count 96 --masks=false --json >"$T/load.json"
    stop_server
    served=$(json "$T/load.json" "'%.2f' % d['throughput']")
    p50=$(json "$T/load.json" "'%.0f' % (1000*d['latency_seconds']['p50'])")
    p99=$(json "$T/load.json" "'%.0f' % (1000*d['latency_seconds']['p99'])")
    mean_batch=$(json "$T/load.json" "'%.2f' % (sum(int(k)*v for k,v in d['batch_sizes'].items())/sum(d['batch_sizes'].values()))")
    eff=$(/usr/bin/python3 -c "print('%.0f%%' % (100*$served/$model))")
    echo "| $label | $mb | $model | $served | $eff | $p50 | $p99 | $mean_batch |"
  done
}

echo "| placement | max batch | model-only images/s (the same 320x240 scenes, same batch) | served images/s (16 clients) | efficiency | p50 ms | p99 ms | mean batch |"
echo "|---|---|---|---|---|---|---|---|"
throughput "shared ($(nproc) cores)" 0
if [[ "$(nproc)" -ge 2 ]]; then
  SERVER_CPUS=(taskset -c 0) CLIENT_CPUS=(taskset -c 1)
  throughput "client apart (server core 0, client core 1)" 1
  SERVER_CPUS=() CLIENT_CPUS=()
fi

echo
echo "| re-prompt (same pair, new mask), 1 client | p50 ms | mean ms |"
echo "|---|---|---|"
for cache in 256 0; do
  start_server --max_batch_size 1 --max_queue_delay_ms 0 --cache_mb "$cache"
  "$B/client/ctrlfuse-client" --server "127.0.0.1:$PORT" fuse --ir "$IR" --vis "$VIS" --mask "$MASK" --out_dir "$T/o" >/dev/null
  "$B/client/ctrlfuse-client" --server "127.0.0.1:$PORT" load --ir "$IR" --vis "$VIS" --mask "$T/s/mask/0001.png" \
    --concurrency 1 --count 20 --masks=false --json >"$T/re.json"
  stop_server
  label=$([ "$cache" = 0 ] && echo "cache off (encode + decode)" || echo "cache on (decode only)")
  echo "| $label | $(json "$T/re.json" "'%.0f' % (1000*d['latency_seconds']['p50'])") | $(json "$T/re.json" "'%.0f' % (1000*d['latency_seconds']['mean'])") |"
done
