# ferry-map check reports incompatible types (exit 1): text into int, int8
# into int4, a target id column or ref column that is not uuid, a uuid
# target fed by a plain copy, json and transforms on non-text columns, a
# legacy id column that cannot hold the key, NOT NULL columns a deferred
# ref or on_missing: null would write NULL into.
# tests/integration/test_map_check_types.sh
fresh_dbs map_check_types

src_psql <<'SQL'
CREATE TABLE dispatch_office (id int PRIMARY KEY, code text, big bigint,
  amount int, payload int, label int, ext_ref int, head_id int);
CREATE TABLE dispatch_doctor (id bigint PRIMARY KEY, office_id int);
SQL
tgt_psql <<'SQL'
CREATE TABLE offices (id int PRIMARY KEY, legacy_id int UNIQUE, code int,
  big int, amount bigint, payload jsonb, label text, ext_ref uuid,
  head_id uuid NOT NULL);
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_id int UNIQUE,
  office_id int NOT NULL);
SQL

cat >"$FERRY_TEST_TMP/ferry.yaml" <<YAML
source: { dsn: "$SRC_DSN" }
kafka: { brokers: "localhost:9092", topic_prefix: legacy }
target:
  dsn: "$TGT_DSN"
  uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
entities:
  offices:
    source: dispatch_office
    target: offices
    legacy_id_column: legacy_id
    columns:
      code: code
      big: big
      amount: amount
      payload: { from: payload, json: true }
      label: { from: label, transform: trim }
      ext_ref: ext_ref
      head_id: { ref: doctors, from: head_id, deferred: true }
  doctors:
    source: dispatch_doctor
    target: doctors
    legacy_id_column: legacy_id
    columns:
      office_id: { ref: offices, from: office_id, on_missing: null }
YAML

rc=0
ferry-map check -c "$FERRY_TEST_TMP/ferry.yaml" >"$FERRY_TEST_TMP/out" 2>&1 || rc=$?
cat "$FERRY_TEST_TMP/out"
[ "$rc" -eq 1 ] || fail "check exited $rc, expected 1"
expect() {
  grep -qF -- "$1" "$FERRY_TEST_TMP/out" || fail "output lacks: $1"
}
refute() {
  if grep -qF -- "$1" "$FERRY_TEST_TMP/out"; then fail "output has: $1"; fi
}
expect 'entities.offices.columns.code: cannot copy source column "code" (text) into target column "code" (integer)'
expect 'entities.offices.columns.big: cannot copy source column "big" (bigint) into target column "big" (integer)'
refute 'entities.offices.columns.amount:'
expect 'entities.offices.columns.payload: json: true needs a text source column, but "payload" has type integer'
expect 'entities.offices.columns.label: transform needs a text source column'
expect 'entities.offices.columns.ext_ref: cannot copy source column "ext_ref" (integer) into target column "ext_ref" (uuid)'
expect 'entities.offices.id_column: target column "id" has type integer, but id_column needs uuid'
expect 'entities.offices.columns.head_id: target column "head_id" is NOT NULL, but a deferred ref writes NULL first'
expect 'entities.doctors.columns.office_id: target column "office_id" has type integer, but a ref needs uuid'
expect 'entities.doctors.columns.office_id: target column "office_id" is NOT NULL, but on_missing: null writes NULL'
expect 'entities.doctors.legacy_id_column: cannot copy key column "id" (bigint) into legacy id column "legacy_id" (integer)'
echo "map_check_types: passed"
