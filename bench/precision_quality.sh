#!/usr/bin/env bash
# What an opt-in precision costs in quality: the bundled demo model (or
# CHECKPOINT) serves the 40 held-out scenes (seed 1000) in fp32 and in
# PRECISION on DEVICE; prints the fused images' max and mean |difference|
# (grey levels) and the 13 metrics of both (ctrlfuse-eval), with deltas.
# usage: bench/precision_quality.sh [PRECISION=amp_bf16] [DEVICE=cpu] [CHECKPOINT]
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
PREC="${1:-amp_bf16}" DEV="${2:-cpu}" CKPT="${3:-$ROOT/models/tiny-demo.pth}"
B="$BUILD_DIR"
T="$(mktemp -d)"
trap '{ [[ -n "${PID:-}" ]] && kill -TERM "$PID"; } 2>/dev/null || true; rm -rf "$T"' EXIT
"$B/tools/ctrlfuse-scenes" --out "$T/scenes" --count 40 --seed 1000 --width 320 --height 240 >/dev/null
for p in fp32 "$PREC"; do
  rm -f "$T/out" "$T/log"
  "$B/server/ctrlfuse-server" --port 0 --metrics_port 0 --host 127.0.0.1 --checkpoint "$CKPT" --device "$DEV" \
    --precision "$p" --warmup_sizes 320x240 >"$T/out" 2>"$T/log" &
  PID=$!
  wait_until_serving "$PID" "$T/log"
  "$B/client/ctrlfuse-client" --server "127.0.0.1:$(awk '/^port /{print $2}' "$T/out")" batch \
    --ir_dir "$T/scenes/ir" --vis_dir "$T/scenes/vi" --mask_dir "$T/scenes/mask" --out_dir "$T/$p" \
    --masks=false --concurrency 4 >/dev/null
  kill -TERM "$PID"; wait "$PID" || true; PID=
  "$B/tools/ctrlfuse-eval" --ir_dir "$T/scenes/ir" --vis_dir "$T/scenes/vi" --fused_dir "$T/$p" --csv "$T/$p.csv" \
    >/dev/null
done
"$PY" - "$T/fp32" "$T/$PREC" "$T/fp32.csv" "$T/$PREC.csv" "$PREC" <<'PYEOF'
import csv, glob, os, sys
import numpy as np
from PIL import Image
a_dir, b_dir, a_csv, b_csv, prec = sys.argv[1:]
diffs = []
for f in sorted(glob.glob(os.path.join(a_dir, "*.png"))):
    a = np.asarray(Image.open(f), dtype=np.float64)
    b = np.asarray(Image.open(os.path.join(b_dir, os.path.basename(f))), dtype=np.float64)
    diffs.append(np.abs(a - b))
d = np.stack(diffs)
print(f"{prec} vs fp32 on {len(diffs)} scenes: fused max |diff| {d.max():.0f} grey levels, "
      f"mean {d.mean():.4f}, pixels that differ {100 * (d > 0).mean():.2f} %")
def means(path):
    rows = list(csv.DictReader(open(path)))
    keys = [k for k in rows[0] if k not in ("file", "name", "stem")]
    return {k: np.mean([float(r[k]) for r in rows]) for k in keys}
ma, mb = means(a_csv), means(b_csv)
print("| metric | fp32 | " + prec + " | delta |\n|---|---|---|---|")
for k in ma:
    print(f"| {k} | {ma[k]:.4f} | {mb[k]:.4f} | {mb[k] - ma[k]:+.5f} |")
PYEOF
