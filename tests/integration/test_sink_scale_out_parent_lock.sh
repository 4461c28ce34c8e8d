# ferry-sink --scale-out: before it checks that the parents of its staged
# rows are in the target, a member locks them (FOR KEY SHARE), so that
# another member cannot delete one between that check and the upsert (the
# child would then fail its FK and land in errors instead of being
# parked).  Shown without a race: a table lock holds the member inside its
# upsert, and meanwhile FOR UPDATE NOWAIT on the parent must fail.
PFX=_$(date +%s%N | tail -c 8)  # a fresh topic prefix per run
fresh_dbs sink_plock
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE office (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE doctor (id int PRIMARY KEY, office_id int, name text);
SQL
tgt_psql <<'SQL'
CREATE TABLE offices (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text NOT NULL);
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                      office_id uuid REFERENCES offices (id), name text);
SQL
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<YAML
source: { dsn: "$SRC_DSN", slot: sink_plock }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_plock$PFX,
         properties: { session.timeout.ms: "3000", heartbeat.interval.ms: "500" } }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  offices: { source: office, target: offices, legacy_id_column: legacy_id,
             columns: { name: name } }
  doctors:
    source: doctor
    target: doctors
    legacy_id_column: legacy_id
    columns: { name: name, office_id: { ref: offices, from: office_id } }
YAML
publish() { ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>>"$FERRY_TEST_TMP/cdc.log" || fail "ferry-cdc failed"; }
publish  # creates the slot
src_psql -c "INSERT INTO office VALUES (7, 'seven')"
publish
ferry-sink -c "$cfg" --scale-out --group g$PFX --exit-at-end 2>>"$FERRY_TEST_TMP/sink1.log" ||
  fail "the first sink failed: $(tail -5 "$FERRY_TEST_TMP/sink1.log")"
[ "$(tgt_psql -c 'SELECT count(*) FROM offices')" = 1 ] || fail "office 7 not applied"

PGAPPNAME=ferry_lock tgt_psql -c "BEGIN; LOCK TABLE doctors IN EXCLUSIVE MODE; SELECT pg_sleep(600); COMMIT;" >/dev/null 2>&1 &
lk=$!; track_pid $lk
wait_until 30 target_table_locked doctors || fail "could not lock doctors"
src_psql -c "INSERT INTO doctor VALUES (1, 7, 'a')"
publish
ferry-sink -c "$cfg" --scale-out --group g$PFX --exit-at-end 2>>"$FERRY_TEST_TMP/sink2.log" &
s=$!; track_pid $s
wait_until 60 target_lock_waiters 1 || fail "the sink never reached the doctors' upsert: $(tail -3 "$FERRY_TEST_TMP/sink2.log")"
# The sink is inside its upsert: the office its doctor references is held.
rc=0
out=$(tgt_psql -c "SELECT legacy_id FROM offices WHERE legacy_id = 7 FOR UPDATE NOWAIT" 2>&1) || rc=$?
tgt_psql -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'ferry_lock'" >/dev/null
wait $lk || true
[ $rc != 0 ] && [[ $out == *"could not obtain lock on row"* ]] ||
  fail "the parent was free while its child's upsert waited (rc $rc): $out"
wait $s || fail "the sink failed: $(tail -5 "$FERRY_TEST_TMP/sink2.log")"
got=$(tgt_psql -c "SELECT d.legacy_id, o.legacy_id FROM doctors d JOIN offices o ON o.id = d.office_id")
[ "$got" = "1|7" ] || fail "doctor 1 under office 7: '$got'"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.errors')" = 0 ] || fail "errors: $(tgt_psql -c 'SELECT error FROM ferry.errors LIMIT 3')"
echo "a scale-out member held its staged rows' parents while it applied them"
