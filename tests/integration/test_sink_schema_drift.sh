# Source DDL while streaming: a column added at the source changes nothing;
# a mapped column dropped at the source is never written as NULL: ferry-sink
# stops before the first change without it (exit status 3), naming the
# entity, the column, the LSN and the Kafka position, and keeps its
# position; with the mapping fixed it resumes there, nothing skipped, and
# ferry-map validate agrees.
PFX=_$(date +%s%N | tail -c 8)
fresh_dbs sink_drift
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE patient (id int PRIMARY KEY, name text NOT NULL, phone text, city text);
INSERT INTO patient SELECT g, 'p' || g, '06-' || g, 'Lyon' FROM generate_series(1, 20) g;
SQL
tgt_psql <<'SQL'
CREATE TABLE patients (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text NOT NULL,
                       phone text, city text);
SQL
mapping() {  # $1: the columns
  cat >"$FERRY_TEST_TMP/ferry.yaml" <<EOF
source: { dsn: "$SRC_DSN", slot: sink_drift }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_drift$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  patients: { source: patient, target: patients, legacy_id_column: legacy_id,
              columns: { $1 } }
EOF
}
cfg=$FERRY_TEST_TMP/ferry.yaml
mapping "name: name, phone: phone, city: city"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc.log" || fail "slot creation failed"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink1.log" ||
  fail "the first sink failed: $(tail -5 "$FERRY_TEST_TMP/sink1.log")"
[ "$(tgt_psql -c 'SELECT count(*) FROM patients')" = 20 ] || fail "the snapshot did not arrive"

# 1. An added column passes through: nothing stops, nothing changes.
src_psql -c "ALTER TABLE patient ADD COLUMN note text"
src_psql -c "INSERT INTO patient VALUES (21, 'p21', '06-21', 'Nice', 'added col')"
src_psql -c "UPDATE patient SET city = 'Paris', note = 'n' WHERE id = 3"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>>"$FERRY_TEST_TMP/cdc.log" || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink2.log" ||
  fail "an added column stopped the sink: $(tail -5 "$FERRY_TEST_TMP/sink2.log")"
[ "$(tgt_psql -c "SELECT name, phone, city FROM patients WHERE legacy_id = 21")" = "p21|06-21|Nice" ] ||
  fail "the row after the added column: $(tgt_psql -c 'SELECT * FROM patients WHERE legacy_id = 21')"
[ "$(tgt_psql -c "SELECT city FROM patients WHERE legacy_id = 3")" = "Paris" ] || fail "the update after the added column"
echo "an added column changes nothing"

# 2. A mapped column dropped: the sink stops before the first change
#    without it, and writes nothing of that batch.
src_psql -c "ALTER TABLE patient DROP COLUMN phone"
src_psql -c "INSERT INTO patient VALUES (22, 'p22', 'Lille', NULL)"
src_psql -c "UPDATE patient SET name = 'renamed 4' WHERE id = 4"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>>"$FERRY_TEST_TMP/cdc.log" || fail "ferry-cdc failed"
before=$(tgt_psql -c "SELECT md5(string_agg(legacy_id || name || coalesce(phone, '') || coalesce(city, ''), ',' ORDER BY legacy_id)) FROM patients")
offsets=$(tgt_psql -c "SELECT string_agg(topic || partition || ':' || next_offset, ',' ORDER BY 1) FROM ferry.offsets")
rc=0
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink3.log" || rc=$?
[ $rc -eq 3 ] || fail "ferry-sink exited $rc, not 3, on a dropped column: $(tail -5 "$FERRY_TEST_TMP/sink3.log")"
msg=$(grep "ERROR" "$FERRY_TEST_TMP/sink3.log" | tail -1)
for want in 'entity "patients"' 'source column "phone"' 'commit LSN ' 'topic "sink_drift' 'partition ' 'offset ' 'Change the mapping of entity "patients"'; do
  case "$msg" in *"$want"*) ;; *) fail "the error does not say $want: $msg" ;; esac
done
[ "$(tgt_psql -c "SELECT count(*) FROM patients WHERE legacy_id = 22")" = 0 ] || fail "a row after the drop was written"
[ "$(tgt_psql -c "SELECT phone IS NOT NULL FROM patients WHERE legacy_id = 4")" = t ] || fail "a NULL was written for the dropped column"
after=$(tgt_psql -c "SELECT md5(string_agg(legacy_id || name || coalesce(phone, '') || coalesce(city, ''), ',' ORDER BY legacy_id)) FROM patients")
[ "$before" = "$after" ] || fail "the target changed although the sink stopped"
[ "$offsets" = "$(tgt_psql -c "SELECT string_agg(topic || partition || ':' || next_offset, ',' ORDER BY 1) FROM ferry.offsets")" ] ||
  fail "the stored offsets moved past the change the sink stopped at"
echo "a dropped column stops the sink (exit 3): $msg" | cut -c 1-300

# ferry-map check says the same.
rc=0
ferry-map check -c "$cfg" >"$FERRY_TEST_TMP/check.out" 2>&1 || rc=$?
[ $rc -ne 0 ] && grep -q "phone" "$FERRY_TEST_TMP/check.out" ||
  fail "ferry-map check does not report the dropped column: $(cat "$FERRY_TEST_TMP/check.out")"

# 3. The mapping fixed: the sink resumes at the change it stopped at.
mapping "name: name, city: city"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink4.log" ||
  fail "the sink with the fixed mapping failed: $(tail -5 "$FERRY_TEST_TMP/sink4.log")"
got=$(tgt_psql -c "SELECT legacy_id, name, city FROM patients ORDER BY legacy_id" | md5sum)
want=$(src_psql -c "SELECT id, name, city FROM patient ORDER BY id" | md5sum)
[ "$got" = "$want" ] || fail "the target differs from the source: $(tgt_psql -c 'SELECT legacy_id, name, city FROM patients ORDER BY 1' | tail -4)"
[ "$(tgt_psql -c "SELECT phone FROM patients WHERE legacy_id = 5")" = "06-5" ] || fail "the unmapped column lost its old value"
ferry-map validate -c "$cfg" >"$FERRY_TEST_TMP/validate.out" 2>&1 ||
  fail "validate disagrees: $(tail -5 "$FERRY_TEST_TMP/validate.out")"
echo "with the mapping fixed the sink resumed at the dropped column's change; validate agrees"
