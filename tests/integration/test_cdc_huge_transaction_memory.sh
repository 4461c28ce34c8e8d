# A single source transaction of 1,000,000 rows streams through ferry-cdc with
# flat memory: its peak RSS stays within a fixed bound and close to its peak
# for a transaction ten times smaller, because Kafka's backpressure slows the
# reading of the stream and nothing buffers whole transactions.
fresh_dbs cdc_huge
src_psql -c "CREATE TABLE big (id int PRIMARY KEY, a text, b numeric, c timestamptz, d bool, e bigint, f float8, g jsonb)"
start_devbroker "$FERRY_TEST_TMP/broker" --topic cdc_huge.public.big:8
write_cdc_config "$FERRY_TEST_TMP/ferry.yaml" cdc_huge cdc_huge "$DEV_BROKERS" big
sed -i 's/^  topic_prefix: cdc_huge$/  topic_prefix: cdc_huge\n  properties: { compression.type: lz4 }/' "$FERRY_TEST_TMP/ferry.yaml"
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"

run_txn() { # ROWS FIRST_ID -> prints peak RSS in kB of ferry-cdc streaming it
  src_psql -c "INSERT INTO big SELECT g, 'row ' || g, g * 1.5, now(), g % 2 = 0, g::bigint * 1000, g / 7.0, jsonb_build_object('k', g) FROM generate_series($2, $2 + $1 - 1) g"
  ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc-$1.log" &
  local pid=$!
  local peak
  peak=$(watch_peak_rss $pid)
  wait $pid || fail "ferry-cdc failed on $1 rows: $(tail -3 "$FERRY_TEST_TMP/cdc-$1.log")"
  grep -q "after $1 events" "$FERRY_TEST_TMP/cdc-$1.log" ||
    fail "ferry-cdc did not publish $1 events: $(tail -2 "$FERRY_TEST_TMP/cdc-$1.log")"
  echo "$peak"
}

small=$(run_txn 100000 1)
huge=$(run_txn 1000000 200001)
echo "peak RSS: $small kB for 100,000 rows, $huge kB for 1,000,000 rows in one transaction"
# Flat: ten times the rows may not cost more than a third more memory
# (plus slack for allocator noise), and never more than 400 MB (the bound
# holds under AddressSanitizer too).
[ "$huge" -le $((small * 4 / 3 + 30000)) ] || fail "memory grew with the transaction: $small kB -> $huge kB"
[ "$huge" -le 400000 ] || fail "peak RSS $huge kB is over the 400 MB bound"
