# ferry-sink stops with a clear error, and never skips ahead, when the
# broker no longer holds an offset it still needs: (1) retention dropped
# the events after the offset the sink stored (more than the devbroker's
# ~5 MiB per partition was produced while the sink was not running);
# (2) the stored offset is past the end of the partition (the topic was
# re-created or the broker replaced).  Each time the target and the stored
# offsets stay as they were.
PFX=_$(date +%s%N | tail -c 8)
fresh_dbs sink_oor
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql -c "CREATE TABLE note (id int PRIMARY KEY, body text NOT NULL)"
tgt_psql -c "CREATE TABLE notes (id uuid PRIMARY KEY, legacy_id int UNIQUE, body text)"
topic=sink_oor$PFX.public.note
start_devbroker "$FERRY_TEST_TMP/broker" --topic "$topic:1" --topic "sink_oor$PFX.transaction:1"
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: sink_oor }
kafka: { brokers: "$DEV_BROKERS", topic_prefix: sink_oor$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  notes: { source: note, target: notes, legacy_id_column: legacy_id,
           columns: { body: body } }
EOF
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"
src_psql -c "INSERT INTO note SELECT g, 'note ' || g FROM generate_series(1, 100) g"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>>"$FERRY_TEST_TMP/cdc.log" || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink1.log" || fail "ferry-sink failed"
[ "$(tgt_psql -c 'SELECT count(*) FROM notes')" = 100 ] || fail "the first 100 rows were not applied"
offsets() { tgt_psql -c "SELECT string_agg(topic || ':' || partition || '=' || next_offset, ' ' ORDER BY topic, partition) FROM ferry.offsets"; }
stored=$(tgt_psql -c "SELECT next_offset FROM ferry.offsets WHERE topic = '$topic'")
before=$(offsets)
# flood FIRST CHAR OFFSET: about 14 MB of notes from FIRST * 1000 into the
# one partition, published; fails unless the broker then no longer holds
# OFFSET.  Sets earliest to its first offset.
flood() {
  for t in $(seq "$1" $(($1 + 19))); do
    echo "INSERT INTO note SELECT g, repeat('$2', 600) || g FROM generate_series($t * 1000 + 1, $t * 1000 + 1000) g;"
  done | src_psql >/dev/null
  ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>>"$FERRY_TEST_TMP/cdc.log" || fail "ferry-cdc failed"
  earliest=$(kcat -C -b "$DEV_BROKERS" -t "$topic" -p 0 -o beginning -c 1 -e -q -f '%o\n')
  [ "$earliest" -gt "$3" ] || fail "the broker still holds offset $3 (earliest $earliest)"
}

# (1) Retention: about 14 MB into the one partition while the sink is down.
flood 1 x "$stored"
if ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink2.log"; then
  fail "ferry-sink exited 0 although offset $stored is gone"
fi
grep -q "cannot resume topic \"$topic\" partition 0 at offset $stored: the broker no longer holds it (earliest offset $earliest)" "$FERRY_TEST_TMP/sink2.log" ||
  fail "no clear error: $(grep -v NOTICE "$FERRY_TEST_TMP/sink2.log" | tail -2)"
[ "$(tgt_psql -c 'SELECT count(*) FROM notes')" = 100 ] || fail "the sink applied rows past the gap"
[ "$(offsets)" = "$before" ] || fail "the stored offsets moved: $before -> $(offsets)"
echo "retention: stopped at offset $stored (earliest $earliest) without skipping"

# (2) The stored offset is past the end of the partition.
tgt_psql -c "UPDATE ferry.offsets SET next_offset = next_offset + 1000000 WHERE topic = '$topic'"
before=$(offsets)
if ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink3.log"; then
  fail "ferry-sink exited 0 although its offset is past the end"
fi
grep -q "cannot resume topic \"$topic\" partition 0 at offset $((stored + 1000000)): the partition ends at offset" "$FERRY_TEST_TMP/sink3.log" ||
  fail "no clear error: $(grep -v NOTICE "$FERRY_TEST_TMP/sink3.log" | tail -2)"
[ "$(tgt_psql -c 'SELECT count(*) FROM notes')" = 100 ] || fail "the sink applied rows"
[ "$(offsets)" = "$before" ] || fail "the stored offsets moved"
echo "past the end: stopped with a clear error"

# (3) Mid-run: the sink is running and caught up; while it is frozen
# (SIGSTOP) about 14 MB more is written, so the offset it would fetch next
# is gone when it wakes up.  It stops with the error instead of jumping to
# the earliest offset.
last=$(kcat -C -b "$DEV_BROKERS" -t "$topic" -p 0 -o -1 -c 1 -e -q -f '%o\n')
txlast=$(kcat -C -b "$DEV_BROKERS" -t "sink_oor$PFX.transaction" -p 0 -o -1 -c 1 -e -q -f '%o\n')
# As after a fresh start at the ends of both topics.
tgt_psql -c "UPDATE ferry.offsets SET next_offset = $((last + 1)) WHERE topic = '$topic'" \
  -c "UPDATE ferry.offsets SET next_offset = $((txlast + 1)) WHERE topic = 'sink_oor$PFX.transaction'"
rows_before=$(tgt_psql -c 'SELECT count(*) FROM notes')
ferry-sink -c "$cfg" 2>"$FERRY_TEST_TMP/sink4.log" &
pid=$!
track_pid $pid
wait_until 30 grep -q "consuming" "$FERRY_TEST_TMP/sink4.log" || fail "ferry-sink did not start: $(tail -3 "$FERRY_TEST_TMP/sink4.log")"
sleep 1
kill -STOP $pid
flood 30 y $((last + 1))
kill -CONT $pid
wait_until 60 sh -c "! kill -0 $pid" || fail "ferry-sink went on although offset $((last + 1)) is gone"
if wait $pid; then fail "ferry-sink exited 0 although offset $((last + 1)) is gone"; fi
grep -q "cannot read topic \"$topic\" partition 0 at offset $((last + 1)): the broker no longer holds it" "$FERRY_TEST_TMP/sink4.log" ||
  fail "no clear error: $(grep -v NOTICE "$FERRY_TEST_TMP/sink4.log" | tail -2)"
[ "$(tgt_psql -c 'SELECT count(*) FROM notes')" = "$rows_before" ] || fail "the sink applied rows past the gap"
[ "$(tgt_psql -c "SELECT next_offset FROM ferry.offsets WHERE topic = '$topic'")" = $((last + 1)) ] ||
  fail "the stored offset moved past the gap"
echo "mid-run: stopped at offset $((last + 1)) (earliest $earliest) without skipping"
