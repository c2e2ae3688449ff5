#!/usr/bin/env bash
# Builds keybroker and runs the tests with ctest; CI runs this (.ci/run).
# Build kinds (KEYBROKER_TEST_BUILDS, default "tsan asan", what CI runs):
#   tsan         build-tsan/: ThreadSanitizer, the unit tests of the concurrent parts
#                (label tsan)
#   asan         build-asan/: AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer,
#                every test (unit, integration, helm, fuzz, soak, ...)
#   plain        build/: RelWithDebInfo, every test (what scripts/run.sh builds)
# The sanitizer builds use warnings as errors (KEYBROKER_WERROR). README.md,
# "Sanitizers", says what each covers and why CI has no plain build.
# Arguments pass through to ctest (e.g. scripts/test.sh -R Edek).
# KEYBROKER_JOBS sets the parallelism (2); KEYBROKER_TEST_BUILDS picks the runs and
# their order (e.g. "plain" for a quick local run).
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
    plain) sanitize="" targets="" select=() ;;
    tsan) sanitize=thread targets=tsan_tests select=(-L tsan) ;;
    asan) sanitize=address,undefined targets="" select=() ;;
    *) echo "test.sh: unknown build '$kind' (plain, tsan, asan)" >&2; exit 2 ;;
  esac
  started=$SECONDS
  if [ "$kind" = plain ]; then
    build="$root/build"
    KEYBROKER_BUILD_DIR="$build" "$root/scripts/build.sh"
  else
    build="$root/build-$kind"
    KEYBROKER_BUILD_DIR="$build" KEYBROKER_TARGETS="$targets" "$root/scripts/build.sh" \
      "${configure[@]}" "-DKEYBROKER_SANITIZE=$sanitize"
  fi
  echo "test.sh: build-$kind built in $((SECONDS - started)) s"
  started=$SECONDS
  (cd "$build" && ctest --output-on-failure -j "$jobs" "${select[@]}" "$@") || failed+=("$kind")
  echo "test.sh: build-$kind tests ran in $((SECONDS - started)) s"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test.sh: tests failed in: ${failed[*]}" >&2
  exit 1
fi
