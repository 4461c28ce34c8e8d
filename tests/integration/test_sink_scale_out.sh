# ferry-sink --scale-out: two sinks share the partitions through a consumer
# group while ferry-cdc streams a writer's transactions (parents and
# children on different topics, updates, deletes of children with their
# parent).  One sink is killed with kill -9 and restarted, and the other is
# frozen past the session timeout (SIGSTOP) and resumed, so partitions move
# between them mid-stream.  The target must end equal to the source with
# FKs on, nothing parked and no error.  A first, deterministic part shows a
# parent's delete waiting (parked) for its children's delete that another
# sink applies later.  A last part stalls a member inside its target
# transaction (its upsert waits on a lock, and the process is frozen past
# the session timeout): the group gives all its partitions to the other,
# both apply the same events, and the one that commits second is fenced by
# the stored offsets and rolls back.
PFX=_$(date +%s%N | tail -c 8)  # a fresh topic prefix per run
fresh_dbs sink_scale
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE office (id int PRIMARY KEY, name text NOT NULL, n int NOT NULL DEFAULT 0);
CREATE TABLE doctor (id int PRIMARY KEY, office_id int REFERENCES office, name text, n int NOT NULL DEFAULT 0);
CREATE TABLE patient (id int PRIMARY KEY, doctor_id int REFERENCES doctor, name text);
SQL
tgt_psql <<'SQL'
CREATE TABLE offices (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text NOT NULL, n int);
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                      office_id uuid REFERENCES offices (id), name text, n int);
CREATE TABLE patients (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                       doctor_id uuid REFERENCES doctors (id), name text);
SQL
head_yaml() {
  cat <<EOF
source: { dsn: "$SRC_DSN", slot: sink_scale }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_scale$PFX,
         properties: { session.timeout.ms: "3000", heartbeat.interval.ms: "500" } }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  offices: { source: office, target: offices, legacy_id_column: legacy_id,
             columns: { name: name, n: n } }
EOF
}
cfg=$FERRY_TEST_TMP/ferry.yaml
{
  head_yaml
  cat <<'EOF'
  doctors:
    source: doctor
    target: doctors
    legacy_id_column: legacy_id
    columns: { name: name, n: n, office_id: { ref: offices, from: office_id } }
  patients:
    source: patient
    target: patients
    legacy_id_column: legacy_id
    columns: { name: name, doctor_id: { ref: doctors, from: doctor_id } }
EOF
} >"$cfg"
head_yaml >"$FERRY_TEST_TMP/offices-only.yaml"

ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"
publish() { ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>>"$FERRY_TEST_TMP/cdc.log" || fail "ferry-cdc failed"; }
log=$FERRY_TEST_TMP/sink.log

# --- Part 1: a parent's delete waits for its children's delete. ---
src_psql -c "INSERT INTO office VALUES (1, 'one'), (2, 'two');
             INSERT INTO doctor VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 2, 'c');"
publish
ferry-sink -c "$cfg" --scale-out --group g1$PFX --exit-at-end 2>>"$log" ||
  fail "first scale-out sink failed: $(tail -5 "$log")"
[ "$(tgt_psql -c 'SELECT count(*) FROM doctors')" = 3 ] || fail "doctors not applied"
src_psql -c "BEGIN; DELETE FROM doctor WHERE office_id = 1; DELETE FROM office WHERE id = 1; COMMIT;"
publish
# A sink that owns only the offices topic applies the office's delete while
# its doctors are still in the target: parked, waiting for them.
ferry-sink -c "$FERRY_TEST_TMP/offices-only.yaml" --scale-out --group g2$PFX \
  --exit-at-end 2>>"$log" || fail "offices-only sink failed: $(tail -5 "$log")"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.parked WHERE waits_for = 'children' AND entity = 'offices'")" = 1 ] ||
  fail "the blocked delete was not parked: $(tgt_psql -c 'SELECT entity, legacy_key, waits_for FROM ferry.parked'; tgt_psql -c 'SELECT error FROM ferry.errors')"
[ "$(tgt_psql -c 'SELECT count(*) FROM offices')" = 2 ] || fail "office deleted under its doctors?"
# The sink that owns the doctors applies their delete; the parked delete follows.
ferry-sink -c "$cfg" --scale-out --group g1$PFX --exit-at-end 2>>"$log" ||
  fail "scale-out sink failed: $(tail -5 "$log")"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.parked')" = 0 ] || fail "the parked delete stayed parked"
[ "$(tgt_psql -c "SELECT string_agg(legacy_id::text, ',' ORDER BY legacy_id) FROM offices")" = 2 ] ||
  fail "office 1 was not deleted: $(tgt_psql -c 'SELECT legacy_id FROM offices')"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.errors')" = 0 ] || fail "errors: $(tgt_psql -c 'SELECT error FROM ferry.errors LIMIT 3')"
