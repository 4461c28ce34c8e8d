# Compacted topics are self-sufficient with REPLICA IDENTITY FULL: a
# genuinely out-of-line value (random bytes as hex, 24 kB, stored external)
# survives UPDATEs that leave it unchanged, and a rebuild of a fresh target
# from a compacted copy of the topics (the latest event per key, tombstones
# kept) equals the source, md5 of every column.  Beside it, the same table
# without REPLICA IDENTITY FULL rebuilds with NULL where the value was: its
# updates name the column "absent", and compaction removed the event that
# carried it.  That is why `ferry-map check` warns about it, and the test
# checks the warning too.
PFX=toastc_$(date +%s%N | tail -c 9)
fresh_dbs cdc_toastc
src_psql <<'SQL'
CREATE TABLE doc (id int PRIMARY KEY, title text, body text, n int);
ALTER TABLE doc REPLICA IDENTITY FULL;
CREATE TABLE doc_plain (id int PRIMARY KEY, title text, body text, n int);
SQL
DDL="CREATE TABLE doc (id uuid PRIMARY KEY, legacy_id int UNIQUE, title text, body text, n int);
CREATE TABLE doc_plain (id uuid PRIMARY KEY, legacy_id int UNIQUE, title text, body text, n int);"
tgt_psql -c "$DDL"
write_cfg() { # FILE PREFIX TARGET_DSN
  cat >"$1" <<EOF
source: { dsn: "$SRC_DSN", slot: cdc_toastc }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: $2 }
target: { dsn: "$3", uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f }
entities:
  doc: { source: doc, target: doc, legacy_id_column: legacy_id,
         columns: { title: title, body: body, n: n } }
  doc_plain: { source: doc_plain, target: doc_plain, legacy_id_column: legacy_id,
               columns: { title: title, body: body, n: n } }
EOF
}
cfg=$FERRY_TEST_TMP/ferry.yaml
write_cfg "$cfg" "$PFX" "$TGT_DSN"

# The check warns about the table without REPLICA IDENTITY FULL only.
ferry-map check -c "$cfg" >"$FERRY_TEST_TMP/check.out" 2>&1 || true
grep -q 'warning: source table "public.doc_plain" has TOAST-able columns the mapping reads (title, body) and no REPLICA IDENTITY FULL' \
  "$FERRY_TEST_TMP/check.out" || fail "no TOAST warning for doc_plain: $(cat "$FERRY_TEST_TMP/check.out")"
grep -q 'source table "public.doc" has TOAST-able' "$FERRY_TEST_TMP/check.out" &&
  fail "a TOAST warning for doc, which has REPLICA IDENTITY FULL"

ferry-cdc -c "$cfg" --snapshot never --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc0.log" ||
  fail "slot creation failed: $(tail -3 "$FERRY_TEST_TMP/cdc0.log")"
for t in doc doc_plain; do
  src_psql <<SQL
INSERT INTO $t SELECT g, 'v0', (SELECT string_agg(md5(random()::text || g || i), '')
                                  FROM generate_series(1, 750) i), 0
  FROM generate_series(1, 6) g;
UPDATE $t SET title = 'v1', n = n + 1;
UPDATE $t SET title = 'v2', n = n + 1 WHERE id <= 4;
UPDATE $t SET n = n + 10 WHERE id = 1;
DELETE FROM $t WHERE id = 6;
SQL
done
# Genuinely out of line: 24000 bytes each, not compressed (the stored size
# is the length), in the TOAST
# table.
src_psql -c "SELECT min(pg_column_size(body)), min(length(body)),
                    pg_relation_size(reltoastrelid) > 0
               FROM doc, pg_class WHERE relname = 'doc' GROUP BY reltoastrelid" |
  grep -qx '24000|24000|t' || fail "the body is not stored out of line uncompressed: $(src_psql -c "SELECT pg_column_size(body) FROM doc LIMIT 1")"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc1.log" ||
  fail "ferry-cdc failed: $(tail -3 "$FERRY_TEST_TMP/cdc1.log")"

for t in doc doc_plain; do
  kcat -C -b "$FERRY_BROKERS" -t "$PFX.public.$t" -o beginning -e -q -Z -f '%k\t%s\n' \
    >"$FERRY_TEST_TMP/$t.events"
done

# The compacted copy: the latest event per key of each table topic, a
# tombstone where the latest is one, under a second prefix.  The
# transaction topic is not copied (its retention, cleanup.policy=delete,
# has long expired): it exists, empty.
CPX=${PFX}c
for t in transaction snapshot; do
  echo "create $CPX.$t 1" >"$FERRY_BROKER_CONTROL"
done
wait_until 10 grep -q "create $CPX.snapshot 1 -> ok" "$FERRY_STACK_DIR/devbroker.log" ||
  fail "could not create the copy's control topics"
