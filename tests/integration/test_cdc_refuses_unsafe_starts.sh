# ferry-cdc refuses to start on a mapped table whose updates and deletes would
# be lost, naming the table and the ALTER TABLE fix; refuses lossy producer
# settings; and stops with a clear error, without confirming past it, when the
# broker refuses a message for good.  SIGTERM flushes, confirms and exits 0.
fresh_dbs cdc_refuse
src_psql <<'SQL'
CREATE TABLE keyed (id int PRIMARY KEY, v text);
CREATE TABLE nokey (id int, v text);
SQL
write_cdc_config "$FERRY_TEST_TMP/bad.yaml" cdc_refuse cdc_refuse "$FERRY_BROKERS" keyed nokey
rc=0; ferry-cdc -c "$FERRY_TEST_TMP/bad.yaml" 2>"$FERRY_TEST_TMP/bad.log" || rc=$?
[ $rc -eq 2 ] || fail "expected exit 2 for a table without key, got $rc"
grep -q 'table "public.nokey" has no primary key or replica identity' "$FERRY_TEST_TMP/bad.log" ||
  fail "message does not name the table: $(cat "$FERRY_TEST_TMP/bad.log")"
grep -q 'ALTER TABLE public.nokey REPLICA IDENTITY FULL' "$FERRY_TEST_TMP/bad.log" ||
  fail "message does not give the fix: $(cat "$FERRY_TEST_TMP/bad.log")"
src_psql -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'cdc_refuse'" | grep -x 0 >/dev/null ||
  fail "a slot was created although the start was refused"

# REPLICA IDENTITY FULL is enough.
src_psql -c "ALTER TABLE nokey REPLICA IDENTITY FULL"
ferry-cdc -c "$FERRY_TEST_TMP/bad.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/ok.log" ||
  fail "ferry-cdc refused a table with REPLICA IDENTITY FULL: $(cat "$FERRY_TEST_TMP/ok.log")"

# acks=1 could lose changes: refused.
write_cdc_config "$FERRY_TEST_TMP/acks.yaml" cdc_refuse cdc_refuse "$FERRY_BROKERS" keyed
sed -i 's/^  topic_prefix: cdc_refuse$/  topic_prefix: cdc_refuse\n  properties: { acks: "1" }/' "$FERRY_TEST_TMP/acks.yaml"
rc=0; ferry-cdc -c "$FERRY_TEST_TMP/acks.yaml" 2>"$FERRY_TEST_TMP/acks.log" || rc=$?
[ $rc -eq 2 ] && grep -q "acks=1 could lose changes" "$FERRY_TEST_TMP/acks.log" ||
  fail "acks=1 not refused (rc $rc): $(cat "$FERRY_TEST_TMP/acks.log")"

# The broker refuses every message for good: ferry-cdc stops with an error
# and the slot is not confirmed past the refused change.
start_devbroker "$FERRY_TEST_TMP/broker"
write_cdc_config "$FERRY_TEST_TMP/refused.yaml" cdc_refuse cdc_refuse "$DEV_BROKERS" keyed
# A message not delivered within 5 s has failed for good.
sed -i 's/^  topic_prefix: cdc_refuse$/  topic_prefix: cdc_refuse\n  properties: { message.timeout.ms: "5000" }/' "$FERRY_TEST_TMP/refused.yaml"
src_psql -c "INSERT INTO keyed VALUES (1, 'a')"
# The end of the refused transaction's commit record.
commit_end=$(src_psql -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
echo "topic-error cdc_refuse.public.keyed TOPIC_AUTHORIZATION_FAILED" >"$DEV_CONTROL"
wait_until 10 grep -q "topic-error.*-> ok" "$FERRY_TEST_TMP/broker/devbroker.log" || fail "control"
rc=0; timeout 60 ferry-cdc -c "$FERRY_TEST_TMP/refused.yaml" --endpos "$(src_lsn)" \
  2>"$FERRY_TEST_TMP/refused.log" || rc=$?
[ $rc -eq 1 ] || fail "expected exit 1 when the broker refuses, got $rc: $(tail -3 "$FERRY_TEST_TMP/refused.log")"
grep -q 'could not deliver a message to topic "cdc_refuse.public.keyed"' "$FERRY_TEST_TMP/refused.log" ||
  fail "unclear error: $(tail -3 "$FERRY_TEST_TMP/refused.log")"
[ "$(slot_confirmed_bytes cdc_refuse)" -lt "$commit_end" ] ||
  fail "the slot was confirmed past a refused transaction"

# Once the broker accepts again, the same change is published.
echo "topic-error cdc_refuse.public.keyed NO_ERROR" >"$DEV_CONTROL"
wait_until 30 grep -q "control: topic-error cdc_refuse.public.keyed NO_ERROR -> ok" "$FERRY_TEST_TMP/broker/devbroker.log" ||
  fail "control (NO_ERROR)"
ferry-cdc -c "$FERRY_TEST_TMP/refused.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/again.log" ||
  fail "ferry-cdc failed once the broker accepted: $(tail -3 "$FERRY_TEST_TMP/again.log")"
kcat -C -b "$DEV_BROKERS" -t cdc_refuse.public.keyed -o beginning -e -q | grep '"after":{"id":1,"v":"a"}' >/dev/null ||
  fail "the refused change was never published"
