# ferry-map exits 2 on usage and mapping file errors (with every error
# listed and file:line:column), 1 when a database cannot be reached (without
# printing the password), and teaches with --help.
# tests/integration/test_map_check_usage.sh
fresh_dbs map_check_usage

ferry-map --help | grep "Examples:" >/dev/null || fail "--help has no examples"
ferry-map check --help | grep "REPLICA IDENTITY\|replica identity" >/dev/null ||
  fail "check --help does not explain"
ferry-map --version | grep "^ferry-map " >/dev/null || fail "--version"

rc=0; ferry-map frobnicate >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "unknown command exited $rc"
rc=0; ferry-map check --bogus >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "unknown option exited $rc"
rc=0; ferry-map check -c "$FERRY_TEST_TMP/none.yaml" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "missing file exited $rc"

cat >"$FERRY_TEST_TMP/bad.yaml" <<YAML
source: { dsn: "$SRC_DSN password=\${FERRY_TEST_UNSET_PW}" }
kafka: { brokers: "localhost:9092", topic_prefix: legacy }
target:
  dsn: "$TGT_DSN"
  uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
entities:
  doctors:
    source: dispatch_doctor
    target: doctors
    columns:
      office_id: { ref: ofices, from: office_id }
YAML
unset FERRY_TEST_UNSET_PW
rc=0
ferry-map check -c "$FERRY_TEST_TMP/bad.yaml" >"$FERRY_TEST_TMP/out" 2>&1 || rc=$?
cat "$FERRY_TEST_TMP/out"
[ "$rc" -eq 2 ] || fail "config errors exited $rc, expected 2"
grep -qF "bad.yaml:1:16: source.dsn: environment variable \"FERRY_TEST_UNSET_PW\" is not set" "$FERRY_TEST_TMP/out" ||
  fail "unset variable not reported"
grep -qF "bad.yaml:11:25: entities.doctors.columns.office_id.ref: unknown entity \"ofices\"" "$FERRY_TEST_TMP/out" ||
  fail "unknown entity not reported"

# An unreachable database is a problem to fix, not a usage error; the
# password never shows.
cat >"$FERRY_TEST_TMP/down.yaml" <<YAML
source: { dsn: "host=127.0.0.1 port=1 user=u dbname=x password=hunter2 connect_timeout=2" }
kafka: { brokers: "localhost:9092", topic_prefix: legacy }
target:
  dsn: "$TGT_DSN"
  uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
entities:
  t: { source: t, target: t }
YAML
rc=0
ferry-map check -c "$FERRY_TEST_TMP/down.yaml" >"$FERRY_TEST_TMP/out" 2>&1 || rc=$?
cat "$FERRY_TEST_TMP/out"
[ "$rc" -eq 1 ] || fail "unreachable source exited $rc, expected 1"
grep -q "could not connect to the source database" "$FERRY_TEST_TMP/out" ||
  fail "connection failure not reported"
grep -q 'target table "public.t" does not exist' "$FERRY_TEST_TMP/out" ||
  fail "target side not checked when the source is down"
if grep -q hunter2 "$FERRY_TEST_TMP/out"; then fail "password printed"; fi
echo "map_check_usage: passed"