for t in doc doc_plain; do
  /usr/bin/python3 - "$FERRY_TEST_TMP/$t.events" >"$FERRY_TEST_TMP/$t.compacted" <<'PY'
import sys
last = {}
for line in open(sys.argv[1]):
    k, _, v = line.rstrip("\n").partition("\t")
    last.pop(k, None)
    last[k] = "" if v == "NULL" else v
for k, v in last.items():
    print(k + "\t" + v)
PY
  n=$(grep -c . "$FERRY_TEST_TMP/$t.compacted")
  [ "$n" = 6 ] || fail "expected 6 keys in the compacted $t topic, got $n"
  kcat -P -b "$FERRY_BROKERS" -t "$CPX.public.$t" -K '\t' -Z \
    <"$FERRY_TEST_TMP/$t.compacted" || fail "could not write the compacted copy"
done

# A fresh target rebuilt from the compacted copy alone.
psql -qAtX -h "$FERRY_PGHOST" -p "$FERRY_TGT_PORT" -U postgres -d postgres \
  -c "DROP DATABASE IF EXISTS cdc_toastc_rb WITH (FORCE)" -c "CREATE DATABASE cdc_toastc_rb" >/dev/null
RB_DSN="host=$FERRY_PGHOST port=$FERRY_TGT_PORT user=postgres dbname=cdc_toastc_rb"
psql -qAtX -v ON_ERROR_STOP=1 -d "$RB_DSN" -c "$DDL"
write_cfg "$FERRY_TEST_TMP/rb.yaml" "$CPX" "$RB_DSN"
ferry-sink -c "$FERRY_TEST_TMP/rb.yaml" --rebuild --exit-at-end 2>"$FERRY_TEST_TMP/rb.log" ||
  fail "the rebuild failed: $(tail -5 "$FERRY_TEST_TMP/rb.log")"

digest() { # TABLE KEYCOLUMN: md5 of every column of every row, in key order
  echo "SELECT count(*) || ':' || md5(string_agg(concat_ws('|', $2, md5(title), md5(body),
                 coalesce(body IS NULL, false), n), ',' ORDER BY $2)) FROM $1"
}
for t in doc doc_plain; do
  eval "src_$t=\$(src_psql -c \"\$(digest $t id)\")"
  eval "rb_$t=\$(psql -qAtX -d \"\$RB_DSN\" -c \"\$(digest $t legacy_id)\")"
done
echo "doc: source $src_doc, rebuild $rb_doc"
echo "doc_plain: source $src_doc_plain, rebuild $rb_doc_plain"
[ "$src_doc" = "$rb_doc" ] ||
  fail "the rebuild of doc (REPLICA IDENTITY FULL) from compacted topics differs from the source: $(psql -qAtX -d "$RB_DSN" -c "SELECT legacy_id, title, n, length(body) FROM doc ORDER BY 1")"
[ "$src_doc_plain" != "$rb_doc_plain" ] ||
  fail "the rebuild of doc_plain equals the source: the test no longer shows why REPLICA IDENTITY FULL matters"
[ "$(psql -qAtX -d "$RB_DSN" -c "SELECT count(*) FROM doc_plain WHERE body IS NULL")" = 5 ] ||
  fail "expected the 5 updated rows of doc_plain to lose their body"
# What ferry published: complete updates for doc (the unchanged body
# taken from the old row), "absent" for doc_plain.
grep -q '"op":"u"' "$FERRY_TEST_TMP/doc.events" || fail "no updates of doc published"
grep -q '"absent"' "$FERRY_TEST_TMP/doc.events" && fail "an update of doc (REPLICA IDENTITY FULL) names a column absent"
grep -q '"absent":\["body"\]' "$FERRY_TEST_TMP/doc_plain.events" ||
  fail "the updates of doc_plain do not name body absent"
# ferry-map validate says the same: doc agrees, doc_plain does not.
ferry-map validate -c "$FERRY_TEST_TMP/rb.yaml" --format json >"$FERRY_TEST_TMP/validate.json" 2>"$FERRY_TEST_TMP/validate.err" || true
/usr/bin/python3 - "$FERRY_TEST_TMP/validate.json" <<'PY' || fail "validate: $(cat "$FERRY_TEST_TMP/validate.err" "$FERRY_TEST_TMP/validate.json")"
import json, sys
ents = {e["entity"]: e for e in json.load(open(sys.argv[1]))["entities"]}
assert ents["doc"]["agree"], ents["doc"]
assert not ents["doc_plain"]["agree"], ents["doc_plain"]
PY
psql -qAtX -h "$FERRY_PGHOST" -p "$FERRY_TGT_PORT" -U postgres -d postgres \
  -c "DROP DATABASE cdc_toastc_rb WITH (FORCE)" >/dev/null
echo "compacted rebuild: doc equals the source; doc_plain (no REPLICA IDENTITY FULL) lost 5 bodies"
