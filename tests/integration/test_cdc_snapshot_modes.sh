# --snapshot modes: initial snapshots only when the slot is created (a second
# start publishes no "r" events); never publishes no "r" events and streams
# from the new slot; always snapshots again at every start, keeping the slot;
# and an initial snapshot killed half-way is taken again at the next start,
# after which Kafka's last event per key equals the source.
PFX=snapm_$(date +%s%N)
fresh_dbs cdc_snapm
src_psql <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 300) g;
SQL
count_ops() { # TOPIC OP
  kcat -C -b "$3" -t "$1" -o beginning -e -q 2>/dev/null | grep -c "\"op\":\"$2\"" || true
}
# The last event per key equals the source's rows (deleted rows: a delete).
same_as_source() { # BROKERS TOPIC
  src_psql -c "SELECT coalesce(json_object_agg(id, v), '{}') FROM t" >"$FERRY_TEST_TMP/src.json"
  kcat -C -b "$1" -t "$2" -o beginning -e -q -f '%k\t%s\n' >"$FERRY_TEST_TMP/ev.txt"
  /usr/bin/python3 - "$FERRY_TEST_TMP/src.json" "$FERRY_TEST_TMP/ev.txt" <<'PY'
import json, sys
src = json.load(open(sys.argv[1]))
last = {}
for line in open(sys.argv[2]):
    k, _, v = line.rstrip("\n").partition("\t")
    if not k: continue
    id_ = str(json.loads(k)["id"])
    last[id_] = None if v in ("", "null") else json.loads(v)["after"]
live = {k: a["v"] for k, a in last.items() if a is not None}
assert live == src, "kafka %d live keys, source %d; differ on %r" % (
    len(live), len(src), sorted(set(live.items()) ^ set(src.items()))[:5])
print("kafka's last event per key equals the source (%d rows)" % len(src))
PY
}
# Every "complete" record's lsn is exactly the sequence[0] of the rows of
# its snapshot (C for a new slot, F for always or a restarted snapshot),
# and the last one's is the last rows'.
complete_is_rows_lsn() { # BROKERS PREFIX
  kcat -C -b "$1" -t "$2.snapshot" -o beginning -e -q >"$FERRY_TEST_TMP/snap.txt"
  kcat -C -b "$1" -t "$2.public.t" -o beginning -e -q >"$FERRY_TEST_TMP/rows.txt"
  /usr/bin/python3 - "$FERRY_TEST_TMP/snap.txt" "$FERRY_TEST_TMP/rows.txt" <<'PY'
import json, sys
def lsn(s):
    hi, lo = s.split("/")
    return int(hi, 16) << 32 | int(lo, 16)
done = [lsn(r["lsn"]) for r in map(json.loads, open(sys.argv[1]))
        if r["status"] == "complete"]
seqs = [int(json.loads(e["source"]["sequence"])[0])
        for e in map(json.loads, filter(str.strip, open(sys.argv[2])))
        if e and e["op"] == "r"]
assert done and seqs, (done, seqs[:3])
assert set(seqs) == set(done), "rows at %r, complete records at %r" % (
    sorted(set(seqs)), done)
assert done[-1] == seqs[-1], (done, seqs[-1])
print("complete records at the rows' sequence[0]: %r" % done)
PY
}

# initial: the slot is created and the snapshot published.
write_cdc_config "$FERRY_TEST_TMP/i.yaml" cdc_snapm_i "${PFX}i" "$FERRY_BROKERS" t
ferry-cdc -c "$FERRY_TEST_TMP/i.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/i1.log" ||
  fail "initial: $(tail -3 "$FERRY_TEST_TMP/i1.log")"
[ "$(count_ops "${PFX}i.public.t" r "$FERRY_BROKERS")" -eq 300 ] || fail "initial: expected 300 r events"
kcat -C -b "$FERRY_BROKERS" -t "${PFX}i.public.t" -o beginning -e -q | grep -c '"snapshot":"last"' | grep -x 1 >/dev/null ||
  fail "initial: expected one \"last\""
src_psql -c "UPDATE t SET v = 'changed' WHERE id <= 10; DELETE FROM t WHERE id > 290"
ferry-cdc -c "$FERRY_TEST_TMP/i.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/i2.log" ||
  fail "initial, second start: $(tail -3 "$FERRY_TEST_TMP/i2.log")"
[ "$(count_ops "${PFX}i.public.t" r "$FERRY_BROKERS")" -eq 300 ] || fail "initial: the second start took a snapshot"
[ "$(count_ops "${PFX}i.public.t" u "$FERRY_BROKERS")" -eq 10 ] || fail "initial: updates not streamed"
same_as_source "$FERRY_BROKERS" "${PFX}i.public.t"
complete_is_rows_lsn "$FERRY_BROKERS" "${PFX}i" || fail "initial: the complete record's lsn"
echo "initial: ok"

