# /healthz and /readyz of ferry-cdc and ferry-sink, and their JSON logs:
# - start-up: ferry-sink started while its target is down is alive (200)
#   and not ready, saying it is connecting to the target; once the target
#   is up it goes on;
# - snapshot: while ferry-cdc reads its initial snapshot, ferry-cdc says
#   "taking the snapshot" and ferry-sink "waiting for ferry-cdc to complete
#   its snapshot" (both 503), and both are ready (200) after it;
# - a lost target connection: the target stopped under a running sink makes
#   /readyz 503 ("the target connection is lost") while /healthz stays 200;
#   when the target is back the sink is ready again and applies what came
#   meanwhile;
# - both programs ran with --log-format json: every line of their logs is
#   one JSON object with time, level, program and message.
PFX=_$(date +%s%N | tail -c 8)
fresh_dbs observe_health
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
TPORT=$(free_port); CDC_PORT=$(free_port); SINK_PORT=$(free_port)
tdir=$FERRY_TEST_TMP/target
trap '"$FERRY_SRC_DIR/deploy/pg-cluster.sh" stop "$tdir" >/dev/null 2>&1 || true; _ferry_cleanup' EXIT
"$FERRY_SRC_DIR/deploy/pg-cluster.sh" start "$tdir" "$TPORT" >/dev/null || fail "no target cluster"
TGT_DSN="host=127.0.0.1 port=$TPORT user=postgres dbname=postgres"
src_psql <<'SQL'
CREATE TABLE item (id int PRIMARY KEY, name text);
INSERT INTO item SELECT g, 'item ' || g FROM generate_series(1, 20000) g;
SQL
tgt_psql -c "CREATE TABLE items (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text)"
"$FERRY_SRC_DIR/deploy/pg-cluster.sh" stop "$tdir" >/dev/null
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: observe_health }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: observe$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  items: { source: item, target: items, legacy_id_column: legacy_id,
           columns: { name: name } }
EOF
code() { curl -s -o "$FERRY_TEST_TMP/body" -w '%{http_code}' "http://127.0.0.1:$1$2"; }
# says PORT PATH CODE [TEXT]: the endpoint answers CODE (and TEXT).
says() {
  [ "$(code "$1" "$2")" = "$3" ] || return 1
  [ -z "${4:-}" ] || grep -q "$4" "$FERRY_TEST_TMP/body"
}
body() { cat "$FERRY_TEST_TMP/body"; }

# 1. Start-up with the target down.
ferry-sink -c "$cfg" --metrics-listen "127.0.0.1:$SINK_PORT" --log-format json \
  2>"$FERRY_TEST_TMP/sink.log" &
SINK_PID=$!
track_pid $SINK_PID
wait_until 20 says "$SINK_PORT" /readyz 503 "connect to the target" ||
  fail "sink /readyz with the target down: $(code "$SINK_PORT" /readyz) $(body)"
says "$SINK_PORT" /healthz 200 || fail "a sink waiting for its target is not alive: $(body)"
sleep 3   # past a retry: still alive
says "$SINK_PORT" /healthz 200 || fail "the sink's /healthz turned $(code "$SINK_PORT" /healthz) while it waits: $(body)"

# 2. The snapshot, held open long enough to watch: ferry-cdc pauses
# 400 ms before each of its 40 chunks (a hook only tests set).
FERRY_TEST_SNAPSHOT_CHUNK_DELAY_MS=400 ferry-cdc -c "$cfg" --metrics-listen "127.0.0.1:$CDC_PORT" --log-format json \
  --snapshot-chunk 500 --status-interval 1 \
  2>"$FERRY_TEST_TMP/cdc.log" &
CDC_PID=$!
track_pid $CDC_PID
wait_until 30 says "$CDC_PORT" /readyz 503 "taking the snapshot" ||
  fail "cdc /readyz during the snapshot: $(code "$CDC_PORT" /readyz) $(body)"
