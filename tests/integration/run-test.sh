#!/usr/bin/env bash
# Runs one integration test script with the stack's environment and lib.sh.
# tests/integration/run-test.sh STATE_DIR SCRIPT
set -euo pipefail
state=$1; script=$2
[ -f "$state/env" ] || { echo "run-test: the stack is not running ($state/env missing)" >&2; exit 1; }
# shellcheck disable=SC1091
. "$state/env"
export FERRY_TEST_NAME=$(basename "$script" .sh | sed 's/^test_//')
export FERRY_TEST_TMP=$(mktemp -d "/tmp/ferry-test-$FERRY_TEST_NAME.XXXXXX")
chmod 755 "$FERRY_TEST_TMP"
export FERRY_SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
rc=0
bash -euo pipefail -c '. "$FERRY_SRC_DIR/tests/integration/lib.sh"; . "$1"' test "$script" || rc=$?
if [ $rc -eq 0 ]; then rm -rf "$FERRY_TEST_TMP"; else echo "run-test: kept $FERRY_TEST_TMP for inspection" >&2; fi
exit $rc
