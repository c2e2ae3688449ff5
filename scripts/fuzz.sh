#!/usr/bin/env bash
# Builds the fuzz targets (tests/fuzz/, docs/fuzzing.md) with clang's
# libFuzzer, ASan and UBSan in their own build directory, and runs one,
# several or all of them:
#
#   scripts/fuzz.sh [--seconds N] [--jobs N] [--build-dir DIR] [--work-dir DIR]
#                   [--no-build] [--list] [TARGET...]
#
#   --seconds N    how long each target runs (default 300); targets run one after another
#   --jobs N       parallel libFuzzer jobs per target (-jobs/-workers; default: the cores)
#   --build-dir    default build-fuzz (git-ignored); the whole project is built with
#                  ASan and UBSan there, the code under test also with coverage
#   --work-dir     default ${XDG_CACHE_HOME:-~/.cache}/keybroker-fuzz, outside the repository:
#                  WORK/TARGET/corpus grows from run to run (seeded from tests/fuzz/corpus),
#                  WORK/TARGET/artifacts keeps what crashed, WORK/TARGET/*.log the output
#   --no-build     run what is built
#   --list         print the targets and exit
#
# At the end it prints, per target, the executions, executions per second and
# coverage, and for each input that crashed (or leaked, or timed out) its path,
# the first line that says why, and the command that replays it. Exit status 1
# when anything crashed. A crash becomes a regression by copying its input to
# tests/fuzz/regressions/TARGET/ (ctest replays those forever).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
seconds=300
jobs=$(nproc 2>/dev/null || echo 1)
build_dir=$repo/build-fuzz
work_dir=${KEYBROKER_FUZZ_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/keybroker-fuzz}
build=1
targets=()

all_targets() {
  for source in "$repo"/tests/fuzz/*_fuzz.cc; do
    basename "$source" _fuzz.cc
  done
}

# The number after the last match of PREFIX (a regular expression) in FILE, or 0.
last_number() {
  awk -v prefix="$1" 'match($0, prefix "[0-9]+") {
    v = substr($0, RSTART, RLENGTH); sub(/.*[^0-9]/, "", v) } END { print v + 0 }' "$2"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
  exit "${1:-0}"
}

while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --build-dir) build_dir=$(realpath -m "$2"); shift 2 ;;
    --work-dir) work_dir=$(realpath -m "$2"); shift 2 ;;
    --no-build) build=0; shift ;;
    --list) all_targets; exit 0 ;;
    -h|--help) usage 0 ;;
    -*) echo "unknown option $1" >&2; usage 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(all_targets)
fi
for target in "${targets[@]}"; do
  if [ ! -f "$repo/tests/fuzz/${target}_fuzz.cc" ]; then
    echo "no fuzz target '$target'; the targets are: $(all_targets | tr '\n' ' ')" >&2
    exit 2
  fi
done

if [ "$build" = 1 ]; then
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    launcher=()
    if command -v ccache >/dev/null; then
      launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    fi
    cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" \
      "-DCMAKE_C_FLAGS=-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
      "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
      "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined"
  fi
  if ! grep -q '^KEYBROKER_LIBFUZZER_LINKS:INTERNAL=1' "$build_dir/CMakeCache.txt"; then
    echo "$build_dir has no libFuzzer (clang with compiler-rt is needed)" >&2
    exit 1
  fi
  build_targets=()
  for target in "${targets[@]}"; do build_targets+=("${target}_fuzz"); done
  cmake --build "$build_dir" -j "$jobs" --target "${build_targets[@]}"
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

summary=()
crashes=()
for target in "${targets[@]}"; do
  binary=$build_dir/tests/fuzz/${target}_fuzz
  if [ ! -x "$binary" ]; then
    summary+=("$(printf '%-20s not built (kafka_record needs librdkafka++)' "$target")")
    continue
  fi
  work=$work_dir/$target
  mkdir -p "$work/corpus" "$work/artifacts"
  # Seeds and regressions join the working corpus (existing inputs are kept).
  for dir in "$repo/tests/fuzz/corpus/$target" "$repo/tests/fuzz/regressions/$target"; do
    if [ -d "$dir" ]; then cp -n "$dir"/* "$work/corpus/" 2>/dev/null || true; fi
  done
  dict=()
  if [ -f "$repo/tests/fuzz/dictionaries/$target.dict" ]; then
    dict=(-dict="$repo/tests/fuzz/dictionaries/$target.dict")
  fi
  parallel=()
  if [ "$jobs" -gt 1 ]; then parallel=(-jobs="$jobs" -workers="$jobs"); fi
  marker=$work/.started
  touch "$marker"
  rm -f "$work"/fuzz-*.log
  echo "== $target: $seconds s, $jobs job(s), corpus $work/corpus"
  (cd "$work" && "$binary" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${dict[@]}" "${parallel[@]}" \
    "$work/corpus") >"$work/run.log" 2>&1 || true

  logs=("$work/run.log")
  if [ "$jobs" -gt 1 ]; then logs=("$work"/fuzz-*.log); fi
  execs=0 rate=0 cov=0 ft=0
  for log in "${logs[@]}"; do
    [ -f "$log" ] || continue
    n=$(last_number 'stat::number_of_executed_units: *' "$log")
    r=$(last_number 'stat::average_exec_per_sec: *' "$log")
    c=$(last_number ' cov: ' "$log")
    f=$(last_number ' ft: ' "$log")
    execs=$((execs + n)) rate=$((rate + r))
    if [ "$c" -gt "$cov" ]; then cov=$c; fi
    if [ "$f" -gt "$ft" ]; then ft=$f; fi
  done
  inputs=$(find "$work/corpus" -type f | wc -l)
  found=$(find "$work/artifacts" -type f -newer "$marker" | sort)
  summary+=("$(printf '%-20s %6s s  %11s execs  %7s exec/s  cov %5s  ft %6s  corpus %5s  crashes %s' \
    "$target" "$seconds" "$execs" "$rate" "$cov" "$ft" "$inputs" "$(printf '%s' "$found" | grep -c . || true)")")
  for artifact in $found; do
    why=$(grep -h -m1 -E 'fuzz invariant broken|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' \
      "${logs[@]}" 2>/dev/null | head -1 || true)
    crashes+=("$target: $artifact"$'\n'"    why:    ${why:-see $work/run.log}"$'\n'"    replay: $binary $artifact"$'\n'"    keep:   cp $artifact $repo/tests/fuzz/regressions/$target/<what-it-shows>")
  done
done

echo
echo "== summary (work directory $work_dir)"
printf '%s\n' "${summary[@]}"
if [ ${#crashes[@]} -gt 0 ]; then
  echo
  echo "== crashes"
  printf '%s\n' "${crashes[@]}"
  exit 1
fi