# Scale-out sinks do not keep the position bounds: they set them to the
# largest LSN, so that no sink ever skips a stale check on their positions.
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.row_lsn_max WHERE commit_lsn = 9223372036854775807")" = 3 ] ||
  fail "scale-out left position bounds a sink could trust: $(tgt_psql -c 'SELECT * FROM ferry.row_lsn_max')"
echo "part 1: a parent's delete was parked until its children's delete arrived"

# --- Part 2: two sinks in one group, kill -9 and a frozen member. ---
group=g1$PFX batch=30
# start_sink LOG: starts a member in the background ($! is its pid)
start_sink() {
  ferry-sink -c "$cfg" --scale-out --group "$group" --batch "$batch" \
    2>>"$FERRY_TEST_TMP/$1.log" &
}
writer() {
  for t in $(seq 1 400); do
    o=$((t * 3 + 10))
    echo "BEGIN; INSERT INTO office SELECT g, 'o' || g FROM generate_series($o + 1, $o + 3) g;"
    echo "INSERT INTO doctor SELECT g, $o + 1 + g % 3, 'd' || g FROM generate_series($t * 10 + 11, $t * 10 + 20) g;"
    echo "INSERT INTO patient SELECT g, $t * 10 + 11 + g % 10, 'p' || g FROM generate_series($t * 20 + 1, $t * 20 + 20) g;"
    echo "UPDATE doctor SET n = n + 1, office_id = $o + 1 WHERE id % 7 = $((t % 7)) AND id BETWEEN $t * 10 - 40 AND $t * 10 + 20;"
    echo "UPDATE office SET n = n + 1 WHERE id % 5 = $((t % 5)) AND id > $o - 30;"
    if [ $((t % 10)) = 5 ]; then
      # a parent deleted with its children, in one source transaction
      echo "DELETE FROM patient WHERE doctor_id IN (SELECT id FROM doctor WHERE office_id = $o + 2);"
      echo "DELETE FROM doctor WHERE office_id = $o + 2; DELETE FROM office WHERE id = $o + 2;"
    fi
    echo "COMMIT;"
    [ $((t % 40)) = 0 ] && echo "SELECT pg_sleep(0.2);"
  done
}
ferry-cdc -c "$cfg" 2>>"$FERRY_TEST_TMP/cdc.log" &
cdc=$!; track_pid $cdc
# has_partitions LOG: the member logging to LOG owns partitions
has_partitions() { grep -q 'assigned [1-9][0-9]* partitions' "$FERRY_TEST_TMP/$1.log"; }
start_sink a1; a=$!; track_pid "$a"
start_sink b; b=$!; track_pid "$b"
# Joining takes a rebalance or two; under the sanitizers on a busy machine
# that can take longer than the writer runs, so wait for it.
wait_until 60 has_partitions a1 || fail "sink a never got partitions: $(tail -3 "$FERRY_TEST_TMP/a1.log")"
writer | src_psql >/dev/null &
w=$!; track_pid $w
sleep 2
kill -9 "$a"; wait "$a" 2>/dev/null || true
echo "killed sink a with $(tgt_psql -c 'SELECT count(*) FROM patients') patients applied"
sleep 1
start_sink a2; a=$!; track_pid "$a"
wait_until 60 has_partitions a2 || fail "restarted sink a never got partitions: $(tail -3 "$FERRY_TEST_TMP/a2.log")"
kill -STOP "$b"
echo "froze sink b with $(tgt_psql -c 'SELECT count(*) FROM patients') patients applied"
sleep 5  # past session.timeout.ms: the group gives b's partitions to a
kill -CONT "$b"
wait $w || fail "writer failed"

