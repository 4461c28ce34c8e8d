# The initial snapshot of a parent table racing its children's streamed
# inserts: ferry-cdc reads 30000 offices in small chunks while a writer
# inserts doctors that point at them.  ferry-sink applies the snapshot in
# dependency order up to the snapshot's end before any streamed change, so
# no doctor ever waits for its office: the sink's own count says parked 0,
# the target equals the source and ferry-map validate agrees.  (Applied as
# the topics are read, doctors arrive before their offices' snapshot rows
# and are parked.)
PFX=_$(date +%s%N | tail -c 8)
fresh_dbs sink_snapshot_race
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE office (id int PRIMARY KEY, name text);
CREATE TABLE doctor (id int PRIMARY KEY, office_id int, name text);
INSERT INTO office SELECT g, 'office ' || g FROM generate_series(1, 30000) g;
SQL
tgt_psql <<'SQL'
CREATE TABLE offices (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text);
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text,
                      office_id uuid REFERENCES offices);
SQL
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: sink_snapshot_race }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_race$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  offices: { source: office, target: offices, legacy_id_column: legacy_id,
             columns: { name: name } }
  doctors:
    source: doctor
    target: doctors
    legacy_id_column: legacy_id
    columns: { name: name, office_id: { ref: offices, from: office_id } }
EOF
ferry-cdc -c "$cfg" --snapshot-chunk 500 --snapshot-threads 1 2>"$FERRY_TEST_TMP/cdc.log" &
cdc=$!
track_pid $cdc
slot_made() { src_psql -c "SELECT 1 FROM pg_replication_slots WHERE slot_name = 'sink_snapshot_race'" | grep 1 >/dev/null; }
wait_until 30 slot_made || fail "ferry-cdc did not start its snapshot: $(cat "$FERRY_TEST_TMP/cdc.log")"
# Doctors of offices from the whole range, streamed while the snapshot runs.
for i in $(seq 0 19); do
  src_psql -c "INSERT INTO doctor SELECT g, 30000 - g, 'doctor ' || g FROM generate_series($i * 100 + 1, $i * 100 + 100) g"
  src_psql -c "UPDATE doctor SET name = name || ' (moved)', office_id = office_id - 1 WHERE id % 10 = $((i % 10)) AND id <= $i * 100 + 100"
done
end=$(src_lsn)
wait_until 120 slot_confirmed_at_least sink_snapshot_race "$(src_psql -c "SELECT pg_wal_lsn_diff('$end', '0/0')::bigint")" ||
  fail "ferry-cdc did not confirm the writer's changes: $(tail -5 "$FERRY_TEST_TMP/cdc.log")"
kill -TERM $cdc
wait $cdc || fail "ferry-cdc failed: $(tail -5 "$FERRY_TEST_TMP/cdc.log")"

ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink.log" ||
  fail "ferry-sink failed: $(tail -5 "$FERRY_TEST_TMP/sink.log")"
grep -q "snapshot: applying ferry-cdc's snapshot" "$FERRY_TEST_TMP/sink.log" ||
  fail "the snapshot was not applied as a bulk load: $(cat "$FERRY_TEST_TMP/sink.log")"
grep -E -q "applied [0-9]+ rows, .* parked 0, drained 0" "$FERRY_TEST_TMP/sink.log" ||
  fail "rows were parked: $(grep -E 'applied [0-9]+ rows' "$FERRY_TEST_TMP/sink.log")"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.parked')" = 0 ] || fail "rows left parked"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.errors')" = 0 ] || fail "errors: $(tgt_psql -c 'SELECT error FROM ferry.errors LIMIT 3')"
want=$(src_psql -c "SELECT d.id, d.name, o.id FROM doctor d JOIN office o ON o.id = d.office_id ORDER BY d.id" | md5sum)
got=$(tgt_psql -c "SELECT d.legacy_id, d.name, o.legacy_id FROM doctors d JOIN offices o ON o.id = d.office_id ORDER BY d.legacy_id" | md5sum)
[ "$want" = "$got" ] || fail "the doctors differ from the source"
[ "$(tgt_psql -c 'SELECT count(*) FROM offices')" = 30000 ] || fail "offices missing"
[ "$(tgt_psql -c 'SELECT count(*) FROM doctors')" = 2000 ] || fail "doctors missing"
ferry-map validate -c "$cfg" >"$FERRY_TEST_TMP/validate.txt" 2>&1 || fail "validate: $(cat "$FERRY_TEST_TMP/validate.txt")"
echo "a snapshot racing its children's inserts: parked 0, the target equals the source, validate agrees"
