#!/usr/bin/env bash
# Builds and runs the hot-path benchmarks (not part of the test suite).
# Usage: scripts/bench.sh [google-benchmark flags]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
if ! dpkg-query -W -f='${Status}' libbenchmark-dev 2>/dev/null | grep -q "install ok installed"; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q libbenchmark-dev
fi
"$root/scripts/build.sh"
cmake --build "$root/build" -j "${KEYBROKER_JOBS:-2}" --target hot_paths_bench
# The in-process broker's log lines (one audit line per RPC) go to a file, as
# a container runtime would take them from a pipe; the figures go to stdout.
log="$root/build/bench/broker-log.jsonl"
echo "bench: broker log lines in $log" >&2
exec "$root/build/bench/hot_paths_bench" --benchmark_min_time=1 "$@" 2>"$log"
