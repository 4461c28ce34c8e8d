# ferry-sink: a child that arrives before its parent is parked in
# state_schema.parked (visible, counted), then applied by itself once the
# parent arrives.  The legacy database has no FK, so the child really comes
# first; the target keeps its FK on.  Then 45,000 orphans of two parents
# in one batch are parked with one COPY and drained in rounds of at most
# 20,000 rows (what the sink holds of a drain), all of them.
PFX=_$(date +%s%N | tail -c 8)  # a fresh topic prefix per run
fresh_dbs sink_park
# A private broker: the doctors' topic gets 8 partitions for the 45,000
# orphans (ferry-devbroker keeps about 5 MiB per partition).
start_devbroker "$FERRY_TEST_TMP/broker" --topic "sink_park$PFX.public.doctor:8"
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE office (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE doctor (id int PRIMARY KEY, office_id int, name text);
SQL
tgt_psql <<'SQL'
CREATE TABLE offices (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text NOT NULL);
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                      office_id uuid REFERENCES offices (id), name text,
                      buddy_office uuid REFERENCES offices (id));
SQL
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: sink_park }
kafka: { brokers: "$DEV_BROKERS", topic_prefix: sink_park$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  offices: { source: office, target: offices, legacy_id_column: legacy_id,
             columns: { name: name } }
  doctors:
    source: doctor
    target: doctors
    legacy_id_column: legacy_id
    columns:
      name: name
      office_id: { ref: offices, from: office_id }
      buddy_office: { ref: offices, from: id, on_missing: "null" }
EOF
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"
src_psql -c "INSERT INTO office VALUES (1, 'one')"
src_psql -c "INSERT INTO doctor VALUES (1, 1, 'has parent'), (2, 7, 'orphan for now'), (3, NULL, 'no office')"
src_psql -c "UPDATE doctor SET name = 'orphan, renamed' WHERE id = 2"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink1.log" ||
  fail "ferry-sink failed: $(tail -5 "$FERRY_TEST_TMP/sink1.log")"

got=$(tgt_psql -c "SELECT legacy_id, name, buddy_office IS NULL FROM doctors ORDER BY 1" | tr '\n' ' ')
[ "$got" = "1|has parent|f 3|no office|t " ] || fail "before the parent: $got"
parked=$(tgt_psql -c "SELECT count(*) FROM ferry.parked WHERE entity = 'doctors' AND legacy_key = '2' AND missing_entity = 'offices'")
[ "$parked" = 1 ] || fail "expected doctor 2 parked once (its insert and update collapse), got $parked: $(tgt_psql -c 'TABLE ferry.parked')"

src_psql -c "INSERT INTO office VALUES (7, 'seven')"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink2.log" ||
  fail "ferry-sink failed: $(tail -5 "$FERRY_TEST_TMP/sink2.log")"
got=$(tgt_psql -c "SELECT d.legacy_id, d.name, o.legacy_id FROM doctors d LEFT JOIN offices o ON o.id = d.office_id ORDER BY 1" | tr '\n' ' ')
[ "$got" = "1|has parent|1 2|orphan, renamed|7 3|no office| " ] || fail "after the parent: $got"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.parked")" = 0 ] || fail "rows still parked"
grep -q "drained 1" "$FERRY_TEST_TMP/sink2.log" || fail "no drain logged: $(grep applied "$FERRY_TEST_TMP/sink2.log")"

# on_missing: "null" wrote NULL for doctor 3's buddy office; when that office
# arrives later, the ref is filled in.
src_psql -c "INSERT INTO office VALUES (3, 'three')"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink3.log" ||
  fail "ferry-sink failed: $(tail -5 "$FERRY_TEST_TMP/sink3.log")"
got=$(tgt_psql -c "SELECT o.legacy_id FROM doctors d JOIN offices o ON o.id = d.buddy_office WHERE d.legacy_id = 3")
[ "$got" = 3 ] || fail "the on_missing null ref was not filled in once its parent arrived: '$got'"
echo "child parked before its parent, applied once the parent arrived"

# Many orphans: one batch parks them all (one COPY), and their parents'
# arrival drains them in rounds, every one.
src_psql -c "INSERT INTO doctor SELECT g, CASE WHEN g < 33000 THEN 50 ELSE 51 END, 'orphan ' || g FROM generate_series(1000, 45999) g"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end --batch 50000 2>"$FERRY_TEST_TMP/sink4.log" ||
  fail "ferry-sink failed: $(tail -5 "$FERRY_TEST_TMP/sink4.log")"
# Each parked row holds its own event and Kafka position, as one INSERT
# per row wrote them.
got=$(tgt_psql -c "SELECT missing_entity, count(*), count(DISTINCT legacy_key),
                          bool_and(event::json->'after'->>'name' = 'orphan ' || legacy_key),
                          bool_and(topic LIKE 'sink_park%.doctor' AND kafka_offset IS NOT NULL AND waits_for = 'parent'),
                          count(DISTINCT missing_uuid)
                   FROM ferry.parked GROUP BY 1" | tr '\n' ' ')
[ "$got" = "offices|45000|45000|t|t|2 " ] || fail "45,000 orphans parked once each, got '$got'"
src_psql -c "INSERT INTO office VALUES (50, 'fifty'), (51, 'fifty-one')"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink5.log" ||
  fail "ferry-sink failed: $(tail -5 "$FERRY_TEST_TMP/sink5.log")"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.parked")" = 0 ] || fail "rows still parked after their parents arrived: $(tgt_psql -c 'SELECT count(*) FROM ferry.parked')"
got=$(tgt_psql -c "SELECT o.legacy_id, count(*), min(d.legacy_id), max(d.legacy_id) FROM doctors d JOIN offices o ON o.id = d.office_id WHERE o.legacy_id IN (50, 51) GROUP BY 1 ORDER BY 1" | tr '\n' ' ')
[ "$got" = "50|32000|1000|32999 51|13000|33000|45999 " ] || fail "the orphans after their parents: '$got'"
grep -q "drained 45000" "$FERRY_TEST_TMP/sink5.log" || fail "drained count: $(grep applied "$FERRY_TEST_TMP/sink5.log")"
echo "45,000 orphans parked in one batch and drained in rounds once their parents arrived"
