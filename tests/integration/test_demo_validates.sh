# The README's main command as a user runs it: the demo's own install and
# Release build in a fresh build directory (no FERRY_DEMO_SKIP_BUILD), the
# snapshot, live changes, catch-up, and ferry-map validate reporting full
# agreement (the demo's exit status is validate's).  At scale 0.05 (about
# 80k rows), it guards what does not depend on the machine's speed: no row
# is parked during the initial load and drained later (a row whose parent
# is in the snapshot waits for nothing when the snapshot is applied in
# dependency order), so the peak of parked rows is what stays parked: the
# true orphans, whose parents the legacy database does not have either.
rc=0
FERRY_BUILD_DIR=$FERRY_TEST_TMP/build-demo \
  bash "$FERRY_SRC_DIR/deploy/demo.sh" --scale 0.05 --live 5 >"$FERRY_TEST_TMP/demo.out" 2>&1 || rc=$?
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
load=$(grep "^   load done:" "$FERRY_TEST_TMP/demo.out") || fail "no load summary: $(tail -30 "$FERRY_TEST_TMP/demo.out")"
peak=$(echo "$load" | sed -n 's/.*peak parked \([0-9]*\),.*/\1/p')
now=$(echo "$load" | sed -n 's/.*parked now \([0-9]*\),.*/\1/p')
drained=$(echo "$load" | sed -n 's/.*drained \([0-9]*\),.*/\1/p')
[ "$drained" = 0 ] || fail "$drained rows were parked and drained during the initial load: $load"
[ -n "$peak" ] && [ "$peak" = "$now" ] || fail "the peak of parked rows is not the orphans left parked: $load"
grep -q "legacy load: done" "$FERRY_TEST_TMP/demo.out" || fail "no word on the legacy load"
tail -3 "$FERRY_TEST_TMP/demo.out"