# never: no snapshot, the new slot streams from its creation.
write_cdc_config "$FERRY_TEST_TMP/n.yaml" cdc_snapm_n "${PFX}n" "$FERRY_BROKERS" t
ferry-cdc -c "$FERRY_TEST_TMP/n.yaml" --snapshot never --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/n1.log" ||
  fail "never: $(tail -3 "$FERRY_TEST_TMP/n1.log")"
src_psql -c "INSERT INTO t VALUES (1000, 'new')"
ferry-cdc -c "$FERRY_TEST_TMP/n.yaml" --snapshot never --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/n2.log" ||
  fail "never: $(tail -3 "$FERRY_TEST_TMP/n2.log")"
[ "$(count_ops "${PFX}n.public.t" r "$FERRY_BROKERS")" -eq 0 ] || fail "never: a snapshot was taken"
[ "$(count_ops "${PFX}n.public.t" c "$FERRY_BROKERS")" -eq 1 ] || fail "never: the insert was not streamed"
echo "never: ok"

# always: the existing slot (initial's) is kept, and a snapshot taken again.
src_psql -c "UPDATE t SET v = 'again' WHERE id BETWEEN 11 AND 20"
ferry-cdc -c "$FERRY_TEST_TMP/i.yaml" --snapshot always --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/a1.log" ||
  fail "always: $(tail -3 "$FERRY_TEST_TMP/a1.log")"
grep -q "snapshot always: taking a snapshot" "$FERRY_TEST_TMP/a1.log" || fail "always: no snapshot logged"
rows=$(src_psql -c "SELECT count(*) FROM t")
[ "$(count_ops "${PFX}i.public.t" r "$FERRY_BROKERS")" -eq $((300 + rows)) ] ||
  fail "always: expected $((300 + rows)) r events, found $(count_ops "${PFX}i.public.t" r "$FERRY_BROKERS")"
same_as_source "$FERRY_BROKERS" "${PFX}i.public.t"
complete_is_rows_lsn "$FERRY_BROKERS" "${PFX}i" || fail "always: the complete record's lsn"
echo "always: ok"

# An interrupted initial snapshot: a slow broker, kill -9 half-way, restart.
start_devbroker "$FERRY_TEST_TMP/broker"
write_cdc_config "$FERRY_TEST_TMP/k.yaml" cdc_snapm_k "${PFX}k" "$DEV_BROKERS" t
echo "rtt all 100" >"$DEV_CONTROL"
wait_until 30 grep -q "control: rtt all 100 -> ok" "$FERRY_TEST_TMP/broker/devbroker.log" || fail "control (rtt)"
ferry-cdc -c "$FERRY_TEST_TMP/k.yaml" --max-inflight 5 --snapshot-chunk 20 2>"$FERRY_TEST_TMP/k1.log" &
pid=$!
track_pid $pid
wait_until 120 grep -q "snapshot of 1 tables" "$FERRY_TEST_TMP/k1.log" || fail "kill: no snapshot started"
sleep 2
kill -9 $pid
wait $pid 2>/dev/null || true
grep -q "snapshot complete" "$FERRY_TEST_TMP/k1.log" && fail "kill: the snapshot completed before the kill"
partial=$(count_ops "${PFX}k.public.t" r "$DEV_BROKERS")
echo "killed after $partial snapshot rows"
echo "rtt all 0" >"$DEV_CONTROL"
# Changes while ferry-cdc is down, including deletes of rows already published.
src_psql -c "DELETE FROM t WHERE id <= 5; UPDATE t SET v = 'after kill' WHERE id BETWEEN 6 AND 15; INSERT INTO t VALUES (2000, 'late')"
ferry-cdc -c "$FERRY_TEST_TMP/k.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/k2.log" ||
  fail "kill: restart failed: $(tail -3 "$FERRY_TEST_TMP/k2.log")"
grep -q "the last snapshot was interrupted" "$FERRY_TEST_TMP/k2.log" || fail "kill: restart did not say why"
rows=$(src_psql -c "SELECT count(*) FROM t")
[ "$(count_ops "${PFX}k.public.t" r "$DEV_BROKERS")" -eq $((partial + rows)) ] ||
  fail "kill: expected $((partial + rows)) r events"
kcat -C -b "$DEV_BROKERS" -t "${PFX}k.snapshot" -o beginning -e -q | grep -o '"status":"[a-z]*"' | tr '\n' ' ' |
  grep -qx '"status":"started" "status":"started" "status":"complete" ' || fail "kill: unexpected snapshot records"
same_as_source "$DEV_BROKERS" "${PFX}k.public.t"
complete_is_rows_lsn "$DEV_BROKERS" "${PFX}k" || fail "kill: the complete record's lsn"
# A further start streams only.
ferry-cdc -c "$FERRY_TEST_TMP/k.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/k3.log" || fail "kill: third start"
[ "$(count_ops "${PFX}k.public.t" r "$DEV_BROKERS")" -eq $((partial + rows)) ] || fail "kill: a third snapshot"
echo "interrupted snapshot: ok"
