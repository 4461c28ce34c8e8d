# A slot lost and re-snapshotted: rows the source deleted while no slot
# held its changes are removed from the target after the new snapshot is
# applied (the sweep), and rows changed while the new snapshot ran keep
# their newest values.  The slot loss is simulated by dropping the slot
# while ferry-cdc is stopped; the deletes, updates and inserts in the gap
# never reach Kafka as changes.  (Without the sweep the deleted rows stay
# in the target for good: a snapshot cannot see a delete.)
# test_sink_resnapshot_sweep_lsn runs it with SWEEP_LSN=1: the doctors
# keep their positions in an lsn_column (docs/mapping.md).
PFX=_$(date +%s%N | tail -c 8)
SLOT=sink_resnapshot_sweep${SWEEP_LSN:+_lsn}
LSN_DDL= LSN_MAP=
if [ -n "${SWEEP_LSN:-}" ]; then LSN_DDL=", src_lsn numeric" LSN_MAP="lsn_column: src_lsn"; fi
fresh_dbs $SLOT
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE office (id int PRIMARY KEY, name text);
CREATE TABLE doctor (id int PRIMARY KEY, office_id int, name text, n int DEFAULT 0);
INSERT INTO office SELECT g, 'office ' || g FROM generate_series(1, 2000) g;
INSERT INTO doctor SELECT g, 1 + g % 1900, 'doctor ' || g FROM generate_series(1, 6000) g;
SQL
tgt_psql <<SQL
CREATE TABLE offices (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text);
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text, n int,
                      office_id uuid REFERENCES offices $LSN_DDL);
SQL
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: $SLOT }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_sweep$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  offices: { source: office, target: offices, legacy_id_column: legacy_id,
             columns: { name: name } }
  doctors:
    source: doctor
    target: doctors
    legacy_id_column: legacy_id
    $LSN_MAP
    columns: { name: name, n: n, office_id: { ref: offices, from: office_id } }
EOF
same_as_source() {
  local want got
  want=$(src_psql -c "SELECT d.id, d.name, d.n, d.office_id FROM doctor d ORDER BY d.id" | md5sum)
  got=$(tgt_psql -c "SELECT d.legacy_id, d.name, d.n, o.legacy_id FROM doctors d LEFT JOIN offices o ON o.id = d.office_id ORDER BY d.legacy_id" | md5sum)
  [ "$want" = "$got" ] || return 1
  want=$(src_psql -c "SELECT id, name FROM office ORDER BY id" | md5sum)
  got=$(tgt_psql -c "SELECT legacy_id, name FROM offices ORDER BY legacy_id" | md5sum)
  [ "$want" = "$got" ]
}
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc1.log" || fail "first snapshot: $(tail -3 "$FERRY_TEST_TMP/cdc1.log")"
src_psql -c "UPDATE doctor SET n = 1 WHERE id <= 50"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>>"$FERRY_TEST_TMP/cdc1.log" || fail "streaming: $(tail -3 "$FERRY_TEST_TMP/cdc1.log")"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink1.log" || fail "ferry-sink: $(tail -5 "$FERRY_TEST_TMP/sink1.log")"
same_as_source || fail "the first snapshot was not applied"

# The slot is lost; the source changes while nothing records it.
src_psql -c "SELECT pg_drop_replication_slot('$SLOT')" >/dev/null
src_psql <<'SQL'
DELETE FROM doctor WHERE id BETWEEN 101 AND 400;   -- 300 doctors
DELETE FROM doctor WHERE office_id BETWEEN 1801 AND 1900;
DELETE FROM office WHERE id > 1800;                -- 200 offices, no doctors left
UPDATE doctor SET name = name || ' (gap)' WHERE id BETWEEN 401 AND 450;
INSERT INTO doctor SELECT g, 7, 'new ' || g FROM generate_series(7001, 7100) g;
SQL
gone_doctors=$(tgt_psql -c "SELECT count(*) FROM doctors") # before the sweep
grep -q 'entity "offices": 200 rows the snapshot does' "$FERRY_TEST_TMP/sink1.log" && fail "a sweep ran after the first snapshot"

