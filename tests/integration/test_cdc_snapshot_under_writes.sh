# The initial snapshot is taken while a writer inserts, updates and deletes
# rows continuously, in two tables read in parallel, each cut into three key
# ranges read by three readers (--snapshot-split; one key is composite):
# afterwards, per key, the
# last event in Kafka (read per partition, in order) equals the source's
# final row, and a deleted row's last event is its delete or tombstone:
# nothing missing, nothing resurrected.  Snapshot rows are op "r" with
# source.snapshot "true", exactly one "last", and the text forms of streamed
# rows.
PFX=snapw_$(date +%s%N)
fresh_dbs cdc_snapw
src_psql <<'SQL'
CREATE TABLE a (id int PRIMARY KEY, v int NOT NULL, n numeric, f float8,
                b bool, ba bytea, j jsonb, ts timestamptz, t text);
CREATE TABLE b (k1 int, k2 text, v int NOT NULL, PRIMARY KEY (k1, k2));
INSERT INTO a SELECT g, 0, g * 1.5, g / 3.0, g % 2 = 0, '\xdead'::bytea,
  '{"x": 1}', '2024-01-01 00:00:00+00', 'row ' || g
  FROM generate_series(1, 15000) g;
INSERT INTO b SELECT g % 100, 'k' || g, 0 FROM generate_series(1, 40000) g;
SQL
# A private broker: each devbroker partition keeps only about 5 MiB.
start_devbroker "$FERRY_TEST_TMP/broker" --topic "$PFX.public.a:16" --topic "$PFX.public.b:16"
write_cdc_config "$FERRY_TEST_TMP/ferry.yaml" cdc_snapw "$PFX" "$DEV_BROKERS" a b

# The writer: small transactions of inserts, updates and deletes through one
# session until told to stop, so that they overlap the snapshot and the
# hand-off.
(
  i=0
  while [ ! -f "$FERRY_TEST_TMP/stop" ]; do
    i=$((i + 1))
    lo=$(( (i * 37) % 15000 + 1 ))
    g=$(( (i * 13) % 40000 + 1 )); h=$(( (i * 101) % 40000 + 1 ))
    echo "BEGIN;
UPDATE a SET v = v + 1, t = 'upd $i' WHERE id BETWEEN $lo AND $((lo + 20));
DELETE FROM a WHERE id = $(( (i * 7919) % 15000 + 1 ));
INSERT INTO a VALUES ($((100000 + i)), $i, NULL, 0.5, NULL, NULL, NULL, NULL, 'new')
  ON CONFLICT DO NOTHING;
UPDATE b SET v = v + 1 WHERE k1 = $((g % 100)) AND k2 = 'k$g';
DELETE FROM b WHERE k1 = $((h % 100)) AND k2 = 'k$h';
COMMIT;
SELECT pg_sleep(0.003);"
  done | src_psql >/dev/null
) &
writer=$!
track_pid $writer
sleep 1

ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --status-interval 1 --snapshot-chunk 500 \
  --snapshot-threads 3 --snapshot-split 1 2>"$FERRY_TEST_TMP/cdc.log" &
cdc=$!
track_pid $cdc
wait_until 120 grep -q "snapshot complete" "$FERRY_TEST_TMP/cdc.log" ||
  fail "the snapshot did not complete: $(tail -5 "$FERRY_TEST_TMP/cdc.log")"
sleep 2
touch "$FERRY_TEST_TMP/stop"
wait $writer
end=$(src_lsn)
kill -TERM $cdc
wait $cdc || fail "ferry-cdc did not stop cleanly: $(tail -5 "$FERRY_TEST_TMP/cdc.log")"
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$end" 2>>"$FERRY_TEST_TMP/cdc.log" ||
  fail "ferry-cdc failed to catch up: $(tail -5 "$FERRY_TEST_TMP/cdc.log")"
