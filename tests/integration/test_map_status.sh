# ferry-map status over a running pipeline, and ferry-cdc's WAL guard:
# - healthy (cdc and sink running, caught up): exit 0, and --json parses
#   with status "healthy";
# - the sink stopped behind a backlog: exit 1 or 2, naming the lag;
# - the slot inactive (ferry-cdc stopped) with WAL piling up past
#   --wal-warn: exit 2;
# - the WAL guard: an open source transaction holds the slot's restart_lsn
#   back while WAL is written; ferry-cdc (--max-retained-wal 1MB) warns
#   in its log and ferry_cdc_slot_retained_wal_bytes shows it.
# Runs its own source PostgreSQL: holding a transaction open would hold
# back the slots of the tests sharing the stack.
PFX=_$(date +%s%N | tail -c 8)
fresh_dbs map_status
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
SPORT=$(free_port); CDC_PORT=$(free_port)
sdir=$FERRY_TEST_TMP/source
trap '"$FERRY_SRC_DIR/deploy/pg-cluster.sh" stop "$sdir" >/dev/null 2>&1 || true; _ferry_cleanup' EXIT
"$FERRY_SRC_DIR/deploy/pg-cluster.sh" start "$sdir" "$SPORT" >/dev/null || fail "no source cluster"
SRC_DSN="host=127.0.0.1 port=$SPORT user=postgres dbname=postgres"
src_psql <<'SQL'
CREATE TABLE item (id int PRIMARY KEY, name text);
CREATE TABLE filler (x text);
INSERT INTO item SELECT g, 'item ' || g FROM generate_series(1, 100) g;
SQL
tgt_psql -c "CREATE TABLE items (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text)"
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: map_status }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: status$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  items: { source: item, target: items, legacy_id_column: legacy_id,
           columns: { name: name } }
EOF
status() {
  rc=0
  ferry-map status -c "$cfg" "$@" >"$FERRY_TEST_TMP/status.out" 2>&1 || rc=$?
}
applied() { [ "$(tgt_psql -c 'SELECT count(*) FROM items')" = "$1" ]; }

ferry-cdc -c "$cfg" --metrics-listen "127.0.0.1:$CDC_PORT" --status-interval 1 \
  --max-retained-wal 1MB 2>"$FERRY_TEST_TMP/cdc.log" &
CDC_PID=$!
track_pid $CDC_PID
ferry-sink -c "$cfg" 2>"$FERRY_TEST_TMP/sink.log" &
SINK_PID=$!
track_pid $SINK_PID
wait_until 60 applied 100 || fail "the pipeline did not start: $(tail -3 "$FERRY_TEST_TMP/sink.log")"

# 1. Healthy.
healthy() { status && [ $rc = 0 ]; }
wait_until 30 healthy || fail "a healthy pipeline: exit $rc: $(cat "$FERRY_TEST_TMP/status.out")"
grep -q "slot map_status: active" "$FERRY_TEST_TMP/status.out" || fail "no slot line: $(cat "$FERRY_TEST_TMP/status.out")"
status --json
[ $rc = 0 ] || fail "--json: exit $rc"
/usr/bin/python3 - "$FERRY_TEST_TMP/status.out" <<'PY' || fail "--json does not parse: $(cat "$FERRY_TEST_TMP/status.out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "healthy" and d["exit"] == 0 and d["problems"] == [], d
PY

# 2. The WAL guard: a transaction holds restart_lsn back while WAL grows.
src_psql -c "BEGIN; INSERT INTO filler VALUES ('held'); SELECT pg_sleep(30); COMMIT" >/dev/null 2>&1 &
HOLD=$!
track_pid $HOLD
sleep 1
for _ in 1 2 3; do
  src_psql -c "INSERT INTO filler SELECT repeat(md5(g::text), 30) FROM generate_series(1, 2000) g" >/dev/null
  sleep 1
done
warned() { grep -q 'slot "map_status" retains [0-9]* MB of WAL (limit --max-retained-wal 1 MB' "$FERRY_TEST_TMP/cdc.log"; }
wait_until 20 warned || fail "no WAL guard warning: $(tail -5 "$FERRY_TEST_TMP/cdc.log"; src_psql -c 'SELECT restart_lsn, confirmed_flush_lsn, pg_current_wal_lsn() FROM pg_replication_slots')"
retained=$(curl -s "http://127.0.0.1:$CDC_PORT/metrics" | awk '$1 == "ferry_cdc_slot_retained_wal_bytes" {print int($2)}')
[ -n "$retained" ] && [ "$retained" -gt 1048576 ] || fail "ferry_cdc_slot_retained_wal_bytes is '$retained'"
kill $HOLD 2>/dev/null; wait $HOLD 2>/dev/null || true

# 3. The sink stopped behind a backlog.
kill -TERM $SINK_PID
wait $SINK_PID || fail "ferry-sink failed: $(tail -3 "$FERRY_TEST_TMP/sink.log")"
src_psql -c "INSERT INTO item SELECT g, 'backlog ' || g FROM generate_series(101, 600) g"
backlog() { status --lag-warn 1; [ $rc = 1 ] || [ $rc = 2 ]; }
sleep 2
wait_until 30 backlog || fail "a sink stopped behind a backlog: exit $rc: $(cat "$FERRY_TEST_TMP/status.out")"
grep -q "behind\|no sink" "$FERRY_TEST_TMP/status.out" || fail "the backlog is not named: $(cat "$FERRY_TEST_TMP/status.out")"

# 4. The slot inactive with WAL piling up.
kill -TERM $CDC_PID
wait $CDC_PID || fail "ferry-cdc failed: $(tail -3 "$FERRY_TEST_TMP/cdc.log")"
src_psql -c "INSERT INTO filler SELECT repeat(md5(g::text), 30) FROM generate_series(1, 4000) g" >/dev/null
status --wal-warn 1MB
[ $rc = 2 ] || fail "an inactive slot with WAL piling up: exit $rc: $(cat "$FERRY_TEST_TMP/status.out")"
grep -q "inactive" "$FERRY_TEST_TMP/status.out" || fail "the inactive slot is not named: $(cat "$FERRY_TEST_TMP/status.out")"
status --json --wal-warn 1MB
/usr/bin/python3 - "$FERRY_TEST_TMP/status.out" <<'PY' || fail "--json (critical) does not parse: $(cat "$FERRY_TEST_TMP/status.out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "critical" and d["exit"] == 2 and d["problems"], d
PY
echo "status: 0 healthy, $rc with the slot inactive; the WAL guard warned at $retained bytes retained"
