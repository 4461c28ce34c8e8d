# ferry-sink: its target (a private cluster, so other tests are not
# disturbed) is stopped and started again mid-stream; the sink retries with
# backoff and loses nothing.
PFX=_$(date +%s%N | tail -c 8)  # a fresh topic prefix per run
fresh_dbs sink_restart
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
port=$(free_port)
tdir=$FERRY_TEST_TMP/target
"$FERRY_SRC_DIR/deploy/pg-cluster.sh" start "$tdir" "$port" >/dev/null
trap '"$FERRY_SRC_DIR/deploy/pg-cluster.sh" stop "$tdir" >/dev/null 2>&1 || true; _ferry_cleanup' EXIT
TGT_DSN="host=127.0.0.1 port=$port user=postgres dbname=postgres"
src_psql -c "CREATE TABLE item (id int PRIMARY KEY, n int NOT NULL)"
tgt_psql -c "CREATE TABLE items (id uuid PRIMARY KEY, legacy_id int UNIQUE, n int)"
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: sink_restart }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_restart$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  items: { source: item, target: items, legacy_id_column: legacy_id,
           columns: { n: n } }
EOF
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"
ferry-cdc -c "$cfg" 2>"$FERRY_TEST_TMP/cdc.log" &
track_pid $!
ferry-sink -c "$cfg" --batch 100 2>"$FERRY_TEST_TMP/sink.log" &
sink=$!
track_pid $sink
for t in $(seq 1 60); do
  src_psql -c "INSERT INTO item SELECT g, 0 FROM generate_series($t * 20 - 19, $t * 20) g; UPDATE item SET n = n + 1 WHERE id % 3 = $((t % 3))"
  if [ "$t" = 20 ]; then
    "$FERRY_SRC_DIR/deploy/pg-cluster.sh" stop "$tdir" >/dev/null
    echo "target stopped"
  fi
  if [ "$t" = 40 ]; then
    "$FERRY_SRC_DIR/deploy/pg-cluster.sh" start "$tdir" "$port" >/dev/null
    echo "target started"
  fi
  sleep 0.1
done
want=$(src_psql -c "SELECT id, n FROM item ORDER BY id" | md5sum)
wait_until 60 bash -c "[ \"\$(psql -qAtX -d '$TGT_DSN' -c 'SELECT legacy_id, n FROM items ORDER BY legacy_id' | md5sum)\" = '$want' ]" ||
  fail "the target did not catch up: $(tgt_psql -c 'SELECT count(*) FROM items') rows; $(grep -v NOTICE "$FERRY_TEST_TMP/sink.log" | tail -3)"
kill -0 $sink || fail "ferry-sink exited"
grep -q "retrying" "$FERRY_TEST_TMP/sink.log" || fail "no retry was logged"
echo "target restarted mid-stream; nothing lost"

# A commit the target refuses once (serialization_failure at COMMIT, from a
# deferred trigger): the sink applies the batch again, and the position
# bounds still cover every position written, so a later replay is still
# checked for stale rows (the retry must write the bound again).
tgt_psql <<'SQL'
CREATE SEQUENCE fail_once;
CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('fail_once') = 1 THEN
    RAISE EXCEPTION 'injected commit failure' USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER fail_once AFTER INSERT OR UPDATE ON ferry.row_lsn_max
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_once();
SQL
src_psql -c "UPDATE item SET n = n + 1000"
want=$(src_psql -c "SELECT id, n FROM item ORDER BY id" | md5sum)
wait_until 60 bash -c "[ \"\$(psql -qAtX -d '$TGT_DSN' -c 'SELECT legacy_id, n FROM items ORDER BY legacy_id' | md5sum)\" = '$want' ]" ||
  fail "the target did not catch up after the refused commit: $(grep -v NOTICE "$FERRY_TEST_TMP/sink.log" | tail -3)"
grep -q "injected commit failure" "$FERRY_TEST_TMP/sink.log" || fail "the injected failure never happened"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.row_lsn r JOIN ferry.row_lsn_max m USING (entity) WHERE r.commit_lsn > m.commit_lsn")" = 0 ] ||
  fail "positions above their bound: $(tgt_psql -c 'SELECT entity, max(commit_lsn) FROM ferry.row_lsn GROUP BY 1'; tgt_psql -c 'SELECT * FROM ferry.row_lsn_max')"
echo "a refused commit retried; position bounds cover every position"

# After a reconnect the sink reads the position bounds again: another sink
# may have written positions meanwhile.  Here the bound is set to the
# largest LSN (what a scale-out sink does) and the sink's session is cut:
# its next batch must run the stale check (seen in the statement log).
tgt_psql -c "ALTER DATABASE postgres SET log_min_duration_statement = 0"
tgt_psql -c "UPDATE ferry.row_lsn_max SET commit_lsn = 9223372036854775807"
from=$(stat -c %s "$tdir/server.log")
cut=$(tgt_psql -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'postgres'
             AND backend_type = 'client backend' AND application_name = 'ferry-sink' AND pid <> pg_backend_pid()")
[ "$cut" -ge 1 ] || fail "no session of ferry-sink to cut (application_name ferry-sink)"
src_psql -c "UPDATE item SET n = n + 1 WHERE id <= 10"
want=$(src_psql -c "SELECT id, n FROM item ORDER BY id" | md5sum)
wait_until 60 bash -c "[ \"\$(psql -qAtX -d '$TGT_DSN' -c 'SELECT legacy_id, n FROM items ORDER BY legacy_id' | md5sum)\" = '$want' ]" ||
  fail "the target did not catch up after the cut session: $(grep -v NOTICE "$FERRY_TEST_TMP/sink.log" | tail -3)"
tail -c +"$((from + 1))" "$tdir/server.log" | grep 'row_lsn r WHERE' >/dev/null ||
  fail "the stale check was skipped after a reconnect although the bound was raised"
echo "bounds read again after a reconnect"
