# The README's demo at a small scale: snapshot, live changes, catch-up, and
# ferry-map validate reporting full agreement (the demo's exit status is
# validate's).
rc=0
FERRY_BUILD_DIR=$FERRY_BIN_DIR FERRY_DEMO_SKIP_BUILD=1 \
  bash "$FERRY_SRC_DIR/deploy/demo.sh" --scale 0.002 --live 5 >"$FERRY_TEST_TMP/demo.out" 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "demo exited $rc: $(tail -30 "$FERRY_TEST_TMP/demo.out")"
grep -q "^   source and target agree: 14 entities" "$FERRY_TEST_TMP/demo.out" ||
  fail "validate did not report agreement: $(tail -30 "$FERRY_TEST_TMP/demo.out")"
grep -q "ferry-map validate says source and target agree" "$FERRY_TEST_TMP/demo.out" ||
  fail "no summary: $(tail -5 "$FERRY_TEST_TMP/demo.out")"
tail -3 "$FERRY_TEST_TMP/demo.out"
