#!/usr/bin/env bash
# Builds keybroker and runs every test (unit, integration, short fuzz) with ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j "${KEYBROKER_JOBS:-2}" "$@"
