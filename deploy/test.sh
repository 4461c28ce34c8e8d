#!/usr/bin/env bash
# Installs what is missing, builds ferry with AddressSanitizer and
# UndefinedBehaviorSanitizer, checks formatting, and runs every unit and
# integration test.  This is the README's test command and what CI runs.
# deploy/test.sh [--no-sanitize] [ctest args...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

sanitize=ON
if [ "${1:-}" = "--no-sanitize" ]; then sanitize=OFF; shift; fi
build=${FERRY_BUILD_DIR:-$top/build-test}

"$top/deploy/install-deps.sh"

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DFERRY_SANITIZE=$sanitize >/dev/null
cmake --build "$build" -j"$(nproc)"
cmake --build "$build" --target format-check

# Leak detection stays on: ferry must free what it allocates, in tests too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

ctest --test-dir "$build" --output-on-failure -j2 "$@"
