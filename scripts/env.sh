# Runtime settings shared by the scripts (sourced).
# OpenMP threads spin between parallel regions by default and fight
# OpenBLAS's own pool on 2 cores; PASSIVE lets them sleep. LibTorch
# parallelises convolutions itself, so OpenBLAS runs single-threaded inside
# it (both at full width oversubscribe the cores; docs/benchmarks.md).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${CTRLFUSE_BUILD_DIR:-$ROOT/build}"
export ROOT BUILD_DIR
