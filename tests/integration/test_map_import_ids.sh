# ferry-map import-ids records an earlier migration's UUIDs in the id-map,
# from CSV and from a migration_mappings table (in the target or the
# source); a repeat is a no-op; a conflicting or malformed import changes
# nothing and exits 1.
# tests/integration/test_map_import_ids.sh
fresh_dbs map_import_ids

cat >"$FERRY_TEST_TMP/ferry.yaml" <<YAML
source: { dsn: "$SRC_DSN" }
kafka: { brokers: "localhost:9092", topic_prefix: legacy }
target:
  dsn: "$TGT_DSN"
  state_schema: ferry_state
  uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
entities:
  offices: { source: dispatch_office, target: offices }
  doctors: { source: dispatch_doctor, target: doctors }
YAML
cfg=$FERRY_TEST_TMP/ferry.yaml

cat >"$FERRY_TEST_TMP/offices.csv" <<'CSV'
legacy_key,uuid
1,11111111-1111-4111-8111-111111111111
2,22222222-2222-4222-8222-222222222222
"3,4",33333333-3333-4333-8333-333333333333
CSV
ferry-map import-ids -c "$cfg" --entity offices --csv "$FERRY_TEST_TMP/offices.csv" |
  grep -q "imported 3 mapping(s)" || fail "CSV import"
got=$(tgt_psql -c "SELECT string_agg(legacy_key || '=' || uuid || '/' || source, ' ' ORDER BY legacy_key) FROM ferry_state.id_map WHERE entity = 'offices'")
[ "$got" = "1=11111111-1111-4111-8111-111111111111/import 2=22222222-2222-4222-8222-222222222222/import 3,4=33333333-3333-4333-8333-333333333333/import" ] ||
  fail "id-map after CSV import: $got"

# Again: nothing new.
ferry-map import-ids -c "$cfg" --entity offices --csv "$FERRY_TEST_TMP/offices.csv" |
  grep -q "imported 0 mapping(s)" || fail "repeat import is not a no-op"

# A key that already maps to another UUID fails the whole import.
printf 'legacy_key,uuid\n9,99999999-9999-4999-8999-999999999999\n1,44444444-4444-4444-8444-444444444444\n' >"$FERRY_TEST_TMP/conflict.csv"
rc=0
ferry-map import-ids -c "$cfg" --entity offices --csv "$FERRY_TEST_TMP/conflict.csv" 2>"$FERRY_TEST_TMP/err" || rc=$?
cat "$FERRY_TEST_TMP/err"
[ "$rc" -eq 1 ] || fail "conflicting import exited $rc"
grep -q 'legacy key "1" of entity "offices" already maps to 11111111' "$FERRY_TEST_TMP/err" || fail "conflict not explained"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry_state.id_map WHERE legacy_key = '9'")" = 0 ] ||
  fail "a failed import left rows behind"

# Wrong header, bad UUID.
printf 'id,uuid\n5,55555555-5555-4555-8555-555555555555\n' >"$FERRY_TEST_TMP/header.csv"
rc=0; ferry-map import-ids -c "$cfg" --entity offices --csv "$FERRY_TEST_TMP/header.csv" 2>"$FERRY_TEST_TMP/err" || rc=$?
cat "$FERRY_TEST_TMP/err"
[ "$rc" -eq 1 ] && grep -q "legacy_key" "$FERRY_TEST_TMP/err" || fail "wrong header accepted"
printf 'legacy_key,uuid\n5,not-a-uuid\n' >"$FERRY_TEST_TMP/baduuid.csv"
rc=0; ferry-map import-ids -c "$cfg" --entity offices --csv "$FERRY_TEST_TMP/baduuid.csv" 2>"$FERRY_TEST_TMP/err" || rc=$?
cat "$FERRY_TEST_TMP/err"
[ "$rc" -eq 1 ] && grep -q 'invalid row: legacy key "5", uuid "not-a-uuid"' "$FERRY_TEST_TMP/err" || fail "bad uuid accepted"

# Keys ferry-sink already applied (in row_lsn, made here as the sink makes
# it) were written with their derived UUID, which the id-map does not hold:
# another UUID for one of them fails the import; the derived one is taken.
tgt_psql -c "CREATE TABLE ferry_state.row_lsn (entity text NOT NULL, legacy_key text NOT NULL,
               commit_lsn bigint NOT NULL, change_lsn bigint NOT NULL, PRIMARY KEY (entity, legacy_key));
             INSERT INTO ferry_state.row_lsn VALUES ('offices', '5', 1, 1), ('offices', '6', 1, 1), ('doctors', '12', 1, 1)"