# A new slot and a new snapshot (what --snapshot when_needed does after a
# loss), with changes streamed while it runs: updates of rows the
# snapshot also reads, a delete, and inserts after its consistent point.
ferry-cdc -c "$cfg" --snapshot-chunk 200 --snapshot-threads 1 2>"$FERRY_TEST_TMP/cdc2.log" &
cdc=$!
track_pid $cdc
slot_made() { src_psql -c "SELECT 1 FROM pg_replication_slots WHERE slot_name = '$SLOT'" | grep 1 >/dev/null; }
wait_until 30 slot_made || fail "ferry-cdc made no slot: $(cat "$FERRY_TEST_TMP/cdc2.log")"
for i in $(seq 1 10); do
  src_psql -c "UPDATE doctor SET n = n + 1, name = 'racing ' || id WHERE id BETWEEN 500 + $i * 10 AND 600 + $i * 10"
  src_psql -c "INSERT INTO doctor VALUES (8000 + $i, 3, 'streamed $i')"
done
src_psql -c "DELETE FROM doctor WHERE id = 1000"
end=$(src_lsn)
wait_until 120 slot_confirmed_at_least $SLOT "$(src_psql -c "SELECT pg_wal_lsn_diff('$end', '0/0')::bigint")" ||
  fail "ferry-cdc did not confirm the changes: $(tail -5 "$FERRY_TEST_TMP/cdc2.log")"
kill -TERM $cdc
wait $cdc || fail "ferry-cdc failed: $(tail -5 "$FERRY_TEST_TMP/cdc2.log")"

ferry-sink -c "$cfg" --exit-at-end -v 2>"$FERRY_TEST_TMP/sink2.log" || fail "ferry-sink after the new snapshot: $(tail -5 "$FERRY_TEST_TMP/sink2.log")"
grep -q "then removing the rows it does not hold" "$FERRY_TEST_TMP/sink2.log" || fail "the new snapshot was not noticed: $(cat "$FERRY_TEST_TMP/sink2.log")"
grep -q 'entity "doctors": [0-9]* rows the snapshot does' "$FERRY_TEST_TMP/sink2.log" ||
  fail "no sweep of doctors: $(grep -i sweep "$FERRY_TEST_TMP/sink2.log"; grep snapshot "$FERRY_TEST_TMP/sink2.log")"
grep -q 'entity "offices": 200 rows the snapshot does not hold removed' "$FERRY_TEST_TMP/sink2.log" ||
  fail "the 200 offices deleted in the gap were not swept: $(grep snapshot "$FERRY_TEST_TMP/sink2.log")"
same_as_source || fail "after the re-snapshot the target differs from the source (target $(tgt_psql -c 'SELECT count(*) FROM doctors') doctors, source $(src_psql -c 'SELECT count(*) FROM doctor'); before $gone_doctors)"
[ "$(tgt_psql -c "SELECT count(*) FROM doctors WHERE name LIKE 'racing %'")" = "$(src_psql -c "SELECT count(*) FROM doctor WHERE name LIKE 'racing %'")" ] ||
  fail "changes streamed during the snapshot were undone"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.parked')" = 0 ] || fail "rows left parked: $(tgt_psql -c 'SELECT entity, legacy_key FROM ferry.parked LIMIT 5')"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.errors')" = 0 ] || fail "errors: $(tgt_psql -c 'SELECT error FROM ferry.errors LIMIT 3')"
ferry-map validate -c "$cfg" >"$FERRY_TEST_TMP/validate.txt" 2>&1 || fail "validate: $(cat "$FERRY_TEST_TMP/validate.txt")"
if [ -n "${SWEEP_LSN:-}" ]; then
  # The doctors' positions are in their rows; row_lsn has their deletes'.
  [ "$(tgt_psql -c "SELECT count(*) FROM doctors WHERE src_lsn IS NULL")" = 0 ] ||
    fail "doctors without a position"
  [ "$(tgt_psql -c "SELECT count(*) FROM ferry.row_lsn r WHERE entity = 'doctors' AND EXISTS (SELECT 1 FROM doctors d WHERE d.legacy_id::text = r.legacy_key)")" = 0 ] ||
    fail "row_lsn holds positions of doctors that are in the target"
fi
echo "a re-snapshot after a slot loss removed what the source deleted; streamed changes kept"
