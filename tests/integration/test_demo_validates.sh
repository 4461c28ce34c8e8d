# The README's main command as a user runs it: the demo's own install and
# Release build in a fresh build directory (no FERRY_DEMO_SKIP_BUILD), its
# default scale, the snapshot, live changes, catch-up, and ferry-map validate
# reporting full agreement (the demo's exit status is validate's).
rc=0
FERRY_BUILD_DIR=$FERRY_TEST_TMP/build-demo \
  bash "$FERRY_SRC_DIR/deploy/demo.sh" --live 5 >"$FERRY_TEST_TMP/demo.out" 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "demo exited $rc: $(tail -40 "$FERRY_TEST_TMP/demo.out")"
grep -q "^== installing what is missing and building ferry" "$FERRY_TEST_TMP/demo.out" ||
  fail "the demo did not run its own build: $(head -5 "$FERRY_TEST_TMP/demo.out")"
[ -x "$FERRY_TEST_TMP/build-demo/sink/ferry-sink" ] ||
  fail "the demo's Release build left no ferry-sink in $FERRY_TEST_TMP/build-demo"
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$FERRY_TEST_TMP/build-demo/CMakeCache.txt" ||
  fail "the demo did not build Release"
grep -q "^   source and target agree: 14 entities" "$FERRY_TEST_TMP/demo.out" ||
  fail "validate did not report agreement: $(tail -30 "$FERRY_TEST_TMP/demo.out")"
grep -q "ferry-map validate says source and target agree" "$FERRY_TEST_TMP/demo.out" ||
  fail "no summary: $(tail -5 "$FERRY_TEST_TMP/demo.out")"
tail -3 "$FERRY_TEST_TMP/demo.out"
