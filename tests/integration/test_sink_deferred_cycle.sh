# ferry-sink: two entities that reference each other (offices.head_doctor_id
# -> doctors, doctors.office_id -> offices), the cycle broken by
# "deferred: true" on the head.  A deferred ref whose parent is not in the
# target yet is written NULL and patched once the parent arrives, in the
# same batch or in a later transaction; a newer value of the column
# replaces a pending patch.  The target's FKs (both immediate) stay on.
PFX=_$(date +%s%N | tail -c 8)
fresh_dbs sink_deferred
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE office (id int PRIMARY KEY, name text NOT NULL, head_doctor_id int);
CREATE TABLE doctor (id int PRIMARY KEY, office_id int NOT NULL REFERENCES office, name text);
SQL
tgt_psql <<'SQL'
CREATE TABLE offices (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text NOT NULL, head_doctor_id uuid);
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                      office_id uuid NOT NULL REFERENCES offices (id), name text);
ALTER TABLE offices ADD FOREIGN KEY (head_doctor_id) REFERENCES doctors (id);
SQL
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: sink_deferred }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_deferred$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  offices:
    source: office
    target: offices
    legacy_id_column: legacy_id
    columns:
      name: name
      head_doctor_id: { ref: doctors, from: head_doctor_id, deferred: true }
  doctors:
    source: doctor
    target: doctors
    legacy_id_column: legacy_id
    columns: { name: name, office_id: { ref: offices, from: office_id } }
EOF
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"
src_psql <<'SQL'
-- One transaction: offices whose heads are doctors inserted after them.
BEGIN;
INSERT INTO office SELECT g, 'o' || g, g * 2 FROM generate_series(1, 5) g;
INSERT INTO doctor SELECT g, 1 + g % 5, 'd' || g FROM generate_series(1, 10) g;
COMMIT;
-- The head arrives in a later transaction.
INSERT INTO office VALUES (6, 'o6', 11);
INSERT INTO doctor VALUES (11, 6, 'd11');
-- A pending head replaced by NULL before its doctor arrives.
INSERT INTO office VALUES (7, 'o7', 12);
UPDATE office SET head_doctor_id = NULL WHERE id = 7;
INSERT INTO doctor VALUES (12, 7, 'd12');
-- A pending head replaced by another missing one, then both arrive.
INSERT INTO office VALUES (8, 'o8', 13);
UPDATE office SET head_doctor_id = 14 WHERE id = 8;
INSERT INTO doctor VALUES (13, 8, 'd13'), (14, 8, 'd14');
-- A head that is there already.
UPDATE office SET head_doctor_id = 3 WHERE id = 1;
SQL
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc.log" || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end --batch 1 -v 2>"$FERRY_TEST_TMP/sink.log" ||
  fail "ferry-sink failed: $(grep -v NOTICE "$FERRY_TEST_TMP/sink.log" | tail -3)"

want=$(src_psql -c "SELECT o.id, o.name, o.head_doctor_id FROM office o ORDER BY o.id")
got=$(tgt_psql -c "SELECT o.legacy_id, o.name, d.legacy_id FROM offices o LEFT JOIN doctors d ON d.id = o.head_doctor_id ORDER BY o.legacy_id")
[ "$want" = "$got" ] || fail "offices differ: source [$want] target [$got]"
want=$(src_psql -c "SELECT id, office_id, name FROM doctor ORDER BY id")
got=$(tgt_psql -c "SELECT d.legacy_id, o.legacy_id, d.name FROM doctors d JOIN offices o ON o.id = d.office_id ORDER BY d.legacy_id")
[ "$want" = "$got" ] || fail "doctors differ"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.deferred')" = 0 ] || fail "patches left pending: $(tgt_psql -c 'SELECT * FROM ferry.deferred')"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.errors')" = 0 ] || fail "errors: $(tgt_psql -c 'SELECT error FROM ferry.errors LIMIT 3')"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.parked')" = 0 ] || fail "rows left parked"
grep -q "patched .* deferred refs" "$FERRY_TEST_TMP/sink.log" || fail "no deferred ref was patched"
echo "the cycle applied with FKs on; deferred heads patched when their doctors arrived"
