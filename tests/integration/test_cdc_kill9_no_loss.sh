# kill -9 of ferry-cdc during a busy stream, three times, then a restart:
# every change is in Kafka, and changes sent twice carry the same source LSN.
fresh_dbs cdc_kill9
src_psql -c "CREATE TABLE events (id int PRIMARY KEY, v int NOT NULL)"
write_cdc_config "$FERRY_TEST_TMP/ferry.yaml" cdc_kill9 cdc_kill9 "$FERRY_BROKERS" events
# lz4: the writer's volume depends on the build's speed, and
# ferry-devbroker keeps only about 5 MiB per partition.
sed -i 's/^  topic_prefix: cdc_kill9$/&\n  properties: { compression.type: lz4 }/' "$FERRY_TEST_TMP/ferry.yaml"
grep -q "compression.type: lz4" "$FERRY_TEST_TMP/ferry.yaml" || fail "no compression in the mapping"
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"

# A writer: transactions of 50 inserts and 10 updates each, about 40 a
# second, until the kills are done (so that every kill lands in a busy
# stream however slow the build); the number written goes to "written".
(
  t=0
  while [ ! -e "$FERRY_TEST_TMP/stop" ]; do
    lo=$((t * 50 + 1)); hi=$((t * 50 + 50))
    echo "BEGIN; INSERT INTO events SELECT g, 0 FROM generate_series($lo, $hi) g;"
    echo "UPDATE events SET v = v + 1 WHERE id BETWEEN $lo AND $((lo + 9)); COMMIT;"
    echo "SELECT pg_sleep(0.02);"
    t=$((t + 1))
    echo $t >"$FERRY_TEST_TMP/written"
  done
) | src_psql >/dev/null &
writer=$!
track_pid $writer

for round in 1 2 3; do
  before=$(slot_confirmed_bytes cdc_kill9)
  ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" 2>>"$FERRY_TEST_TMP/cdc.log" &
  pid=$!
  # Kill at a random moment after it has confirmed some progress.
  track_pid $pid
  wait_until 30 slot_confirmed_at_least cdc_kill9 $((before + 1)) ||
    fail "ferry-cdc confirmed nothing in round $round"
  sleep "0.$((RANDOM % 9))"
  kill -9 $pid
  wait $pid 2>/dev/null || true
  echo "round $round: killed ferry-cdc at confirmed $(slot_confirmed_bytes cdc_kill9)"
done
touch "$FERRY_TEST_TMP/stop"
wait $writer || fail "the writer failed"
n=$(cat "$FERRY_TEST_TMP/written")
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$(src_lsn)" 2>>"$FERRY_TEST_TMP/cdc.log" ||
  fail "final ferry-cdc run failed: $(tail -5 "$FERRY_TEST_TMP/cdc.log")"

kcat -C -b "$FERRY_BROKERS" -t cdc_kill9.public.events -o beginning -e -q \
  >"$FERRY_TEST_TMP/events.txt"
# A partition that no longer starts at offset 0 lost its oldest messages to
# the broker's retention, not to ferry-cdc: say so rather than "lost".
for p in $(kcat -L -b "$FERRY_BROKERS" -t cdc_kill9.public.events | sed -n 's/.*partition \([0-9]*\),.*/\1/p'); do
  first=$(kcat -C -b "$FERRY_BROKERS" -t cdc_kill9.public.events -p "$p" -o beginning -c 1 -e -q -f '%o\n')
  [ -z "$first" ] || [ "$first" = 0 ] ||
    fail "partition $p starts at offset $first: the broker dropped old messages (ferry-devbroker keeps about 5 MiB per partition)"
done
/usr/bin/python3 - "$FERRY_TEST_TMP/events.txt" "$n" <<'PY'
import json, sys
n = int(sys.argv[2])
seen_ins, seen_upd, lsn_of = set(), set(), {}
dups = 0
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    e = json.loads(line)
    k = (e["op"], e["after"]["id"], e["after"]["v"])
    lsn = e["source"]["lsn"]
    if k in lsn_of:
        dups += 1
        assert lsn_of[k] == lsn, "a change sent again must carry the same LSN: %r" % (k,)
    lsn_of[k] = lsn
    (seen_ins if e["op"] == "c" else seen_upd).add(e["after"]["id"])
want_ins = set(range(1, n * 50 + 1))
want_upd = {t * 50 + 1 + i for t in range(n) for i in range(10)}
missing = (want_ins - seen_ins, want_upd - seen_upd)
assert not missing[0] and not missing[1], "lost changes: %d inserts, %d updates" % (len(missing[0]), len(missing[1]))
print("all %d inserts and %d updates present; %d duplicates, same LSNs" % (len(want_ins), len(want_upd), dups))
PY
