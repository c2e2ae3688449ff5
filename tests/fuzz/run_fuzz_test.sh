#!/bin/sh
# One fuzz target's ctest entry (tests/fuzz/CMakeLists.txt):
#
#   run_fuzz_test.sh replay ENGINE BINARY TARGET SOURCE_DIR
#     runs every file of SOURCE_DIR/corpus/TARGET and SOURCE_DIR/regressions/TARGET
#     once (listed now, so a regression added needs no re-configure);
#   run_fuzz_test.sh fuzz ENGINE BINARY TARGET SOURCE_DIR SECONDS WORK_DIR
#     fuzzes briefly from a scratch copy of the corpus in WORK_DIR, with the
#     target's dictionary when it has one; a crash leaves its input in WORK_DIR.
#
# ENGINE is "libfuzzer" (BINARY is a libFuzzer binary) or "replay" (BINARY
# was linked with replay_main.cc, which only mutates at random).
set -eu
mode=$1 engine=$2 binary=$3 target=$4 source_dir=$5

inputs=$(find "$source_dir/corpus/$target" "$source_dir/regressions/$target" \
  -type f ! -name 'README*' 2>/dev/null | sort)
if [ -z "$inputs" ]; then
  echo "no inputs in $source_dir/corpus/$target" >&2
  exit 1
fi

case $mode in
  replay)
    count=$(echo "$inputs" | wc -l)
    echo "replaying $count inputs of $target"
    if [ "$engine" = libfuzzer ]; then
      # Files (not directories) as arguments: libFuzzer runs each once.
      # shellcheck disable=SC2086
      exec "$binary" -runs=1 $inputs
    fi
    # shellcheck disable=SC2086
    exec "$binary" -runs=0 $inputs
    ;;
  fuzz)
    seconds=$6 work=$7
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    cp "$source_dir/corpus/$target"/* "$work/corpus/"
    if [ "$engine" = libfuzzer ]; then
      dict=
      if [ -f "$source_dir/dictionaries/$target.dict" ]; then
        dict="-dict=$source_dir/dictionaries/$target.dict"
      fi
      # shellcheck disable=SC2086
      exec "$binary" -max_total_time="$seconds" -seed=1 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" $dict "$work/corpus"
    fi
    # shellcheck disable=SC2086
    exec "$binary" -runs=20000 $inputs
    ;;
  *)
    echo "usage: $0 replay|fuzz ENGINE BINARY TARGET SOURCE_DIR [SECONDS WORK_DIR]" >&2
    exit 2
    ;;
esac
