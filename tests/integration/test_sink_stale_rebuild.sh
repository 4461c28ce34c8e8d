# ferry-sink: old events published again (as a replay would) change nothing
# (source LSN bookkeeping in state_schema.row_lsn, the target tables hold
# only their own columns); then two --rebuild runs into empty targets give
# byte-identical tables, UUIDs included.
PFX=_$(date +%s%N | tail -c 8)  # a fresh topic prefix per run
fresh_dbs sink_stale
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
DDL="CREATE TABLE offices (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text NOT NULL);
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                      office_id uuid REFERENCES offices (id), name text);"
src_psql <<'SQL'
CREATE TABLE office (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE doctor (id int PRIMARY KEY, office_id int REFERENCES office, name text);
SQL
tgt_psql -c "$DDL"
write_cfg() {
  cat >"$1" <<EOF
source: { dsn: "$SRC_DSN", slot: sink_stale }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_stale$PFX }
target: { dsn: "$2", uuid_namespace: $NS }
entities:
  offices: { source: office, target: offices, legacy_id_column: legacy_id,
             columns: { name: name } }
  doctors:
    source: doctor
    target: doctors
    legacy_id_column: legacy_id
    columns: { name: name, office_id: { ref: offices, from: office_id } }
EOF
}
cfg=$FERRY_TEST_TMP/ferry.yaml
write_cfg "$cfg" "$TGT_DSN"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"
src_psql <<'SQL'
INSERT INTO office SELECT g, 'o' || g FROM generate_series(1, 10) g;
INSERT INTO doctor SELECT g, 1 + g % 10, 'd' || g FROM generate_series(1, 50) g;
UPDATE doctor SET name = name || ' v2';
SQL
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink1.log" || fail "ferry-sink failed"
snap() { tgt_psql -d "$1" -c "SELECT md5(string_agg(t::text, ',' ORDER BY legacy_id)) FROM offices t UNION ALL SELECT md5(string_agg(t::text, ',' ORDER BY legacy_id)) FROM doctors t" | tr '\n' ' '; }
before=$(snap "$TGT_DSN")

# Replay: every doctor event again, without its transaction (so only the
# per-row LSN check can stop it), plus a delete of doctor 50 again.
kcat -C -b "$FERRY_BROKERS" -t sink_stale$PFX.public.doctor -o beginning -e -q -K '\t' |
  /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    k, v = line.rstrip("\n").split("\t", 1)
    if v == "" or v == "null":
        continue
    e = json.loads(v)
    e.pop("transaction", None)
    print(k + "\t" + json.dumps(e))' >"$FERRY_TEST_TMP/replay.txt"
[ "$(grep -c . "$FERRY_TEST_TMP/replay.txt")" = 100 ] || fail "expected 100 events to replay"
kcat -P -b "$FERRY_BROKERS" -t sink_stale$PFX.public.doctor -K '\t' <"$FERRY_TEST_TMP/replay.txt"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink2.log" || fail "ferry-sink failed"
grep -q "skipped 50 stale" "$FERRY_TEST_TMP/sink2.log" || fail "stale events not skipped: $(grep applied "$FERRY_TEST_TMP/sink2.log")"
[ "$(snap "$TGT_DSN")" = "$before" ] || fail "the stale replay changed the target"

# A newer change still applies after the replay.
src_psql -c "UPDATE doctor SET name = 'v3' WHERE id = 1; DELETE FROM doctor WHERE id = 2"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink3.log" || fail "ferry-sink failed"
[ "$(tgt_psql -c "SELECT name FROM doctors WHERE legacy_id = 1")" = v3 ] || fail "a newer update was lost"
live=$(snap "$TGT_DSN")

# Two rebuilds into empty targets.
for db in sink_stale_rb1 sink_stale_rb2; do
  psql -qAtX -h "$FERRY_PGHOST" -p "$FERRY_TGT_PORT" -U postgres -d postgres \
    -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  dsn="host=$FERRY_PGHOST port=$FERRY_TGT_PORT user=postgres dbname=$db"
  psql -qAtX -v ON_ERROR_STOP=1 -d "$dsn" -c "$DDL"
  write_cfg "$FERRY_TEST_TMP/$db.yaml" "$dsn"
  ferry-sink -c "$FERRY_TEST_TMP/$db.yaml" --rebuild --exit-at-end 2>"$FERRY_TEST_TMP/$db.log" ||
    fail "rebuild into $db failed: $(tail -3 "$FERRY_TEST_TMP/$db.log")"
done
rb1=$(snap "host=$FERRY_PGHOST port=$FERRY_TGT_PORT user=postgres dbname=sink_stale_rb1")
rb2=$(snap "host=$FERRY_PGHOST port=$FERRY_TGT_PORT user=postgres dbname=sink_stale_rb2")
[ "$rb1" = "$rb2" ] || fail "two rebuilds differ"
[ "$rb1" = "$live" ] || fail "the rebuild differs from the live target"
# --rebuild refuses a target that holds rows.
ferry-sink -c "$FERRY_TEST_TMP/sink_stale_rb1.yaml" --rebuild --exit-at-end 2>"$FERRY_TEST_TMP/rb3.log" &&
  fail "a rebuild into a non-empty target was accepted"
grep -q "is not empty" "$FERRY_TEST_TMP/rb3.log" || fail "unclear refusal: $(cat "$FERRY_TEST_TMP/rb3.log")"
for db in sink_stale_rb1 sink_stale_rb2; do
  psql -qAtX -h "$FERRY_PGHOST" -p "$FERRY_TGT_PORT" -U postgres -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
done
echo "stale replay changed nothing; two rebuilds identical to each other and to the live target"
