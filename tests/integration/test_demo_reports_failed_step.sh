# When a step of the README's main command fails, the terminal names the
# step and shows its error, without the user opening a file: a compiler error
# in the demo's own build, and a bad target DSN in the mapping.  Both break
# a private copy of the tree, never the tree under test.
copy_tree() {
  local dst=$1
  mkdir -p "$dst"
  (cd "$FERRY_SRC_DIR" && tar -cf - --exclude='./build*' --exclude=./.git .) |
    tar -xf - -C "$dst"
}

# 1. A compiler error in the demo's build.
copy_tree "$FERRY_TEST_TMP/broken-build"
printf '\nint ferry_demo_break(void) { return not_declared_anywhere; }\n' \
  >>"$FERRY_TEST_TMP/broken-build/sink/main.c"
rc=0
FERRY_BUILD_DIR=$FERRY_TEST_TMP/broken-build/build-demo \
  bash "$FERRY_TEST_TMP/broken-build/deploy/demo.sh" --live 1 \
  >"$FERRY_TEST_TMP/build.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "the demo succeeded with a compiler error in its tree"
grep -q 'demo: step "installing what is missing and building ferry" failed' "$FERRY_TEST_TMP/build.out" ||
  fail "the failing step is not named: $(tail -20 "$FERRY_TEST_TMP/build.out")"
grep -q "not_declared_anywhere" "$FERRY_TEST_TMP/build.out" ||
  fail "the compiler's error is not on the terminal: $(tail -20 "$FERRY_TEST_TMP/build.out")"

# 2. A bad target DSN in the mapping: ferry-sink cannot connect, and the
#    demo must say so at once rather than wait for rows that never come.
copy_tree "$FERRY_TEST_TMP/broken-dsn"
sed -i 's|dsn: "${CLINIC_TARGET_DSN}"|dsn: "${CLINIC_TARGET_DSN} dbname=no_such_target_db"|' \
  "$FERRY_TEST_TMP/broken-dsn/deploy/examples/clinic/ferry.yaml"
grep -q no_such_target_db "$FERRY_TEST_TMP/broken-dsn/deploy/examples/clinic/ferry.yaml" ||
  fail "could not break the copy's target DSN"
rc=0
FERRY_BUILD_DIR=$FERRY_BIN_DIR FERRY_DEMO_SKIP_BUILD=1 timeout 300 \
  bash "$FERRY_TEST_TMP/broken-dsn/deploy/demo.sh" --scale 0.002 --live 1 \
  >"$FERRY_TEST_TMP/dsn.out" 2>&1 || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "the demo exited $rc with a bad target DSN: $(tail -20 "$FERRY_TEST_TMP/dsn.out")"
grep -q 'demo: step "ferry-cdc (snapshot, then streaming) and ferry-sink" failed' "$FERRY_TEST_TMP/dsn.out" ||
  fail "the failing step is not named: $(tail -20 "$FERRY_TEST_TMP/dsn.out")"
grep -q 'no_such_target_db' "$FERRY_TEST_TMP/dsn.out" ||
  fail "ferry-sink's error is not on the terminal: $(tail -20 "$FERRY_TEST_TMP/dsn.out")"
tail -8 "$FERRY_TEST_TMP/dsn.out"
