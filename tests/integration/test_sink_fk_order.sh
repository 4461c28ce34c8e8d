# ferry-sink: a parent and its children inserted in one source transaction,
# published to different topics and partitions, applied with the target's
# foreign keys on; then updates (one with an unchanged TOAST column),
# deletes (hard and soft), a value pipeline, and --exit-at-end.  The target
# ends equal to the source, with UUIDv5 ids and refs.
PFX=_$(date +%s%N | tail -c 8)  # a fresh topic prefix per run
fresh_dbs sink_fk
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE office (id int PRIMARY KEY, name text NOT NULL, city text,
                     status char(1));
CREATE TABLE doctor (id int PRIMARY KEY, office_id int REFERENCES office,
                     name text, notes text, settings text);
SQL
tgt_psql <<'SQL'
CREATE EXTENSION "uuid-ossp";
CREATE TABLE offices (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                      name text NOT NULL, city text, status text,
                      app_note text DEFAULT 'kept');
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                      office_id uuid REFERENCES offices (id),
                      name text, notes text, settings jsonb,
                      deleted_at timestamptz);
-- a row the new application wrote itself: no legacy id, never touched
INSERT INTO offices (id, name) VALUES (gen_random_uuid(), 'app only');
SQL
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: sink_fk }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_fk$PFX }
target: { dsn: "$TGT_DSN", state_schema: ferry_state, uuid_namespace: $NS }
entities:
  offices:
    source: public.office
    target: public.offices
    legacy_id_column: legacy_id
    columns:
      name: name
      city: { from: city, transform: [trim, nullif_empty] }
      status: { from: status, values: { A: active, I: inactive, X: ~ } }
  doctors:
    source: public.doctor
    target: public.doctors
    legacy_id_column: legacy_id
    delete: soft
    columns:
      office_id: { ref: offices, from: office_id }
      name: name
      notes: notes
      settings: { from: settings, json: true, on_invalid: null }
EOF
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"

src_psql <<'SQL'
BEGIN;
INSERT INTO office SELECT g, 'office ' || g, '  city ' || g || ' ', 'A'
  FROM generate_series(1, 41) g;
INSERT INTO doctor SELECT g, (g % 40) + 1, 'doc ' || g, NULL, '{"a": 1e400}'
  FROM generate_series(1, 200) g;
COMMIT;
UPDATE office SET city = '', status = 'X' WHERE id <= 5;
UPDATE doctor SET notes = repeat('long text ', 1000) WHERE id <= 3;
UPDATE doctor SET name = 'renamed' WHERE id <= 3;
UPDATE doctor SET settings = 'not json' WHERE id = 4;
DELETE FROM doctor WHERE id BETWEEN 190 AND 200;
BEGIN;
DELETE FROM doctor WHERE office_id = 40;
DELETE FROM office WHERE id = 41;
COMMIT;
SQL
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc.log" ||
  fail "ferry-cdc failed: $(tail -3 "$FERRY_TEST_TMP/cdc.log")"

ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink.log" ||
  fail "ferry-sink failed: $(tail -5 "$FERRY_TEST_TMP/sink.log")"
grep -i "violat" "$FERRY_TEST_TMP/sink.log" && fail "an FK error was logged"

want_off=$(src_psql -c "SELECT id, name, nullif(trim(city), ''),
  CASE status WHEN 'A' THEN 'active' WHEN 'I' THEN 'inactive' END
  FROM office ORDER BY id")
got_off=$(tgt_psql -c "SELECT legacy_id, name, city, status FROM offices
  WHERE legacy_id IS NOT NULL ORDER BY legacy_id")
[ "$want_off" = "$got_off" ] || fail "offices differ: $(diff <(echo "$want_off") <(echo "$got_off") | head)"
want_doc=$(src_psql -c "SELECT id, office_id, name, md5(coalesce(notes, '')),
  CASE WHEN id = 4 THEN NULL ELSE settings::jsonb::text END FROM doctor ORDER BY id")
got_doc=$(tgt_psql -c "SELECT d.legacy_id, o.legacy_id, d.name,
  md5(coalesce(d.notes, '')), d.settings::text FROM doctors d
  LEFT JOIN offices o ON o.id = d.office_id
  WHERE d.deleted_at IS NULL ORDER BY d.legacy_id")
[ "$want_doc" = "$got_doc" ] || fail "doctors differ: $(diff <(echo "$want_doc") <(echo "$got_doc") | head)"
ndel=$(tgt_psql -c "SELECT count(*) FROM doctors WHERE deleted_at IS NOT NULL")
[ "$ndel" = 15 ] || fail "soft deletes: $ndel"
[ "$(tgt_psql -c "SELECT count(*) FROM offices WHERE legacy_id IS NOT NULL AND id <> uuid_generate_v5('$NS', 'offices:' || legacy_id)")" = 0 ] ||
  fail "office UUIDs are not UUIDv5"
[ "$(tgt_psql -c "SELECT count(*) FROM doctors WHERE id <> uuid_generate_v5('$NS', 'doctors:' || legacy_id)")" = 0 ] ||
  fail "doctor UUIDs are not UUIDv5"
[ "$(tgt_psql -c "SELECT count(*) FROM offices WHERE legacy_id IS NULL AND name = 'app only' AND app_note = 'kept'")" = 1 ] ||
  fail "the application's own row was touched"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry_state.errors")" = 0 ] ||
  fail "errors recorded: $(tgt_psql -c "SELECT error FROM ferry_state.errors")"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry_state.parked")" = 0 ] || fail "rows left parked"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry_state.offsets")" -gt 4 ] || fail "offsets not stored"

# Running again applies nothing new: offsets were stored with the rows.
before=$(tgt_psql -c "SELECT md5(string_agg(t::text, ',' ORDER BY legacy_id)) FROM doctors t")
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink2.log" || fail "second run failed"
grep -q "applied 0 rows" "$FERRY_TEST_TMP/sink2.log" || fail "second run applied rows: $(grep applied "$FERRY_TEST_TMP/sink2.log")"
after=$(tgt_psql -c "SELECT md5(string_agg(t::text, ',' ORDER BY legacy_id)) FROM doctors t")
[ "$before" = "$after" ] || fail "a second run changed the target"
echo "parent and children across topics applied in FK order; target equals source"
