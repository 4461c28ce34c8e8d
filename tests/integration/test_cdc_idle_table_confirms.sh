# While the mapped table is idle and an unmapped table is busy, ferry-cdc
# keeps confirming LSN progress, so the slot does not pin WAL; heartbeats are
# published meanwhile.
fresh_dbs cdc_idle
src_psql <<'SQL'
CREATE TABLE quiet (id int PRIMARY KEY, v text);
CREATE TABLE busy (id serial PRIMARY KEY, v text);
SQL
write_cdc_config "$FERRY_TEST_TMP/ferry.yaml" cdc_idle cdc_idle "$FERRY_BROKERS" quiet
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"
start=$(slot_confirmed_bytes cdc_idle)

ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --status-interval 1 --heartbeat-interval 1 \
  2>"$FERRY_TEST_TMP/cdc.log" &
cdc=$!
track_pid $cdc
for i in $(seq 1 20); do
  src_psql -c "INSERT INTO busy (v) SELECT repeat('x', 100) FROM generate_series(1, 500)"
  sleep 0.2
done
busy_end=$(src_psql -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
wait_until 60 slot_confirmed_at_least cdc_idle "$busy_end" ||
  fail "confirmed_flush_lsn stayed at $(slot_confirmed_bytes cdc_idle) (start $start, busy WAL up to $busy_end)"
kill -TERM $cdc
wait $cdc || fail "ferry-cdc did not exit 0 on SIGTERM: $(tail -3 "$FERRY_TEST_TMP/cdc.log")"

[ "$(kcat -C -b "$FERRY_BROKERS" -t cdc_idle.heartbeat -o beginning -e -q | grep -c '"ts_ms"')" -ge 2 ] ||
  fail "no heartbeats on cdc_idle.heartbeat"
if kcat -C -b "$FERRY_BROKERS" -t cdc_idle.public.quiet -o beginning -e -q 2>/dev/null | grep . >/dev/null; then
  fail "events published for the idle table"
fi
echo "confirmed advanced from $start to $(slot_confirmed_bytes cdc_idle) with the mapped table idle"
