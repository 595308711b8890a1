# Settings shared by the scripts (sourced).
# OpenMP threads spin between parallel regions by default and steal the
# cores other pools need; PASSIVE lets them sleep (thread study in
# docs/benchmarks.md).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${CTRLFUSE_BUILD_DIR:-$ROOT/build}"
# The project's Python environment (PyPI packages of scripts/requirements.txt:
# torch, whose LibTorch we build against, and the parity references). It lives
# outside the clone, keyed by the pinned requirements, so fresh clones of the
# same commit (CI clones anew every run) reuse it instead of unpacking ~6 GB
# again; $ROOT/.venv links to it. CTRLFUSE_VENV overrides the place.
REQS_HASH="$(sha256sum "$ROOT/scripts/requirements.txt" | cut -c1-12)"
VENV="${CTRLFUSE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ctrlfuse-serve/venv-$REQS_HASH}"
PY="$VENV/bin/python"
export ROOT BUILD_DIR VENV PY
