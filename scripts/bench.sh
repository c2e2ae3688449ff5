#!/usr/bin/env bash
# Builds and runs every benchmark comparison (not part of the test suite) and
# prints one markdown table of measured figures against their baselines, with
# the machine, the date and the commit:
#
#   | comparison | measured | baseline | ratio | target | met |
#
# Each benchmark binary is run with --summary (its rows on stdout, the rest of
# what it says in build/bench/NAME.log): sdk_throughput (the SDK's Encrypt and
# Decrypt against raw AES-GCM), broker_load (the broker against a bare gRPC
# echo server), kafka_producer_bench (EncryptingProducer against plain
# librdkafka; broker and Key Vault calls per million records) and broker_rss
# (the broker's memory). Results go in docs/benchmarks.md.
#
# Usage: scripts/bench.sh                       the table
#        scripts/bench.sh --hot-paths [flags]   the older Google Benchmark run
#                                               (hot_paths_bench, flags passed on)
# KEYBROKER_JOBS sets the build's parallelism (2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
jobs="${KEYBROKER_JOBS:-2}"

# Build output goes to stderr: stdout is the table.
"$root/scripts/install-deps.sh" >&2

if [ "${1:-}" = "--hot-paths" ]; then
  shift
  if ! dpkg-query -W -f='${Status}' libbenchmark-dev 2>/dev/null | grep -q "install ok installed"; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libbenchmark-dev
  fi
  "$root/scripts/build.sh"
  # Configured before libbenchmark-dev was there: look for it again.
  cmake "$build" >/dev/null
  cmake --build "$build" -j "$jobs" --target hot_paths_bench
  # The in-process broker's log lines (one audit line per RPC) go to a file, as
  # a container runtime would take them from a pipe; the figures go to stdout.
  log="$build/bench/broker-log.jsonl"
  echo "bench: broker log lines in $log" >&2
  exec "$build/bench/hot_paths_bench" --benchmark_min_time=1 "$@" 2>"$log"
fi
if [ $# -gt 0 ]; then
  echo "usage: scripts/bench.sh [--hot-paths [google-benchmark flags]]" >&2
  exit 2
fi

# The benchmarks, in the order they run. Some arrive with other work; one
# that this tree does not define yet is named and skipped.
benchmarks=(sdk_throughput broker_load kafka_producer_bench broker_rss)

KEYBROKER_TARGETS=keybroker "$root/scripts/build.sh" >&2
cmake "$build" >/dev/null  # pick up benchmark targets added since build/ was configured
defined=$(ninja -C "$build" -t targets all | sed -n 's/^\([A-Za-z0-9_]*\): .*/\1/p')
present=()
missing=()
for name in "${benchmarks[@]}"; do
  if grep -qx "$name" <<<"$defined"; then present+=("$name"); else missing+=("$name"); fi
done
targets=()
for name in "${present[@]}"; do targets+=(--target "$name"); done
if [ ${#targets[@]} -gt 0 ]; then
  cmake --build "$build" -j "$jobs" "${targets[@]}" >&2
fi

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
echo "## Benchmarks, $(date -u +%Y-%m-%d)"
echo
echo "Machine: ${cpu:-unknown CPU}, nproc $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg)" \
  "at the start; commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)."
echo
echo "| comparison | measured | baseline | ratio | target | met |"
echo "| --- | --- | --- | --- | --- | --- |"
failed=0
for name in "${present[@]}"; do
  binary=$(find "$build" -name "$name" -type f -perm -u+x -print -quit)
  log="$build/bench/$name.log"
  mkdir -p "$(dirname "$log")"
  if ! "$binary" --summary 2>"$log"; then
    echo "| $name | failed: see $log | - | - | - | no |"
    failed=1
  fi
done
echo
for name in "${missing[@]}"; do
  echo "bench: $name is not defined in this tree yet (it comes with other work on issue 12);" \
    "its rows are missing above" >&2
done
echo "bench: each benchmark's details are in $build/bench/NAME.log" >&2
exit "$failed"