says "$CDC_PORT" /healthz 200 || fail "cdc /healthz during the snapshot: $(body)"
"$FERRY_SRC_DIR/deploy/pg-cluster.sh" start "$tdir" "$TPORT" >/dev/null || fail "the target did not start again"
wait_until 60 says "$SINK_PORT" /readyz 503 "waiting for ferry-cdc to complete its snapshot" ||
  fail "sink /readyz during cdc's snapshot: $(code "$SINK_PORT" /readyz) $(body); cdc: $(code "$CDC_PORT" /readyz)"
wait_until 120 says "$CDC_PORT" /readyz 200 ready || fail "cdc not ready after its snapshot: $(code "$CDC_PORT" /readyz) $(body)"
wait_until 120 says "$SINK_PORT" /readyz 200 ready || fail "sink not ready after the snapshot: $(code "$SINK_PORT" /readyz) $(body)"
applied() { [ "$(tgt_psql -c 'SELECT count(*) FROM items')" = "$1" ]; }
wait_until 60 applied 20000 || fail "the snapshot was not applied: $(tgt_psql -c 'SELECT count(*) FROM items')"

# 3. The target lost under a running sink, then back.
"$FERRY_SRC_DIR/deploy/pg-cluster.sh" stop "$tdir" >/dev/null
src_psql -c "INSERT INTO item SELECT g, 'late ' || g FROM generate_series(20001, 20500) g"
wait_until 30 says "$SINK_PORT" /readyz 503 "the target connection is lost" ||
  fail "sink /readyz with its target lost: $(code "$SINK_PORT" /readyz) $(body)"
says "$SINK_PORT" /healthz 200 || fail "the sink is not alive while it waits out the target: $(body)"
kill -0 $SINK_PID || fail "the sink exited when its target went away"
"$FERRY_SRC_DIR/deploy/pg-cluster.sh" start "$tdir" "$TPORT" >/dev/null || fail "the target did not come back"
wait_until 60 says "$SINK_PORT" /readyz 200 ready || fail "sink not ready after the target came back: $(code "$SINK_PORT" /readyz) $(body)"
wait_until 60 applied 20500 || fail "changes made while the target was down were not applied: $(tgt_psql -c 'SELECT count(*) FROM items')"
kill -TERM $SINK_PID $CDC_PID
wait $SINK_PID || fail "ferry-sink failed: $(tail -3 "$FERRY_TEST_TMP/sink.log")"
wait $CDC_PID || fail "ferry-cdc failed: $(tail -3 "$FERRY_TEST_TMP/cdc.log")"

# 4. JSON logs: one object per line, the standing fields on each.
/usr/bin/python3 - "$FERRY_TEST_TMP/cdc.log" ferry-cdc "$FERRY_TEST_TMP/sink.log" ferry-sink <<'PY' || fail "JSON log lines do not parse"
import json, sys
args = sys.argv[1:]
for path, prog in zip(args[::2], args[1::2]):
    n = 0
    for i, line in enumerate(open(path), 1):
        try:
            o = json.loads(line)
        except ValueError as e:
            sys.exit(f"{path}:{i}: not JSON ({e}): {line!r}")
        if not isinstance(o, dict):
            sys.exit(f"{path}:{i}: not an object")
        for k in ("time", "level", "program", "message"):
            if k not in o:
                sys.exit(f"{path}:{i}: no {k}: {line!r}")
        if o["program"] != prog:
            sys.exit(f"{path}:{i}: program {o['program']!r}")
        if prog == "ferry-cdc" and o.get("slot") != "observe_health":
            sys.exit(f"{path}:{i}: no slot field: {line!r}")
        n += 1
    if n < 3:
        sys.exit(f"{path}: only {n} lines")
    print(f"{prog}: {n} JSON lines")
PY
echo "healthz/readyz through start-up, the snapshot and a lost target; JSON logs parse"
