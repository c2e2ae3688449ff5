#!/usr/bin/env bash
# Configures and builds keybroker into build/ (clang when present, for -Wthread-safety
# and the libFuzzer target; g++ otherwise). Usage: scripts/build.sh [extra cmake args]
# KEYBROKER_JOBS sets the parallelism (2); KEYBROKER_TARGETS="keybroker keybrokerctl"
# builds only those targets (the Dockerfile does), everything by default.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"

build="$root/build"
if [ ! -f "$build/CMakeCache.txt" ]; then
  compilers=()
  if command -v clang++ >/dev/null 2>&1; then
    compilers=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
  fi
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${compilers[@]}" "$@"
fi
targets=()
for target in ${KEYBROKER_TARGETS:-}; do targets+=(--target "$target"); done
cmake --build "$build" -j "${KEYBROKER_JOBS:-2}" "${targets[@]}"
