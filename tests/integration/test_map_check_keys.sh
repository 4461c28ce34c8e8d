# ferry-map check reports key problems (exit 1): a source table with no
# primary key and no replica identity (with the ALTER TABLE ... REPLICA
# IDENTITY fix), REPLICA IDENTITY NOTHING, an entity without key on a table
# without primary key, a legacy_id_column without unique constraint or
# index, an id column that is not unique, a composite ref narrower than the
# parent's primary key.
# tests/integration/test_map_check_keys.sh
fresh_dbs map_check_keys

src_psql <<'SQL'
CREATE TABLE visit (visit_no int NOT NULL, note text);
CREATE TABLE audit (id int PRIMARY KEY, note text);
ALTER TABLE audit REPLICA IDENTITY NOTHING;
CREATE TABLE line (order_id int, line_no int, PRIMARY KEY (order_id, line_no));
CREATE TABLE line_note (id int PRIMARY KEY, order_id int);
SQL
tgt_psql <<'SQL'
CREATE TABLE visits (id uuid PRIMARY KEY, legacy_visit_no int, note text);
CREATE TABLE audits (id uuid, note text);
CREATE TABLE lines (id uuid PRIMARY KEY);
CREATE TABLE line_notes (id uuid PRIMARY KEY, line_id uuid);
SQL

cat >"$FERRY_TEST_TMP/ferry.yaml" <<YAML
source: { dsn: "$SRC_DSN" }
kafka: { brokers: "localhost:9092", topic_prefix: legacy }
target:
  dsn: "$TGT_DSN"
  uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
entities:
  visits:
    source: visit
    target: visits
    legacy_id_column: legacy_visit_no
    columns:
      note: note
  audits:
    source: audit
    target: audits
    columns:
      note: note
  lines:
    source: line
    target: lines
  line_notes:
    source: line_note
    target: line_notes
    columns:
      line_id: { ref: lines, from: order_id }
YAML

rc=0
ferry-map check -c "$FERRY_TEST_TMP/ferry.yaml" >"$FERRY_TEST_TMP/out" 2>&1 || rc=$?
cat "$FERRY_TEST_TMP/out"
[ "$rc" -eq 1 ] || fail "check exited $rc, expected 1"
expect() {
  grep -qF -- "$1" "$FERRY_TEST_TMP/out" || fail "output lacks: $1"
}
expect 'entities.visits.source: source table "public.visit" has no primary key and no replica identity, so its updates and deletes would be lost'
expect 'hint: ALTER TABLE public.visit REPLICA IDENTITY FULL;'
expect 'entities.visits.key: no key given and source table "public.visit" has no primary key'
expect 'entities.visits.legacy_id_column: legacy id column(s) of target table "public.visits" have no unique constraint or unique index'
expect 'entities.audits.source: source table "public.audit" has REPLICA IDENTITY NOTHING'
expect 'hint: ALTER TABLE public.audit REPLICA IDENTITY FULL;'
expect 'entities.audits.id_column: id column "id" of "public.audits" is not a primary key or unique'
expect 'entities.line_notes.columns.line_id: 1 source column(s) for a ref to "lines", whose key (its source primary key) has 2 column(s)'

# The fixes the hints name make the problems go away.
src_psql -c 'ALTER TABLE visit REPLICA IDENTITY FULL; ALTER TABLE audit REPLICA IDENTITY DEFAULT'
tgt_psql -c 'ALTER TABLE visits ADD UNIQUE (legacy_visit_no); ALTER TABLE audits ADD PRIMARY KEY (id)'
sed -i 's/^    legacy_id_column: legacy_visit_no/    key: visit_no\n    legacy_id_column: legacy_visit_no/; s/from: order_id }/from: [order_id, id] }/' "$FERRY_TEST_TMP/ferry.yaml"
rc=0
ferry-map check -c "$FERRY_TEST_TMP/ferry.yaml" >"$FERRY_TEST_TMP/out" 2>&1 || rc=$?
cat "$FERRY_TEST_TMP/out"
[ "$rc" -eq 0 ] || fail "check exited $rc after the fixes"
echo "map_check_keys: passed"
