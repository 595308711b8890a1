#!/usr/bin/env bash
# The real Prometheus server scrapes a real ctrlfuse-server: promtool accepts
# the exposition (naming and format rules), and the scraped counters equal
# what this test sent. Usage: prometheus_scrape_test.sh BUILD_DIR
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
BUILD="$1"
T="$(mktemp -d)"
PY="${CTRLFUSE_PYTHON:?set by ctest: the venv python of scripts/setup.sh}"
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PPORT="$(free_port)"  # Prometheus' own; the server binds port 0 and prints the ones it got
cleanup() { kill -TERM ${SPID:-0} ${PPID_:-0} 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

"$BUILD/tools/ctrlfuse-scenes" --out "$T/s" --count 3 --width 64 --height 48 >/dev/null
"$BUILD/server/ctrlfuse-server" --port 0 --metrics_port 0 --host 127.0.0.1 --warmup_sizes 64x48 \
  >"$T/server.out" 2>"$T/server.log" &
SPID=$!
wait_until_serving "$SPID" "$T/server.log"
PORT="$(awk '/^port /{print $2}' "$T/server.out")"
MPORT="$(awk '/^metrics_port /{print $2}' "$T/server.out")"
C=("$BUILD/client/ctrlfuse-client" --server "127.0.0.1:$PORT" --retries 0)
for i in 0 1 2; do
  "${C[@]}" fuse --ir "$T/s/ir/000$i.png" --vis "$T/s/vi/000$i.png" --mask "$T/s/mask/000$i.png" --out_dir "$T/o" >/dev/null || exit 1
done
"${C[@]}" fuse --ir "$T/s/ir/0000.png" --vis "$T/s/vi/0001.png" --out_dir "$T/o" >/dev/null 2>&1  # same size: OK
"${C[@]}" fuse --ir "$T/s/ir/0000.png" --vis "$T/s/mask/0000.png" --text "x ." --out_dir "$T/o" >/dev/null 2>&1  # UNIMPLEMENTED

fail=0
curl -s "http://127.0.0.1:$MPORT/metrics" >"$T/metrics.txt"
if promtool check metrics <"$T/metrics.txt" >"$T/promtool.txt" 2>&1; then
  echo "ok   promtool check metrics"
else
  echo "FAIL promtool check metrics:"; cat "$T/promtool.txt"; fail=1
fi

cat >"$T/prometheus.yml" <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: ctrlfuse
    static_configs: [{targets: ["127.0.0.1:$MPORT"]}]
YML
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
  --web.listen-address="127.0.0.1:$PPORT" --log.level=error >"$T/prom.log" 2>&1 &
PPID_=$!
query() {  # prints the value of a PromQL query's first sample, or nothing
  curl -s --get "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" |
    $PY -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
fused=""
# Prometheus scrapes on its own schedule (every 1 s here) and cannot be told
# to scrape now: poll its API, with a bound (2 min) far above the interval.
for _ in $(seq 1 240); do
  fused="$(query 'ctrlfuse_images_fused_total{job="ctrlfuse"}' 2>/dev/null)"
  [[ "$fused" == "4" ]] && break
  sleep 0.5
done
check() { if [[ "$2" == "$3" ]]; then echo "ok   $1 = $2"; else echo "FAIL $1: got '$2', want '$3'"; fail=1; fi; }
check "images fused, scraped by Prometheus" "$fused" 4
check "OK Fuse requests" "$(query 'ctrlfuse_requests_total{code="OK",method="Fuse"}')" 4
check "UNIMPLEMENTED Fuse requests" "$(query 'ctrlfuse_requests_total{code="UNIMPLEMENTED",method="Fuse"}')" 1
check "batches observed" "$(query 'ctrlfuse_batch_size_count')" 4
check "up" "$(query 'up{job="ctrlfuse"}')" 1
echo "$([ $fail -eq 0 ] && echo PASSED || echo FAILED): Prometheus scrape"
exit $fail
