# The published contract holds: every message ferry-cdc and ferry-sink put on
# Kafka during a representative run validates against docs/schema/ (JSON
# Schema 2020-12, with python3-jsonschema).  The run: the clinic at a small
# scale (snapshot rows "true" and "last", streamed live changes with their
# transactions, invalid JSON the sink sends to the dead-letter topic), a
# TRUNCATE, an added column (a schema-change record), heartbeats, the type
# corpus, deletes with their tombstones, a key change and a re-snapshot on
# a signal (rows "incremental", the table records).  Any message that
# does not validate fails the test, and so does a kind that never showed up.
PFX=contract_$(date +%s%N | tail -c 8)
fresh_dbs topics_contract
clinic=$FERRY_SRC_DIR/deploy/examples/clinic
export CLINIC_SOURCE_DSN=$SRC_DSN CLINIC_TARGET_DSN=$TGT_DSN CLINIC_BROKERS=$FERRY_BROKERS
export CLINIC_SLOT=topics_contract CLINIC_TOPIC_PREFIX=$PFX
"$clinic/generate.sh" "$SRC_DSN" --scale 0.002 >"$FERRY_TEST_TMP/load.log" 2>&1 || fail "generate: $(tail -3 "$FERRY_TEST_TMP/load.log")"
tgt_psql -f "$clinic/target.sql" >/dev/null 2>&1 || fail "target.sql"
cfg=$clinic/ferry.yaml
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc.log" || fail "snapshot: $(tail -3 "$FERRY_TEST_TMP/cdc.log")"

# Streaming with heartbeats while the clinic changes.
ferry-cdc -c "$cfg" --heartbeat-interval 1 --status-interval 1 2>>"$FERRY_TEST_TMP/cdc.log" &
cdc=$!
track_pid $cdc
"$clinic/live.sh" "$SRC_DSN" 3 >"$FERRY_TEST_TMP/live.out" 2>&1 || fail "live.sh: $(cat "$FERRY_TEST_TMP/live.out")"
src_psql -c "TRUNCATE dispatch_state"
src_psql -c "ALTER TABLE dispatch_office ADD COLUMN contract_extra int"
src_psql -c "UPDATE dispatch_office SET contract_extra = 1 WHERE id = (SELECT min(id) FROM dispatch_office)"
end=$(src_psql -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
sleep 2
wait_until 60 slot_confirmed_at_least topics_contract "$end" || fail "ferry-cdc did not confirm: $(tail -3 "$FERRY_TEST_TMP/cdc.log")"
kill -TERM $cdc
wait $cdc || fail "ferry-cdc failed: $(tail -3 "$FERRY_TEST_TMP/cdc.log")"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink.log" || fail "ferry-sink: $(tail -3 "$FERRY_TEST_TMP/sink.log")"

# The type corpus, deletes and a key change, on the same prefix.
src_psql <<'SQL'
CREATE TABLE corpus (
  id int PRIMARY KEY, n numeric, i8 bigint, f8 float8, b bool, ba bytea,
  arr int[], j json, jb jsonb, ts timestamp, tstz timestamptz, iv interval,
  u uuid, t text, d date, tm time, ch char(3), big numeric(40,10));
SQL
cfg2=$FERRY_TEST_TMP/corpus.yaml
write_cdc_config "$cfg2" topics_contract2 "$PFX" "$FERRY_BROKERS" corpus
ferry-cdc -c "$cfg2" --endpos "$(src_lsn)" 2>>"$FERRY_TEST_TMP/cdc.log" || fail "corpus slot: $(tail -3 "$FERRY_TEST_TMP/cdc.log")"
src_psql <<'SQL'
INSERT INTO corpus VALUES
 (1, 12345678901234567890.123456789, 9223372036854775807, -0, true, '\x00ff10',
  '{1,2,NULL}', '{"k": [1, 2.50]}', '{"z": 1, "a": "ü"}', '2024-02-29 10:34:56.789012',
  '2024-02-29 10:34:56.789012+05:30', '1 year 2 mons', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  E'Grüße "q" \\ tab\t', '2024-02-29', '23:59:59.999999', 'ab', 1.5),
 (2, 'NaN', -9223372036854775808, 1e-300, false, '\x', '{}', '[]', '{}',
  '1970-01-01', '1970-01-01 00:00:00+00', '-00:00:01', NULL, '', '0001-01-01',
  '00:00:00', '   ', 2.5),
 (3, NULL, NULL, 'Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL);
UPDATE corpus SET t = 'changed' WHERE id = 1;
UPDATE corpus SET id = 30 WHERE id = 3;
DELETE FROM corpus WHERE id = 2;
SQL
ferry-cdc -c "$cfg2" --endpos "$(src_lsn)" 2>>"$FERRY_TEST_TMP/cdc.log" || fail "corpus: $(tail -3 "$FERRY_TEST_TMP/cdc.log")"
# A re-snapshot of the corpus on a signal: rows with snapshot "incremental"
# and the table_started/table_complete records.
src_psql -c "CREATE TABLE ferry_signal (id text PRIMARY KEY, type text, data text)"
ferry-cdc -c "$cfg2" --signal-table public.ferry_signal --status-interval 1 2>>"$FERRY_TEST_TMP/cdc.log" &
cdc2=$!
track_pid $cdc2
src_psql -c "INSERT INTO ferry_signal VALUES ('s1', 'execute-snapshot', '{\"data-collections\": [\"public.corpus\"]}')"
resnapped() { kcat -C -b "$FERRY_BROKERS" -t "$PFX.snapshot" -o beginning -e -q 2>/dev/null | grep table_complete >/dev/null; }
wait_until 60 resnapped || fail "the re-snapshot did not complete: $(tail -5 "$FERRY_TEST_TMP/cdc.log")"
kill -TERM $cdc2
wait $cdc2 || fail "ferry-cdc (re-snapshot) failed: $(tail -3 "$FERRY_TEST_TMP/cdc.log")"

/usr/bin/python3 "$FERRY_SRC_DIR/tests/integration/contract/validate_topics.py" \
  "$FERRY_SRC_DIR/docs/schema" "$FERRY_BROKERS" "$PFX" >"$FERRY_TEST_TMP/contract.out" 2>&1 ||
  fail "messages that break the contract: $(cat "$FERRY_TEST_TMP/contract.out")"
cat "$FERRY_TEST_TMP/contract.out"
for kind in "change op c snapshot false" "change op u snapshot false" "change op d snapshot false" \
  "change op t snapshot false" "change op r snapshot true" "change op r snapshot last" \
  "change op r snapshot incremental" \
  tombstone transaction heartbeat snapshot schema-change; do
  grep -q " $kind\$" "$FERRY_TEST_TMP/contract.out" || fail "no message of kind \"$kind\" in the run"
done
