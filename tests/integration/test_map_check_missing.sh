# ferry-map check reports every missing table and column at once (exit 1):
# source and target tables, mapped source columns, key columns,
# discriminators, target columns, id_column, legacy_id_column, the soft
# delete column, and a target NOT NULL column nothing fills.
# tests/integration/test_map_check_missing.sh
fresh_dbs map_check_missing

src_psql <<'SQL'
CREATE TABLE dispatch_office (id int PRIMARY KEY, name text);
CREATE TABLE dispatch_doctor (id int PRIMARY KEY, office_id int);
SQL
tgt_psql <<'SQL'
CREATE TABLE offices (id uuid PRIMARY KEY, name text,
  code text NOT NULL);
CREATE TABLE doctors (uid uuid PRIMARY KEY, office_id uuid);
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
    key: [office_no]
    legacy_id_column: legacy_office_id
    delete: soft
    columns:
      name: name
      city: town
  doctors:
    source: dispatch_doctor
    target: doctors
    columns:
      office_id: { ref: offices, from: office_id }
      kind_id:
        from: kind_id
        ref: { discriminator: kind_type, cases: { 1: offices } }
  ghosts:
    source: legacy_ghost
    target: ghosts
YAML

rc=0
ferry-map check -c "$FERRY_TEST_TMP/ferry.yaml" >"$FERRY_TEST_TMP/out" 2>&1 || rc=$?
cat "$FERRY_TEST_TMP/out"
[ "$rc" -eq 1 ] || fail "check exited $rc, expected 1"
expect() {
  grep -qF -- "$1" "$FERRY_TEST_TMP/out" || fail "output lacks: $1"
}
expect 'entities.ghosts.source: source table "public.legacy_ghost" does not exist'
expect 'entities.ghosts.target: target table "public.ghosts" does not exist'
expect 'entities.offices.key: key column "office_no" does not exist in source table "public.dispatch_office"'
expect 'entities.offices.columns.city: source column "town" does not exist'
expect 'entities.offices.columns.city: target column "city" does not exist in target table "public.offices"'
expect 'entities.offices.legacy_id_column: target column "legacy_office_id" does not exist'
expect 'entities.offices.delete: target column "deleted_at" does not exist'
expect 'target column "code" of "public.offices" is NOT NULL without a default, and nothing fills it'
expect 'entities.offices.source: key column "office_no" is not part of the replica identity'
expect 'entities.doctors.id_column: target column "id" does not exist in target table "public.doctors"'
expect 'entities.doctors.columns.kind_id: source column "kind_id" does not exist'
expect 'entities.doctors.columns.kind_id: discriminator column "kind_type" does not exist'
expect 'entities.doctors.columns.kind_id: target column "kind_id" does not exist'
# Every line names the place in the mapping file.
expect "$FERRY_TEST_TMP/ferry.yaml:25:13: entities.ghosts.source"
expect "problem(s) found"
echo "map_check_missing: passed"
