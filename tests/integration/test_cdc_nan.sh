# NaN, Infinity and -Infinity in numeric and float columns.  wal2json 2.5
# streams them as null; the snapshot reads "NaN".  ferry-cdc reads a NOT
# NULL column's null back from the row and publishes the real value, with
# a warning naming table, column, key and LSN; when the row changed
# meanwhile it keeps null and says so.  A nullable column's null cannot be
# told from SQL NULL: `ferry-map check` counts such values per column.
PFX=nan_$(date +%s%N | tail -c 9)
fresh_dbs cdc_nan
src_psql <<'SQL'
CREATE TABLE m (id int PRIMARY KEY, nn numeric NOT NULL, fl float8 NOT NULL,
                r real NOT NULL, nl numeric);
INSERT INTO m VALUES (1, 'NaN', '-Infinity', 'Infinity', 'NaN');
SQL
write_cdc_config "$FERRY_TEST_TMP/ferry.yaml" cdc_nan "$PFX" "$FERRY_BROKERS" m
sed -i 's/    legacy_id_column: legacy_id/&\n    columns: { nn: nn, fl: fl, r: r, nl: nl }/' "$FERRY_TEST_TMP/ferry.yaml"
tgt_psql -c "CREATE TABLE m (id uuid PRIMARY KEY, legacy_id int UNIQUE, nn numeric, fl float8, r real, nl numeric)"

# The snapshot: the real text forms.
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc0.log" ||
  fail "the snapshot failed: $(tail -3 "$FERRY_TEST_TMP/cdc0.log")"
src_psql <<'SQL'
INSERT INTO m VALUES (2, 'NaN', 1.5, 'NaN', 'NaN');
INSERT INTO m VALUES (3, 'Infinity', 'Infinity', '-Infinity', 7);
UPDATE m SET fl = '-Infinity' WHERE id = 2;
INSERT INTO m VALUES (4, 1, 2, 3, NULL);
SQL
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc1.log" ||
  fail "ferry-cdc failed: $(tail -3 "$FERRY_TEST_TMP/cdc1.log")"
# The row changes before ferry-cdc reads it back: the INSERT's NaN is
# gone from the row by then.
src_psql <<'SQL'
INSERT INTO m VALUES (5, 'NaN', 0, 0, 0);
UPDATE m SET nn = 5 WHERE id = 5;
SQL
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc2.log" ||
  fail "ferry-cdc failed: $(tail -3 "$FERRY_TEST_TMP/cdc2.log")"
cat "$FERRY_TEST_TMP"/cdc[12].log | grep 'wal2json sent null' || true

kcat -C -b "$FERRY_BROKERS" -t "$PFX.public.m" -o beginning -e -q -f '%s\n' >"$FERRY_TEST_TMP/ev.json"
/usr/bin/python3 - "$FERRY_TEST_TMP/ev.json" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip() and l.strip() != "null"]
def after(op, id_, nth=0):
    xs = [e["after"] for e in evs if e["op"] == op and e["after"]["id"] == id_]
    assert len(xs) > nth, (op, id_, xs)
    return xs[nth]
def want(row, **kv):
    for k, v in kv.items():
        assert row[k] == v, "%s: %r, expected %r in %r" % (k, row[k], v, row)
# The snapshot's text, and the streamed changes carry the same.
want(after("r", 1), nn="NaN", fl="-Infinity", r="Infinity", nl="NaN")
want(after("c", 2), nn="NaN", fl="1.5", r="NaN")
want(after("c", 3), nn="Infinity", fl="Infinity", r="-Infinity", nl="7")
want(after("u", 2), nn="NaN", fl="-Infinity", r="NaN")
want(after("c", 4), nn="1", fl="2", r="3", nl=None)
# The nullable column cannot be told from NULL: the wal2json 2.5 limit.
want(after("c", 2), nl=None)
# The row changed before it was read back: null, and the update after it
# carries the newer value.
want(after("c", 5), nn=None)
want(after("u", 5), nn="5")
print("NaN and Infinity of NOT NULL columns streamed as the snapshot has them")
PY
[ $? -eq 0 ] || fail "the streamed values differ"
grep -q 'table "public.m" column "nn" key id=2 at 0/[0-9A-F]*: wal2json sent null for a NOT NULL column (NaN or Infinity); published the row.s current value NaN' \
  "$FERRY_TEST_TMP/cdc1.log" || fail "no warning naming table, column, key and LSN"
grep -q 'table "public.m" column "r" key id=2 at .*published the row.s current value NaN' "$FERRY_TEST_TMP/cdc1.log" ||
  fail "no warning for the update's column r"
grep -q 'table "public.m" column "nn" key id=5 at .*the row changed meanwhile (now 5): published null' \
  "$FERRY_TEST_TMP/cdc2.log" || fail "no warning that the row changed meanwhile: $(cat "$FERRY_TEST_TMP/cdc2.log")"

# ferry-map check counts them, per column.
ferry-map check -c "$FERRY_TEST_TMP/ferry.yaml" >"$FERRY_TEST_TMP/check.out" 2>&1 || true
cat "$FERRY_TEST_TMP/check.out"
grep -q 'warning: source column "nn" (numeric) of "public.m" holds 3 NaN or Infinity value(s): wal2json 2.5 streams them as null; the column is NOT NULL' \
  "$FERRY_TEST_TMP/check.out" || fail "check does not count nn's NaN values"
grep -q 'source column "fl" (double precision) of "public.m" holds 3 ' "$FERRY_TEST_TMP/check.out" ||
  fail "check does not count fl's"
grep -q 'source column "nl" (numeric) of "public.m" holds 2 NaN or Infinity value(s).*the column is nullable, so a streamed change cannot carry them' \
  "$FERRY_TEST_TMP/check.out" || fail "check does not say that the nullable column cannot carry them"
echo "NaN and Infinity: streamed where they can be told, warned and counted"
