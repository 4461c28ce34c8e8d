# The only broker goes down for 10 s in the middle of a busy stream: ferry-cdc
# waits (backpressure), confirms nothing it has not delivered, and once the
# broker is back every change is in Kafka.
fresh_dbs cdc_down
src_psql -c "CREATE TABLE events (id int PRIMARY KEY, v int NOT NULL)"
start_devbroker "$FERRY_TEST_TMP/broker" --topic cdc_down.public.events:3
write_cdc_config "$FERRY_TEST_TMP/ferry.yaml" cdc_down cdc_down "$DEV_BROKERS" events
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"

start=$(slot_confirmed_bytes cdc_down)
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --status-interval 1 2>"$FERRY_TEST_TMP/cdc.log" &
cdc=$!
track_pid $cdc
(
  for t in $(seq 0 199); do
    echo "INSERT INTO events SELECT g, $t FROM generate_series($((t * 100 + 1)), $((t * 100 + 100))) g;"
    echo "SELECT pg_sleep(0.1);"
  done
) | src_psql >/dev/null &
writer=$!
track_pid $writer

# The outage begins once ferry-cdc streams and has delivered something
# (waiting for that, not for a time: sanitizer builds start slowly).
wait_until 60 grep -q "streaming from slot" "$FERRY_TEST_TMP/cdc.log" ||
  fail "ferry-cdc did not start: $(tail -3 "$FERRY_TEST_TMP/cdc.log")"
wait_until 60 slot_confirmed_at_least cdc_down $((start + 1)) || fail "ferry-cdc confirmed nothing"
echo "down all" >"$DEV_CONTROL"
wait_until 10 grep -q "control: down all -> ok" "$FERRY_TEST_TMP/broker/devbroker.log" || fail "broker not down"
down_at=$(slot_confirmed_bytes cdc_down)
sleep 10
during=$(slot_confirmed_bytes cdc_down)
echo "up all" >"$DEV_CONTROL"
kill -0 $cdc || fail "ferry-cdc died while the broker was down: $(tail -5 "$FERRY_TEST_TMP/cdc.log")"
wait $writer
end=$(src_lsn)
kill -TERM $cdc; wait $cdc || fail "ferry-cdc did not stop cleanly: $(tail -5 "$FERRY_TEST_TMP/cdc.log")"
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$end" 2>>"$FERRY_TEST_TMP/cdc.log" ||
  fail "ferry-cdc failed after the outage: $(tail -5 "$FERRY_TEST_TMP/cdc.log")"

# While down, confirmation may only have caught up with what was acked before.
echo "confirmed: $down_at at the outage, $during after 10 s down"
kcat -C -b "$DEV_BROKERS" -t cdc_down.public.events -o beginning -e -q -f '%k\n' |
  sort -u | wc -l >"$FERRY_TEST_TMP/count"
[ "$(cat "$FERRY_TEST_TMP/count")" -eq 20000 ] ||
  fail "expected 20000 distinct keys in Kafka, found $(cat "$FERRY_TEST_TMP/count")"