want() {
  src_psql -c "SELECT 'o', id, name, n, NULL::int FROM office UNION ALL
               SELECT 'd', id, name, n, office_id FROM doctor UNION ALL
               SELECT 'p', id, name, NULL, doctor_id FROM patient ORDER BY 1, 2" | md5sum
}
got() {
  tgt_psql -c "SELECT 'o', legacy_id, name, n, NULL::int FROM offices UNION ALL
               SELECT 'd', d.legacy_id, d.name, d.n, o.legacy_id FROM doctors d LEFT JOIN offices o ON o.id = d.office_id UNION ALL
               SELECT 'p', p.legacy_id, p.name, NULL, d.legacy_id FROM patients p LEFT JOIN doctors d ON d.id = p.doctor_id ORDER BY 1, 2" | md5sum
}
in_step() { [ "$(want)" = "$(got)" ] && [ "$(tgt_psql -c 'SELECT count(*) FROM ferry.parked')" = 0 ]; }
wait_until 120 in_step || {
  echo "parked: $(tgt_psql -c 'SELECT entity, waits_for, count(*) FROM ferry.parked GROUP BY 1, 2')"
  fail "the target did not reach the source ($(tgt_psql -c 'SELECT count(*) FROM patients') patients of $(src_psql -c 'SELECT count(*) FROM patient'))"
}
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.errors')" = 0 ] || fail "errors: $(tgt_psql -c 'SELECT error FROM ferry.errors LIMIT 3')"
kill -TERM "$a" "$b"
wait "$a" || fail "sink a did not exit 0 on SIGTERM: $(tail -5 "$FERRY_TEST_TMP/a2.log")"
wait "$b" || fail "sink b did not exit 0 on SIGTERM: $(tail -5 "$FERRY_TEST_TMP/b.log")"

# Each member owned partitions at some point, and the work really moved.
has_partitions b || fail "sink b never got partitions"
for s in a2 b; do
  grep -o 'applied [0-9]* rows.*' "$FERRY_TEST_TMP/$s.log" | sed "s/^/sink $s: /"
done
echo "fenced batches: $(cat "$FERRY_TEST_TMP"/a2.log "$FERRY_TEST_TMP"/b.log | grep -c 'moved under this sink' || true)"
echo "part 2: two sinks, kill -9 and a frozen member; the target equals the source"

# --- Part 3: a member stalled inside a target transaction is fenced. ---
# Whole batches: both members read the same events from the same offsets.
group=g3$PFX batch=20000
start_sink c; c=$!; track_pid "$c"
wait_until 60 grep -q 'assigned 12 partitions' "$FERRY_TEST_TMP/c.log" || fail "sink c got no partitions"
# Hold the doctors table until told: c blocks in its upsert.
# (Each step waits for its state, not for a time: sanitizer builds are slow.)
PGAPPNAME=ferry_lock tgt_psql -c "BEGIN; LOCK TABLE doctors IN EXCLUSIVE MODE; SELECT pg_sleep(600); COMMIT;" >/dev/null 2>&1 &
lk=$!; track_pid $lk
wait_until 30 target_table_locked doctors || fail "could not lock doctors"
src_psql -c "UPDATE doctor SET n = n + 100"  # ferry-cdc still streams
wait_until 60 target_lock_waiters 1 || fail "sink c never waited for the lock"
# A wait in the target alone does not stall a member: ferry-sink's event
# loop keeps polling Kafka while its statements run.  Frozen, c neither
# polls nor heartbeats, and its open transaction stays in the target.
kill -STOP "$c"
start_sink d; d=$!; track_pid "$d"
# d takes all of c's partitions once c missed session.timeout.ms, reads
# the same updates from the same stored offsets and waits too.
wait_until 120 grep -q 'assigned 12 partitions' "$FERRY_TEST_TMP/d.log" ||
  fail "sink d never took all partitions: $(grep -h assigned "$FERRY_TEST_TMP/d.log")"
wait_until 120 target_lock_waiters 2 || fail "sink d never waited behind c"
kill -CONT "$c"
tgt_psql -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'ferry_lock'" >/dev/null
wait $lk || true
wait_until 60 in_step || fail "the target did not reach the source after the stall"
wait_until 20 grep -q 'moved under this sink' "$FERRY_TEST_TMP/c.log" "$FERRY_TEST_TMP/d.log" ||
  fail "no member was fenced: $(grep -h 'assigned\|moved' "$FERRY_TEST_TMP/c.log" "$FERRY_TEST_TMP/d.log")"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.errors')" = 0 ] || fail "errors: $(tgt_psql -c 'SELECT error FROM ferry.errors LIMIT 3')"
kill -TERM "$c" "$d"
wait "$c" || fail "sink c did not exit 0 on SIGTERM"
wait "$d" || fail "sink d did not exit 0 on SIGTERM"
grep -h 'moved under this sink' "$FERRY_TEST_TMP/c.log" "$FERRY_TEST_TMP/d.log" | head -1
kill -TERM $cdc; wait $cdc || true
# The ordered mode cannot resume after scale-out sinks: refused, clearly.
rc=0; ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/ordered.log" || rc=$?
[ $rc = 2 ] && grep -q 'used --scale-out' "$FERRY_TEST_TMP/ordered.log" ||
  fail "an ordered sink after scale-out: exit $rc, $(tail -2 "$FERRY_TEST_TMP/ordered.log")"
echo "part 3: the member that committed second was fenced; the target equals the source"
