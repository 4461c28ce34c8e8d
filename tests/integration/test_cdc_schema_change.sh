# Schema changes at the source while ferry-cdc streams.  An added column
# passes through; a dropped column is gone from the events after it and is
# never marked "absent" (an unchanged TOAST value), whether it was a plain
# int or a TOAST-able text; a changed type is seen too.  Each change goes
# out on <prefix>.schema before the event that revealed it, at that
# event's LSN.  A re-snapshot after the changes reads the new columns.
# With the DDL event trigger of docs/setup.md the change is placed exactly
# at the DDL: an UPDATE before the DROP in the same transaction still has
# its unchanged TOAST value marked absent, the one after it has no column.
PFX=schg_$(date +%s%N | tail -c 9)
fresh_dbs cdc_schg
src_psql <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, a text, b int, big text);
CREATE TABLE t2 (id int PRIMARY KEY, x int, txt text);
CREATE TABLE ferry_signal (id text PRIMARY KEY, type text, data text);
INSERT INTO t SELECT g, 'a' || g, g, 'big' FROM generate_series(1, 20) g;
INSERT INTO t2 VALUES (1, 0, (SELECT string_agg(md5(random()::text || i), '')
                              FROM generate_series(1, 300) i));
SQL
write_cdc_config "$FERRY_TEST_TMP/ferry.yaml" cdc_schg "$PFX" "$FERRY_BROKERS" t t2
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --snapshot never --signal-table public.ferry_signal \
  --resnapshot-chunk 7 --status-interval 1 2>"$FERRY_TEST_TMP/cdc.log" &
cdc=$!
track_pid $cdc
wait_until 120 grep -q "streaming from slot" "$FERRY_TEST_TMP/cdc.log" ||
  fail "ferry-cdc did not start: $(tail -3 "$FERRY_TEST_TMP/cdc.log")"
grep -q 'the source has no event trigger writing "ferry-ddl" messages' "$FERRY_TEST_TMP/cdc.log" ||
  fail "ferry-cdc does not say that the trigger is missing"

