#!/usr/bin/env bash
# Trains the bundled demo model (models/tiny-demo.pth) from nothing, the way
# it was made: three ctrlfuse-train phases on synthetic scenes, all seeded.
# usage: bench/train_demo_model.sh OUT_DIR     (about 1.5 h on a 2-core CPU)
#
# 1. fusion_ref + segmentation only, SAM training from scratch through the
#    RPE's tokens: the segmentation path has to leave its "no mask anywhere"
#    plateau (about 1,400 steps) before the fused branch can learn anything.
# 2. every term, pixel term x3 (see docs/training.md: with the release's
#    weights the fused image outside the mask is pulled to max(vis, ir) by
#    two terms and to the average by one, so a prompted and an unprompted
#    target come out alike), SAM still training.
# 3. the box/point embeddings of SAM's prompt encoder alone, on box prompts,
#    so box and point prompts work too (nothing else moves).
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
OUT="$1"
T="$BUILD_DIR/tools/ctrlfuse-train"
mkdir -p "$OUT"
COMMON=(--config tiny --synthetic 192x144 --lr 1e-3)
"$T" "${COMMON[@]}" --synthetic_prompts class --loss_weights fusion_fused=0,pixel=0 \
  --steps 1500 --checkpoint_every 500 --seed 1 --out "$OUT/phase1"
"$T" "${COMMON[@]}" --synthetic_prompts class --init "$OUT/phase1/final.pth" --sam train --loss_weights pixel=3 \
  --lr_decay_every 2500 --steps 6000 --checkpoint_every 500 --seed 2 --out "$OUT/phase2"
"$T" "${COMMON[@]}" --synthetic_prompts instance --init "$OUT/phase2/final.pth" \
  --sam_pretrain_steps 1500 --sam_pretrain_points_only --steps 0 --seed 3 --out "$OUT/phase3"
cp "$OUT/phase3/sam_pretrained.pth" "$OUT/tiny-demo.pth"
"$ROOT/bench/plot_train_log.py" "$OUT/loss_curve.png" "$OUT/phase1/train_log.csv" "$OUT/phase2/train_log.csv"
echo "trained: $OUT/tiny-demo.pth"
