#!/usr/bin/env bash
# The Python client package as a user installs it: `pip install` of
# clients/python (its gRPC stubs generated from proto/ while it builds), then
# its pytest suite against real servers.
# Usage: python_client_test.sh PYTHON BUILD_DIR   (PYTHON: scripts/requirements-pyclient.txt's venv)
set -euo pipefail
PYTHON="$1" BUILD="$2"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
# Built from a copy (setuptools builds in the source tree); the package finds
# proto/ two levels up, as in the checkout.
mkdir -p "$T/src/clients"
cp -r "$ROOT/proto" "$T/src/proto"
cp -r "$ROOT/clients/python" "$T/src/clients/python"
rm -rf "$T/src/clients/python/build" "$T/src/clients/python"/*.egg-info
"$PYTHON" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall \
  "$T/src/clients/python"
cd "$T"  # import the installed package, not the checkout's sources
CTRLFUSE_BUILD_DIR="$BUILD" "$PYTHON" -m pytest -q -p no:cacheprovider "$ROOT/clients/python/tests"
