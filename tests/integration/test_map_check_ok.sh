# ferry-map check passes (exit 0, no problems) on a mapping that fits both
# databases, with every kind of column spec; plan shows the apply order.
# tests/integration/test_map_check_ok.sh
fresh_dbs map_check_ok

src_psql <<'SQL'
CREATE TABLE dispatch_office (id int PRIMARY KEY, name text NOT NULL,
  city varchar(40), status char(1), settings text, head_doctor_id int);
CREATE TABLE dispatch_doctor (id bigint PRIMARY KEY, office_id int,
  license_no varchar(20), mentor_id bigint, hired date);
CREATE TABLE order_line (order_id int, line_no int, note text,
  PRIMARY KEY (order_id, line_no));
-- No primary key, but REPLICA IDENTITY FULL and a key in the mapping.
CREATE TABLE note (note_no int NOT NULL, item_type_id int, item_id int,
  order_id int, line_no int);
ALTER TABLE note REPLICA IDENTITY FULL;
-- No primary key, REPLICA IDENTITY USING a unique index covering the key.
CREATE TABLE tag (code text NOT NULL, label text);
CREATE UNIQUE INDEX tag_code ON tag (code);
ALTER TABLE tag REPLICA IDENTITY USING INDEX tag_code;
SQL

tgt_psql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.offices (id uuid PRIMARY KEY, legacy_office_id int UNIQUE,
  name text NOT NULL, city text, status text, settings jsonb,
  head_doctor_id uuid, price_note text);
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_doctor_id bigint,
  office_id uuid, license_number text, mentor_id uuid,
  hired timestamptz, removed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE UNIQUE INDEX doctors_legacy ON doctors (legacy_doctor_id);
CREATE TABLE order_lines (id uuid PRIMARY KEY, legacy_order_id int,
  legacy_line_no int, note text, deleted_at timestamptz,
  UNIQUE (legacy_order_id, legacy_line_no));
CREATE TABLE notes (id uuid PRIMARY KEY, line_id uuid, item_id uuid);
CREATE TABLE tags (id uuid PRIMARY KEY, label text);
SQL

cat >"$FERRY_TEST_TMP/ferry.yaml" <<YAML
source:
  dsn: "$SRC_DSN password=\${FERRY_TEST_PW}"
kafka:
  brokers: "localhost:9092"
  topic_prefix: legacy
target:
  dsn: "$TGT_DSN"
  uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
entities:
  doctors:
    source: public.dispatch_doctor
    target: public.doctors
    legacy_id_column: legacy_doctor_id
    delete: { mode: soft, column: removed_at }
    columns:
      office_id: { ref: offices, from: office_id, on_missing: null }
      license_number: license_no
      mentor_id: { ref: doctors, from: mentor_id }
      hired: hired
  offices:
    source: dispatch_office
    target: app.offices
    key: [id]
    legacy_id_column: legacy_office_id
    columns:
      name: name
      city: { from: city, transform: [trim, nullif_empty] }
      status: { from: status, values: { A: active, I: inactive } }
      settings: { from: settings, json: true, on_invalid: null }
      head_doctor_id: { ref: doctors, from: head_doctor_id, deferred: true }
      price_note: { default: "n/a" }
  order_lines:
    source: order_line
    target: order_lines
    legacy_id_column: [legacy_order_id, legacy_line_no]
    delete: soft
    columns:
      note: { from: note, transform: upper }
  notes:
    source: note
    target: notes
    key: [note_no]
    columns:
      line_id: { ref: order_lines, from: [order_id, line_no] }
      item_id:
        from: item_id
        ref: { discriminator: item_type_id, cases: { 1: offices, 2: doctors } }
  tags:
    source: tag
    target: tags
    key: code
    columns:
      label: label
YAML

