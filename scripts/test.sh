#!/usr/bin/env bash
# Builds keybroker with clang's sanitizers and runs the tests with ctest; CI runs
# this (.ci/run). Two builds, both with warnings as errors (KEYBROKER_WERROR):
#   build-tsan/  ThreadSanitizer: the unit tests (ctest label tsan, target tsan_tests)
#   build-asan/  AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer:
#                every test (unit, integration, helm, fuzz, ...)
# README.md, "Sanitizers", says what each covers. The plain build/ (scripts/run.sh,
# scripts/bench.sh) is not tested here.
# Arguments pass through to ctest (e.g. scripts/test.sh -R Edek).
# KEYBROKER_JOBS sets the parallelism (2); KEYBROKER_TEST_BUILDS picks the runs and
# their order ("tsan asan").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"

jobs=${KEYBROKER_JOBS:-2}
# -O1 with line tables only: symbolized reports at well under the compile time
# of -O2 -g (the sanitizers' own guidance is -O1 or higher for speed).
flags="-O1 -gline-tables-only -DNDEBUG"
configure=(-DKEYBROKER_WERROR=ON "-DCMAKE_C_FLAGS_RELWITHDEBINFO=$flags"
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$flags")

failed=()
for kind in ${KEYBROKER_TEST_BUILDS:-tsan asan}; do
  case "$kind" in
    tsan) sanitize=thread targets=tsan_tests select=(-L tsan) ;;
    asan) sanitize=address,undefined targets="" select=() ;;
    *) echo "test.sh: unknown build '$kind' (tsan, asan)" >&2; exit 2 ;;
  esac
  build="$root/build-$kind"
  started=$SECONDS
  KEYBROKER_BUILD_DIR="$build" KEYBROKER_TARGETS="$targets" "$root/scripts/build.sh" \
    "${configure[@]}" "-DKEYBROKER_SANITIZE=$sanitize"
  echo "test.sh: build-$kind built in $((SECONDS - started)) s"
  started=$SECONDS
  (cd "$build" && ctest --output-on-failure -j "$jobs" "${select[@]}" "$@") || failed+=("$kind")
  echo "test.sh: build-$kind tests ran in $((SECONDS - started)) s"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test.sh: tests failed in: ${failed[*]}" >&2
  exit 1
fi
