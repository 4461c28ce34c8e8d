#!/usr/bin/env bash
# The main job, for now: installs what is missing, builds ferry, starts the dev
# stack (source and target PostgreSQL 15 with wal2json, ferry-devbroker), runs
# the end-to-end smoke run, and stops everything it started.
# deploy/demo.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${FERRY_BUILD_DIR:-$top/build}
state=$(mktemp -d /tmp/ferry-demo.XXXXXX)

"$top/deploy/install-deps.sh"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

cleanup() { bash "$top/tests/integration/stack.sh" stop "$state" >/dev/null || true; rm -rf "$state"; }
trap cleanup EXIT

echo "== starting source, target and ferry-devbroker"
bash "$top/tests/integration/stack.sh" start "$state" "$build"
echo "== smoke run: wal2json slot -> Kafka -> kcat and python3-kafka -> target"
bash "$top/tests/integration/run-test.sh" "$state" \
  "$top/tests/integration/test_stack_end_to_end.sh"
echo "== stopping"
