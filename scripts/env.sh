# Runtime settings shared by the scripts (sourced).
# OpenMP threads spin between parallel regions by default and then fight
# OpenBLAS's pool; PASSIVE lets them sleep. With that, both pools at full
# width measured best: SAM's ViT is matmul-bound and LibTorch calls OpenBLAS
# outside its own parallel regions, so the pools take turns (vit_b 17.4 s vs
# 21.7 s with OpenBLAS at 1 thread; tiny 4% slower; docs/benchmarks.md).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-$(nproc)}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${CTRLFUSE_BUILD_DIR:-$ROOT/build}"
export ROOT BUILD_DIR
