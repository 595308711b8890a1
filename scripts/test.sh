#!/usr/bin/env bash
# Sets up (if needed) and runs the whole test suite with ctest.
#   ./scripts/test.sh                 everything
#   ./scripts/test.sh -L model        one label (model, server, client, quality, train)
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$ROOT/scripts/setup.sh"
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 1200 "$@"
