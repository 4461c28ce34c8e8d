# A re-snapshot of one table while streaming, under concurrent updates,
# inserts and deletes: triggered by a row in the signal table, read in
# chunks between watermarks.  Afterwards Kafka's latest event per key equals
# the source (the slot was created without a snapshot, so the table's
# untouched rows reach Kafka only through the re-snapshot), and the other
# table was not re-read.
PFX=snapr_$(date +%s%N)
fresh_dbs cdc_snapr
src_psql <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, note text);
CREATE TABLE other (id int PRIMARY KEY);
CREATE TABLE ferry_signal (id text PRIMARY KEY, type text, data text);
INSERT INTO t SELECT g, 0, 'n' || g FROM generate_series(1, 6000) g;
INSERT INTO other SELECT generate_series(1, 10);
SQL
start_devbroker "$FERRY_TEST_TMP/broker" --topic "$PFX.public.t:8"
write_cdc_config "$FERRY_TEST_TMP/ferry.yaml" cdc_snapr "$PFX" "$DEV_BROKERS" t other
# Each chunk's window is widened to 30 ms so that concurrent changes land in
# windows; without the window rule the test fails.
FERRY_TEST_RESNAPSHOT_WINDOW_MS=30 \
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --snapshot never --signal-table public.ferry_signal \
  --resnapshot-chunk 100 --status-interval 1 2>"$FERRY_TEST_TMP/cdc.log" &
cdc=$!
track_pid $cdc
wait_until 120 grep -q "streaming from slot" "$FERRY_TEST_TMP/cdc.log" || fail "ferry-cdc did not start"

# The writer: every row is updated or deleted once, in random order, so a
# change that an older chunk copy overwrote would stay wrong in Kafka.
(
  i=0
  shuf -i 1-6000 | paste -d, - - - - | while IFS=, read -r a b c d; do
    [ -f "$FERRY_TEST_TMP/stop" ] && break
    i=$((i + 1))
    echo "BEGIN;
UPDATE t SET v = v + 1, note = 'upd $i' WHERE id IN ($a, $b, $c);
DELETE FROM t WHERE id = $d;
INSERT INTO t VALUES ($((10000 + i)), $i, 'new');
COMMIT;
SELECT pg_sleep(0.002);"
  done | src_psql >/dev/null
) &
writer=$!
track_pid $writer
sleep 0.3
src_psql -c "INSERT INTO ferry_signal VALUES ('resnap-1', 'execute-snapshot', '{\"data-collections\": [\"public.t\"]}')"
wait_until 120 grep -q 're-snapshot of table "public.t" complete' "$FERRY_TEST_TMP/cdc.log" ||
  fail "the re-snapshot did not complete: $(tail -5 "$FERRY_TEST_TMP/cdc.log")"
wait $writer
end=$(src_psql -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
wait_until 60 slot_confirmed_at_least cdc_snapr "$end" || fail "ferry-cdc did not catch up"
kill -TERM $cdc
wait $cdc || fail "ferry-cdc did not stop cleanly: $(tail -5 "$FERRY_TEST_TMP/cdc.log")"
grep 're-snapshot' "$FERRY_TEST_TMP/cdc.log"

src_psql -c "SELECT json_object_agg(id, json_build_object('v', v, 'note', note)) FROM t" >"$FERRY_TEST_TMP/src.json"
kcat -C -b "$DEV_BROKERS" -t "$PFX.public.t" -o beginning -e -q -f '%k\t%s\n' >"$FERRY_TEST_TMP/ev.txt"
kcat -C -b "$DEV_BROKERS" -t "$PFX.public.other" -o beginning -e -q 2>/dev/null | grep . >/dev/null &&
  fail "the other table was re-read"
/usr/bin/python3 - "$FERRY_TEST_TMP/src.json" "$FERRY_TEST_TMP/ev.txt" <<'PY'
import json, sys
src = json.load(open(sys.argv[1]))
last, ops = {}, {}
for line in open(sys.argv[2]):
    k, _, v = line.rstrip("\n").partition("\t")
    id_ = str(json.loads(k)["id"])
    e = None if v in ("", "null") else json.loads(v)
    if e is not None:
        ops[e["op"]] = ops.get(e["op"], 0) + 1
    last[id_] = {"v": e["after"]["v"], "note": e["after"]["note"]} if e is not None and e["after"] else None
live = {k: v for k, v in last.items() if v is not None}
diff = [k for k in set(live) | set(src) if live.get(k) != src.get(k)]
for k in sorted(diff)[:10]:
    print("key %s: kafka %r, source %r" % (k, live.get(k), src.get(k)))
assert not diff, "%d keys differ" % len(diff)
assert ops.get("r", 0) > 5000 and ops.get("u", 0) > 0, ops
print("kafka's latest event per key equals the source: %d rows; ops %r" % (len(src), ops))
PY
# The table's re-snapshot records, on partition 0 of the snapshot topic
# under a key of their own: started at its first chunk's watermark (the
# lowest pair of its rows), complete at its last chunk's, after every row.
kcat -C -b "$DEV_BROKERS" -t "$PFX.snapshot" -p 0 -o beginning -e -q -f '%k\t%s\n' >"$FERRY_TEST_TMP/snap.txt"
/usr/bin/python3 - "$FERRY_TEST_TMP/snap.txt" "$FERRY_TEST_TMP/ev.txt" <<'PY'
import json, sys
def lsn(s):
    hi, lo = s.split("/")
    return int(hi, 16) << 32 | int(lo, 16)
recs = [tuple(map(json.loads, l.rstrip("\n").split("\t", 1))) for l in open(sys.argv[1])]
table = [(k, v) for k, v in recs if v["status"].startswith("table_")]
assert [v["status"] for k, v in table] == ["table_started", "table_complete"], recs
for k, v in table:
    assert k == {"slot": "cdc_snapr", "schema": "public", "table": "t"}, k
    assert (v["slot"], v["schema"], v["table"]) == ("cdc_snapr", "public", "t"), v
seqs = []
for line in open(sys.argv[2]):
    _, _, val = line.rstrip("\n").partition("\t")
    e = None if val in ("", "null") else json.loads(val)
    if e is not None and e["op"] == "r":
        seqs.append(int(json.loads(e["source"]["sequence"])[0]))
assert lsn(table[0][1]["lsn"]) == min(seqs), (table[0][1]["lsn"], min(seqs))
assert lsn(table[1][1]["lsn"]) >= max(seqs), (table[1][1]["lsn"], max(seqs))
print("re-snapshot records: started at %s, complete at %s" % (table[0][1]["lsn"], table[1][1]["lsn"]))
PY