derived() { /usr/bin/python3 -c "import uuid, sys; print(uuid.uuid5(uuid.UUID('3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f'), sys.argv[1]))" "$1"; }
printf 'legacy_key,uuid\n12,cccccccc-cccc-4ccc-8ccc-cccccccccccc\n5,55555555-5555-4555-8555-555555555555\n' >"$FERRY_TEST_TMP/applied.csv"
rc=0
ferry-map import-ids -c "$cfg" --entity offices --csv "$FERRY_TEST_TMP/applied.csv" 2>"$FERRY_TEST_TMP/err" || rc=$?
cat "$FERRY_TEST_TMP/err"
[ "$rc" -eq 1 ] || fail "importing over an applied key exited $rc"
grep -q "legacy key \"5\" of entity \"offices\" is already in the target with its derived UUID $(derived offices:5)" "$FERRY_TEST_TMP/err" ||
  fail "import over an applied key not explained"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry_state.id_map WHERE legacy_key IN ('5', '12')")" = 0 ] ||
  fail "a failed import left rows behind"
printf 'legacy_key,uuid\n6,%s\n12,cccccccc-cccc-4ccc-8ccc-cccccccccccc\n' "$(derived offices:6)" >"$FERRY_TEST_TMP/same.csv"
ferry-map import-ids -c "$cfg" --entity offices --csv "$FERRY_TEST_TMP/same.csv" |
  grep -q "imported 2 mapping(s)" || fail "importing the derived UUID of an applied key (or a doctors key as an office) was refused"

# The import locks row_lsn while it checks and writes: a sink's open write
# (a session holding ROW EXCLUSIVE on it, as a sink in mid-batch does)
# makes the import wait instead of racing it.
PGAPPNAME=fake_sink tgt_psql -c "BEGIN; LOCK TABLE ferry_state.row_lsn IN ROW EXCLUSIVE MODE; SELECT pg_sleep(600)" >/dev/null 2>&1 &
lk=$!; track_pid $lk
held() { [ "$(tgt_psql -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fake_sink' AND state = 'active'")" = 1 ]; }
waiting() { [ "$(tgt_psql -c "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")" -ge 1 ]; }
wait_until 30 held || fail "could not hold row_lsn"
printf 'legacy_key,uuid\n20,20202020-2020-4020-8020-202020202020\n' >"$FERRY_TEST_TMP/locked.csv"
ferry-map import-ids -c "$cfg" --entity offices --csv "$FERRY_TEST_TMP/locked.csv" >"$FERRY_TEST_TMP/locked.out" 2>&1 &
imp=$!; track_pid $imp
wait_until 30 waiting || fail "the import did not wait for the open write: $(cat "$FERRY_TEST_TMP/locked.out")"
tgt_psql -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'fake_sink'" >/dev/null
wait $lk || true
wait $imp || fail "the import failed once the write ended: $(cat "$FERRY_TEST_TMP/locked.out")"
grep -q "imported 1 mapping(s)" "$FERRY_TEST_TMP/locked.out" || fail "locked import: $(cat "$FERRY_TEST_TMP/locked.out")"

# From a migration_mappings table in the target, then one in the source.
tgt_psql <<'SQL'
CREATE TABLE public.migration_mappings (source_table text, source_id bigint,
  destination_id uuid);
INSERT INTO public.migration_mappings VALUES
  ('dispatch_doctor', 7, '77777777-7777-4777-8777-777777777777'),
  ('dispatch_doctor', 8, '88888888-8888-4888-8888-888888888888'),
  ('dispatch_office', 1, '11111111-1111-4111-8111-111111111111');
SQL
ferry-map import-ids -c "$cfg" --entity doctors --from-table public.migration_mappings \
  --source-table dispatch_doctor | grep "imported 2 mapping(s)" >/dev/null || fail "table import"
src_psql <<'SQL'
CREATE SCHEMA "Old Migration";
CREATE TABLE "Old Migration".maps (source_table text, source_id int,
  destination_id uuid);
INSERT INTO "Old Migration".maps VALUES
  ('dispatch_doctor', 10, 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa');
SQL
ferry-map import-ids -c "$cfg" --entity doctors --from-table "Old Migration.maps" \
  --source-table dispatch_doctor --from-db source | grep "imported 1 mapping(s)" >/dev/null ||
  fail "table import from the source"
got=$(tgt_psql -c "SELECT string_agg(legacy_key || '=' || uuid, ' ' ORDER BY legacy_key) FROM ferry_state.id_map WHERE entity = 'doctors'")
[ "$got" = "10=aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa 7=77777777-7777-4777-8777-777777777777 8=88888888-8888-4888-8888-888888888888" ] ||
  fail "id-map after table import: $got"

rc=0; ferry-map import-ids -c "$cfg" --entity nobody --csv "$FERRY_TEST_TMP/offices.csv" 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "unknown entity exited $rc"
rc=0; ferry-map import-ids -c "$cfg" --entity offices 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "missing --csv/--from-table exited $rc"
echo "map_import_ids: passed"
