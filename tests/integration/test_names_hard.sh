# Every legal PostgreSQL name, end to end: tables named with a space, a
# single quote, a double quote, a dot, a backslash, a reserved word, mixed
# case, Unicode and 63 bytes, in a source schema whose own name holds a
# space, a double quote, a dot and Unicode; target tables and columns with
# the same kinds of names.  ferry-map check accepts the mapping; ferry-cdc
# snapshots and then streams inserts, updates and deletes (the replication
# command's table filter and literals quoted); ferry-sink applies them; the
# target equals the source and ferry-map validate agrees.
PFX=_$(date +%s%N | tail -c 8)
fresh_dbs names_hard
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
long=t23456789012345678901234567890123456789012345678901234567890123  # 63 bytes
[ ${#long} = 63 ] || fail "the long name is ${#long} bytes"
# name|source DDL columns; each table has id, v and one more column.
tables=("Patient Visits" "it's" 'say "hi"' "a.b" 'back\slash' "select" "PatientVisits" "Ünïcode_tbl" "$long")
src_psql <<SQL
CREATE SCHEMA "Sch ""é"".x";
SQL
tgt_psql <<SQL
CREATE SCHEMA "Tgt ""Ω"".y";
SQL
qi() { local s=${1//\"/\"\"}; printf '"%s"' "$s"; }   # a quoted identifier
ql() { local s=${1//\'/\'\'}; printf "'%s'" "$s"; }   # a SQL literal
cfg=$FERRY_TEST_TMP/ferry.yaml
{
  echo "source: { dsn: \"$SRC_DSN\", slot: names_hard }"
  echo "kafka: { brokers: \"$FERRY_BROKERS\", topic_prefix: names$PFX }"
  echo "target: { dsn: \"$TGT_DSN\", uuid_namespace: $NS }"
  echo "entities:"
} >"$cfg"
i=0
for t in "${tables[@]}"; do
  i=$((i + 1))
  src_psql -c "CREATE TABLE \"Sch \"\"é\"\".x\".$(qi "$t") (id int PRIMARY KEY, \"se;lect\" text, \"weird col;\" int, parent int)"
  tgt_psql -c "CREATE TABLE \"Tgt \"\"Ω\"\".y\".$(qi "$t") (id uuid PRIMARY KEY, \"legacy id\" int UNIQUE, \"val ue\" text, \"it's\" int, \"p\"\"ref\" uuid REFERENCES \"Tgt \"\"Ω\"\".y\".$(qi "Patient Visits"))" 2>/dev/null ||
    tgt_psql -c "CREATE TABLE \"Tgt \"\"Ω\"\".y\".$(qi "$t") (id uuid PRIMARY KEY, \"legacy id\" int UNIQUE, \"val ue\" text, \"it's\" int, \"p\"\"ref\" uuid)"
  # YAML single-quoted: '' is one single quote.
  ysrc=$(printf '"Sch ""é"".x".%s' "$(qi "$t")"); ysrc=${ysrc//\'/\'\'}
  ytgt=$(printf '"Tgt ""Ω"".y".%s' "$(qi "$t")"); ytgt=${ytgt//\'/\'\'}
  cat >>"$cfg" <<EOF
  e$i:
    source: '$ysrc'
    target: '$ytgt'
    topic: names$PFX.t$i
    legacy_id_column: legacy id
    columns:
      "val ue": "se;lect"
      "it's": "weird col;"
      'p"ref': { ref: e1, from: parent, on_missing: "null" }
EOF
done
# The first table is the parent: its own ref points at itself.
tgt_psql -c "ALTER TABLE \"Tgt \"\"Ω\"\".y\".\"Patient Visits\" ADD FOREIGN KEY (\"p\"\"ref\") REFERENCES \"Tgt \"\"Ω\"\".y\".\"Patient Visits\""
ferry-map check -c "$cfg" >"$FERRY_TEST_TMP/check.txt" 2>&1 || fail "check: $(cat "$FERRY_TEST_TMP/check.txt")"

fill() {  # fill FROM TO: rows in every table, hostile values included
  for t in "${tables[@]}"; do
    src_psql -c "INSERT INTO \"Sch \"\"é\"\".x\".$(qi "$t") SELECT g, 'a'');'' drop table y;-- \\\\ ' || g, g, CASE WHEN g > $1 THEN g - 1 END FROM generate_series($1, $2) g"
  done
}
fill 1 5
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc1.log" || fail "snapshot: $(tail -3 "$FERRY_TEST_TMP/cdc1.log")"
fill 6 8
for t in "${tables[@]}"; do
  src_psql -c "UPDATE \"Sch \"\"é\"\".x\".$(qi "$t") SET \"weird col;\" = -id WHERE id = 2; DELETE FROM \"Sch \"\"é\"\".x\".$(qi "$t") WHERE id = 5 AND $(ql "$t") <> 'Patient Visits'"
done
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc2.log" || fail "streaming: $(tail -3 "$FERRY_TEST_TMP/cdc2.log")"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink.log" || fail "ferry-sink: $(grep -v NOTICE "$FERRY_TEST_TMP/sink.log" | tail -5)"
for t in "${tables[@]}"; do
  want=$(src_psql -c "SELECT id, \"se;lect\", \"weird col;\", parent FROM \"Sch \"\"é\"\".x\".$(qi "$t") ORDER BY id")
  got=$(tgt_psql -c "SELECT c.\"legacy id\", c.\"val ue\", c.\"it's\", p.\"legacy id\" FROM \"Tgt \"\"Ω\"\".y\".$(qi "$t") c LEFT JOIN \"Tgt \"\"Ω\"\".y\".\"Patient Visits\" p ON p.id = c.\"p\"\"ref\" ORDER BY 1")
  [ "$want" = "$got" ] || fail "table $t differs:
source: $want
target: $got"
  [ "$(echo "$want" | grep -c .)" -ge 7 ] || fail "table $t: too few rows streamed ($want)"
done
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.errors')" = 0 ] || fail "errors: $(tgt_psql -c 'SELECT entity, error FROM ferry.errors LIMIT 3')"
ferry-map validate -c "$cfg" >"$FERRY_TEST_TMP/validate.txt" 2>&1 || fail "validate: $(cat "$FERRY_TEST_TMP/validate.txt")"
echo "${#tables[@]} hard table names snapshotted, streamed, applied and validated"