grep "with 3 readers" "$FERRY_TEST_TMP/cdc.log" >/dev/null || fail "the tables were not read in parallel"
for t in a b; do
  grep "table \"public.$t\" ([0-9]* pages): read in 3 key ranges" "$FERRY_TEST_TMP/cdc.log" >/dev/null ||
    fail "table $t was not read in key ranges: $(grep -E 'key ranges|readers' "$FERRY_TEST_TMP/cdc.log")"
done

src_psql -c "SELECT json_agg(json_build_object('id', id, 'v', v, 'n', n::text, 'f', f::text, 'b', b, 'ba', ba::text, 'j', j::text, 'ts', ts::text, 't', t)) FROM a" >"$FERRY_TEST_TMP/a.json"
src_psql -c "SELECT json_agg(json_build_object('k1', k1, 'k2', k2, 'v', v)) FROM b" >"$FERRY_TEST_TMP/b.json"

/usr/bin/python3 - "$DEV_BROKERS" "$PFX" "$FERRY_TEST_TMP" <<'PY'
import json, sys
from kafka import KafkaConsumer, TopicPartition
brokers, pfx, tmp = sys.argv[1:]
def latest(topic):
    c = KafkaConsumer(bootstrap_servers=brokers.split(","), enable_auto_commit=False,
                      consumer_timeout_ms=15000, api_version=(2, 5, 0))
    parts = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic)]
    c.assign(parts)
    c.seek_to_beginning(*parts)
    last, ops, snap, lasts, reads = {}, {}, 0, 0, {}
    for m in c:   # each partition in order; a key lives in one partition
        k = m.key.decode()
        if m.value is None:
            last[k] = None
            continue
        e = json.loads(m.value)
        ops[e["op"]] = ops.get(e["op"], 0) + 1
        if e["op"] == "r":
            snap += 1
            reads[k] = reads.get(k, 0) + 1
            assert reads[k] == 1, "%s: key %s read twice by the snapshot (overlapping ranges)" % (topic, k)
            assert e["source"]["snapshot"] in ("true", "last"), e["source"]
            lasts += e["source"]["snapshot"] == "last"
            assert e["transaction"] is None and e["before"] is None
        else:
            assert e["source"]["snapshot"] == "false"
        last[k] = e["after"]
    c.close()
    return last, ops, snap, lasts
def check(table, keycols, rows):
    last, ops, snap, lasts = latest("%s.public.%s" % (pfx, table))
    want = {json.dumps({c: r[c] for c in keycols}, separators=(",", ":")): r for r in rows}
    bad = 0
    for k, r in want.items():
        got = last.get(k)
        if got is None:
            print("%s %s: missing (last event %r)" % (table, k, "absent" if k not in last else "delete"))
            bad += 1
            continue
        for c, v in r.items():
            g = got.get(c)
            if c == "b" and v is not None: v = bool(v)
            if g != v:
                print("%s %s column %s: kafka %r, source %r" % (table, k, c, g, v)); bad += 1
    for k, v in last.items():
        if v is not None and k not in want:
            print("%s %s: resurrected: %r" % (table, k, v)); bad += 1
    assert bad == 0, "%d differences in %s" % (bad, table)
    print("%s: %d keys match the source; ops %r" % (table, len(want), ops))
    return snap, lasts, ops
a = json.load(open(tmp + "/a.json"))
b = json.load(open(tmp + "/b.json"))
sa, la, oa = check("a", ["id"], a)
sb, lb, ob = check("b", ["k1", "k2"], b)
assert la + lb == 1, "exactly one snapshot row is \"last\", found %d" % (la + lb)
assert oa.get("u", 0) > 0 and oa.get("d", 0) > 0 and oa.get("c", 0) > 0, "the writer overlapped the stream"
assert ob.get("u", 0) > 0 and ob.get("d", 0) > 0, "the writer overlapped the stream"
print("snapshot rows: %d + %d, one last" % (sa, sb))
PY
