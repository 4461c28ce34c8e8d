#!/usr/bin/env bash
# Runs one integration test script with the stack's environment and lib.sh.
# tests/integration/run-test.sh STATE_DIR SCRIPT
#
# The script runs in its own process group, so that whatever it started is
# stopped when it ends, fails, or is killed by ctest's timeout.
set -euo pipefail
state=$1; script=$2
[ -f "$state/env" ] || { echo "run-test: the stack is not running ($state/env missing)" >&2; exit 1; }
# shellcheck disable=SC1091
. "$state/env"
FERRY_TEST_NAME=$(basename "$script" .sh | sed 's/^test_//')
FERRY_TEST_TMP=$(mktemp -d "/tmp/ferry-test-$FERRY_TEST_NAME.XXXXXX")
FERRY_SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
export FERRY_TEST_NAME FERRY_TEST_TMP FERRY_SRC_DIR
chmod 755 "$FERRY_TEST_TMP"

pgid=
stop_group() {
  [ -n "$pgid" ] || return 0
  kill -TERM -- "-$pgid" 2>/dev/null || true
  for _ in $(seq 30); do kill -0 -- "-$pgid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$pgid" 2>/dev/null || true
}
trap 'stop_group; exit 143' TERM INT

rc=0
setsid bash -euo pipefail -c '. "$FERRY_SRC_DIR/tests/integration/lib.sh"; . "$1"' test "$script" &
pgid=$!
wait "$pgid" || rc=$?
stop_group
if [ $rc -eq 0 ]; then rm -rf "$FERRY_TEST_TMP"; else echo "run-test: kept $FERRY_TEST_TMP for inspection" >&2; fi
exit $rc