export FERRY_TEST_PW=pw-never-shown
rc=0
ferry-map check --config "$FERRY_TEST_TMP/ferry.yaml" >"$FERRY_TEST_TMP/out" 2>&1 || rc=$?
cat "$FERRY_TEST_TMP/out"
[ "$rc" -eq 0 ] || fail "check exited $rc on a correct mapping"
grep -q "no problems found" "$FERRY_TEST_TMP/out" || fail "no all-clear line"
if grep -q "pw-never-shown" "$FERRY_TEST_TMP/out"; then
  fail "check printed the password"
fi
# Warnings do not fail the check: no DDL event trigger on the source (it
# says what that risks), TOAST-able columns without REPLICA IDENTITY FULL
# (note has FULL, the others not).
grep -q 'source: warning: the source has no event trigger writing "ferry-ddl" messages: .*published as unchanged ("absent") instead of gone' \
  "$FERRY_TEST_TMP/out" || fail "no warning about the missing DDL event trigger"
grep -q 'warning: source table "public.order_line" has TOAST-able columns the mapping reads (note) and no REPLICA IDENTITY FULL' \
  "$FERRY_TEST_TMP/out" || fail "no TOAST warning for order_line"
grep -q 'source table "public.note" has TOAST-able' "$FERRY_TEST_TMP/out" &&
  fail "a TOAST warning for note, which has REPLICA IDENTITY FULL"
grep -q "warning(s): they do not fail the check" "$FERRY_TEST_TMP/out" || fail "no warning count"
# With the trigger of docs/setup.md installed, its warning goes.
sed -n '/^   CREATE OR REPLACE FUNCTION public.ferry_ddl_message/,/^     EXECUTE FUNCTION public.ferry_ddl_message();/p' \
  "$FERRY_SRC_DIR/docs/setup.md" | sed 's/^   //' >"$FERRY_TEST_TMP/trigger.sql"
grep -q "CREATE EVENT TRIGGER" "$FERRY_TEST_TMP/trigger.sql" || fail "no trigger SQL in docs/setup.md"
src_psql -f "$FERRY_TEST_TMP/trigger.sql"
ferry-map check --config "$FERRY_TEST_TMP/ferry.yaml" >"$FERRY_TEST_TMP/out2" 2>&1 ||
  fail "check failed with the trigger installed"
grep -q "no event trigger" "$FERRY_TEST_TMP/out2" && fail "the trigger warning stays with the trigger installed"
src_psql -c "ALTER EVENT TRIGGER ferry_ddl DISABLE"
ferry-map check --config "$FERRY_TEST_TMP/ferry.yaml" >"$FERRY_TEST_TMP/out3" 2>&1 || true
grep -q "no event trigger" "$FERRY_TEST_TMP/out3" || fail "a disabled trigger counts as installed"
src_psql -c "DROP EVENT TRIGGER ferry_ddl" -c "DROP FUNCTION public.ferry_ddl_message()"

ferry-map plan --config "$FERRY_TEST_TMP/ferry.yaml" >"$FERRY_TEST_TMP/plan"
cat "$FERRY_TEST_TMP/plan"
order=$(grep -E '^[0-9]+\. ' "$FERRY_TEST_TMP/plan" | awk '{print $2}' | tr '\n' ' ')
[ "$order" = "offices doctors order_lines notes tags " ] ||
  fail "unexpected apply order: $order"
ferry-map plan --config "$FERRY_TEST_TMP/ferry.yaml" --format json >"$FERRY_TEST_TMP/plan.json"
/usr/bin/python3 - "$FERRY_TEST_TMP/plan.json" <<'PY' || fail "plan --format json is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
e = {x["name"]: x for x in d["entities"]}
assert [x["name"] for x in d["entities"]] == \
    ["offices", "doctors", "order_lines", "notes", "tags"], d
assert e["notes"]["waits_on"] == ["doctors", "offices", "order_lines"], e["notes"]
assert e["offices"]["deferred_refs"][0]["column"] == "head_doctor_id"
assert e["doctors"]["self_refs"] == ["mentor_id"]
assert e["doctors"]["topic"] == "legacy.public.dispatch_doctor"
PY
echo "map_check_ok: passed"
