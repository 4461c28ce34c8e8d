# ferry-sink: its target (a private cluster, so other tests are not
# disturbed) is stopped and started again mid-stream; the sink retries with
# backoff and loses nothing.
PFX=_$(date +%s%N | tail -c 8)  # a fresh topic prefix per run
fresh_dbs sink_restart
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
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
