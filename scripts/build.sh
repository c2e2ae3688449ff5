#!/usr/bin/env bash
# Configures and builds keybroker into build/ (clang when present, for -Wthread-safety
# and the libFuzzer target; g++ otherwise). Usage: scripts/build.sh [extra cmake args]
# KEYBROKER_JOBS sets the parallelism (2); KEYBROKER_TARGETS="keybroker keybrokerctl"
# builds only those targets (the Dockerfile does), everything by default;
# KEYBROKER_BUILD_DIR builds elsewhere (scripts/test.sh: build-asan/, build-tsan/).
# The cmake arguments apply when the directory is first configured. ccache is used
# when installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"

build="${KEYBROKER_BUILD_DIR:-$root/build}"
if [ ! -f "$build/CMakeCache.txt" ]; then
  compilers=()
  if command -v clang++ >/dev/null 2>&1; then
    compilers=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
  fi
  if command -v ccache >/dev/null 2>&1; then
    compilers+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${compilers[@]}" "$@"
fi
targets=()
for target in ${KEYBROKER_TARGETS:-}; do targets+=(--target "$target"); done
cmake --build "$build" -j "${KEYBROKER_JOBS:-2}" "${targets[@]}"
