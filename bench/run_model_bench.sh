#!/usr/bin/env bash
# Runs the model benchmark cases (one process each) and prints markdown
# tables: the cases, then the thread study (LibTorch intra-op threads x
# OpenMP wait policy; the wheel's LibTorch runs its matrix products in MKL
# on the same OpenMP pool). usage: bench/run_model_bench.sh [BUILD_DIR]
# (~15 min on 2 cores)
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
echo "Thread settings, forward s | encode s | decode s:"
echo "| case | 2 threads, PASSIVE (default) | 1 thread, PASSIVE | 2 threads, ACTIVE |"
echo "|---|---|---|---|"
for c in "tiny 640 480 1 3" "vit_b 256 256 1 2"; do
  a=$(OMP_WAIT_POLICY=PASSIVE "$B" $c 2 | cut -d'|' -f5,6,7)
  b=$(OMP_WAIT_POLICY=PASSIVE "$B" $c 1 | cut -d'|' -f5,6,7)
  d=$(OMP_WAIT_POLICY=ACTIVE "$B" $c 2 | cut -d'|' -f5,6,7)
  echo "| ${c% *} |$a|$b|$d|"
done
