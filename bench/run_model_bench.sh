#!/usr/bin/env bash
# Runs the model benchmark cases (one process each) and prints a markdown
# table. usage: bench/run_model_bench.sh [BUILD_DIR]  (takes ~15 min on 2 cores)
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
B="${1:-$BUILD_DIR}/bench/model_bench"
echo "| config | size | batch | forward s | encode s | decode s | images/s | peak RSS GiB |"
echo "|---|---|---|---|---|---|---|---|"
for c in "tiny 256 256 1 5" "tiny 256 256 4 3" "tiny 640 480 1 3" "tiny 640 480 4 2" \
         "vit_b 256 256 1 2" "vit_b 256 256 4 1" "vit_b 640 480 1 1" "vit_b 640 480 4 1"; do
  "$B" $c
done
echo
echo "Thread settings (LibTorch intra-op threads x OpenBLAS threads), forward s:"
echo "| case | 2 x 1 (default) | 1 x 1 | 2 x 2 |"
echo "|---|---|---|---|"
for c in "tiny 640 480 1 3" "vit_b 256 256 1 2"; do
  a=$(OPENBLAS_NUM_THREADS=1 "$B" $c 2 | cut -d'|' -f5)
  b=$(OPENBLAS_NUM_THREADS=1 "$B" $c 1 | cut -d'|' -f5)
  d=$(OPENBLAS_NUM_THREADS=2 "$B" $c 2 | cut -d'|' -f5)
  echo "| ${c% *} |$a|$b|$d|"
done
