#!/usr/bin/env bash
# Installs what is missing, builds ferry the ways users build it (gcc
# Release, gcc RelWithDebInfo, clang Release) with warnings as errors, builds
# it again with AddressSanitizer and UndefinedBehaviorSanitizer, checks
# formatting, and runs every unit and integration test on the sanitizer
# build.  This is the README's test command and what CI runs.
# deploy/test.sh [--no-sanitize] [ctest args...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

sanitize=ON
if [ "${1:-}" = "--no-sanitize" ]; then sanitize=OFF; shift; fi
build=${FERRY_BUILD_DIR:-$top/build-test}

"$top/deploy/install-deps.sh"

# What users and packagers build.  -O2 and -O3 see warnings (maybe
# uninitialized, for one) that a Debug build never shows, and clang warns
# where gcc does not; with FERRY_WERROR=ON any of them fails CI here, while a
# user's build (FERRY_WERROR defaults to OFF) still succeeds.
for variant in gcc:Release gcc:RelWithDebInfo clang:Release; do
  cc=${variant%%:*} type=${variant#*:}
  dir=$build-$cc-$type
  t0=$SECONDS
  cmake -S "$top" -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE="$type" \
    -DFERRY_WERROR=ON >/dev/null
  if ! cmake --build "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1; then
    grep -E -A3 'error|warning' "$dir/build.log" | head -40 >&2
    echo "test.sh: the $cc $type build with -Werror failed (log: $dir/build.log)" >&2
    exit 1
  fi
  echo "test.sh: $cc $type build with -Werror: clean ($((SECONDS - t0)) s)"
done

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DFERRY_SANITIZE=$sanitize \
  -DFERRY_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
cmake --build "$build" --target format-check

# Leak detection stays on: ferry must free what it allocates, in tests too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

ctest --test-dir "$build" --output-on-failure -j2 "$@"