caught_up() {
  local end
  end=$(src_psql -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
  wait_until 60 slot_confirmed_at_least cdc_schg "$end" || fail "ferry-cdc did not catch up"
}
# Every reason to read the catalog again happens more than a second after
# the last read, so that none is skipped by the once-a-second limit.
src_psql -c "ALTER TABLE t ADD COLUMN c text"
src_psql -c "INSERT INTO t VALUES (100, 'new', 1, 'big', 'see')"
sleep 1.2
src_psql -c "ALTER TABLE t DROP COLUMN b"
src_psql -c "UPDATE t SET a = 'after drop b' WHERE id = 1"
sleep 1.2
src_psql -c "ALTER TABLE t DROP COLUMN big"
src_psql -c "UPDATE t SET a = 'after drop big' WHERE id = 2"
sleep 1.2
src_psql -c "ALTER TABLE t ALTER COLUMN a TYPE varchar(40)"
src_psql -c "UPDATE t SET a = 'after retype' WHERE id = 3"
caught_up
# The re-snapshot reads the columns as they are now.
src_psql -c "INSERT INTO ferry_signal VALUES ('s1', 'execute-snapshot', '{\"data-collections\": [\"public.t\"]}')"
wait_until 60 grep -q 're-snapshot of table "public.t" complete' "$FERRY_TEST_TMP/cdc.log" ||
  fail "the re-snapshot did not complete: $(grep re-snapshot "$FERRY_TEST_TMP/cdc.log" | tail -3)"

# With the event trigger of docs/setup.md (installed as written there):
# exact, even within one transaction.
sed -n '/^   CREATE OR REPLACE FUNCTION public.ferry_ddl_message/,/^     EXECUTE FUNCTION public.ferry_ddl_message();/p' \
  "$FERRY_SRC_DIR/docs/setup.md" | sed 's/^   //' >"$FERRY_TEST_TMP/trigger.sql"
grep -q "CREATE EVENT TRIGGER" "$FERRY_TEST_TMP/trigger.sql" || fail "no trigger SQL in docs/setup.md"
src_psql -f "$FERRY_TEST_TMP/trigger.sql"
kill -TERM $cdc
wait $cdc || fail "ferry-cdc did not stop cleanly: $(tail -3 "$FERRY_TEST_TMP/cdc.log")"
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --status-interval 1 2>"$FERRY_TEST_TMP/cdc2.log" &
cdc=$!
track_pid $cdc
wait_until 60 grep -q "streaming from slot" "$FERRY_TEST_TMP/cdc2.log" || fail "ferry-cdc did not restart"
grep -q 'the source.s event trigger announces DDL' "$FERRY_TEST_TMP/cdc2.log" ||
  fail "ferry-cdc did not see the trigger: $(grep -i trigger "$FERRY_TEST_TMP/cdc2.log")"
src_psql <<'SQL'
BEGIN;
UPDATE t2 SET x = 1 WHERE id = 1;
ALTER TABLE t2 DROP COLUMN txt;
UPDATE t2 SET x = 2 WHERE id = 1;
COMMIT;
SQL
caught_up
kill -TERM $cdc
wait $cdc || fail "ferry-cdc did not stop cleanly: $(tail -3 "$FERRY_TEST_TMP/cdc2.log")"
grep 'changed at\|re-snapshot of table' "$FERRY_TEST_TMP"/cdc*.log

for x in t t2; do
  kcat -C -b "$FERRY_BROKERS" -t "$PFX.public.$x" -o beginning -e -q -f '%s\n' >"$FERRY_TEST_TMP/$x.json"
done
kcat -C -b "$FERRY_BROKERS" -t "$PFX.schema" -o beginning -e -q -f '%k\t%s\n' >"$FERRY_TEST_TMP/schema.txt"
/usr/bin/python3 - "$FERRY_TEST_TMP" <<'PY'
import json, sys
d = sys.argv[1]
def events(name):
    return [json.loads(l) for l in open(d + "/" + name) if l.strip() not in ("", "null")]
t, t2 = events("t.json"), events("t2.json")
recs = []
for line in open(d + "/schema.txt"):
    k, _, v = line.rstrip("\n").partition("\t")
    recs.append((json.loads(k), json.loads(v)))
def lsn(s):
    hi, lo = s.split("/")
    return int(hi, 16) << 32 | int(lo, 16)
def cols(r, which):
    return [(c["name"], c["type"]) for c in r[which]]
def find(op, id_, table):
    xs = [e for e in table if e["op"] == op and (e["after"] or e["before"])["id"] == id_]
    assert xs, (op, id_)
    return xs[-1]
trecs = [v for k, v in recs if k == {"schema": "public", "table": "t"}]
assert len(trecs) == 4, [cols(r, "new_columns") for r in trecs]
base = [("id", "integer"), ("a", "text")]
assert cols(trecs[0], "old_columns") == base + [("b", "integer"), ("big", "text")], trecs[0]
assert cols(trecs[0], "new_columns") == base + [("b", "integer"), ("big", "text"), ("c", "text")]
assert cols(trecs[1], "new_columns") == base + [("big", "text"), ("c", "text")]
assert cols(trecs[2], "new_columns") == base + [("c", "text")]
assert cols(trecs[3], "new_columns") == [("id", "integer"), ("a", "character varying(40)"), ("c", "text")]
# Each record is at the LSN of the change that revealed it.
ins = find("c", 100, t)
assert ins["after"]["c"] == "see", ins
assert lsn(trecs[0]["lsn"]) == ins["source"]["lsn"], (trecs[0]["lsn"], ins["source"]["lsn"])
for rec, id_, gone in ((trecs[1], 1, "b"), (trecs[2], 2, "big")):
    u = find("u", id_, t)
    assert lsn(rec["lsn"]) == u["source"]["lsn"], (rec["lsn"], u["source"]["lsn"])
    assert gone not in u["after"], u
    assert gone not in u.get("absent", []), "dropped column %s marked absent: %r" % (gone, u)
u = find("u", 3, t)
assert lsn(trecs[3]["lsn"]) == u["source"]["lsn"] and u["after"]["a"] == "after retype"
# The re-snapshot read the new columns.
reads = [e["after"] for e in t if e["op"] == "r"]
assert len(reads) == 21, len(reads)
assert all(sorted(r) == ["a", "c", "id"] for r in reads), reads[0]
# With the trigger: the update before the DROP keeps its unchanged TOAST
# value absent, the record is at the DDL, the update after has no column.
t2recs = [v for k, v in recs if k == {"schema": "public", "table": "t2"}]
assert len(t2recs) == 1, t2recs
ups = [e for e in t2 if e["op"] == "u"]
assert len(ups) == 2, ups
assert ups[0]["absent"] == ["txt"], ups[0]
assert "absent" not in ups[1] and "txt" not in ups[1]["after"], ups[1]
r = lsn(t2recs[0]["lsn"])
assert ups[0]["source"]["lsn"] < r < ups[1]["source"]["lsn"], (ups[0]["source"]["lsn"], r, ups[1]["source"]["lsn"])
assert cols(t2recs[0], "new_columns") == [("id", "integer"), ("x", "integer")]
print("schema changes: %d records, each before the event that showed it; no dropped column marked absent" % len(recs))
PY
[ $? -eq 0 ] || fail "the schema changes were not handled"
src_psql -c "DROP EVENT TRIGGER ferry_ddl" -c "DROP FUNCTION public.ferry_ddl_message()"
