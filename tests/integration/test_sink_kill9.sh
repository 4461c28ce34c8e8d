# ferry-sink: kill -9 at random points while it applies a stream of parent
# and child transactions (inserts, updates, deletes); after a final run the
# target equals the source, each event applied exactly once.
PFX=_$(date +%s%N | tail -c 8)  # a fresh topic prefix per run
fresh_dbs sink_kill9
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE office (id int PRIMARY KEY, name text NOT NULL, n int NOT NULL DEFAULT 0);
CREATE TABLE doctor (id int PRIMARY KEY, office_id int REFERENCES office, name text, n int NOT NULL DEFAULT 0);
SQL
tgt_psql <<'SQL'
CREATE TABLE offices (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text NOT NULL, n int);
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                      office_id uuid REFERENCES offices (id), name text, n int);
SQL
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: sink_kill9 }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_kill9$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  offices: { source: office, target: offices, legacy_id_column: legacy_id,
             columns: { name: name, n: n } }
  doctors:
    source: doctor
    target: doctors
    legacy_id_column: legacy_id
    columns: { name: name, n: n, office_id: { ref: offices, from: office_id } }
EOF
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"
(
  for t in $(seq 0 299); do
    o=$((t * 3))
    echo "BEGIN; INSERT INTO office SELECT g, 'o' || g FROM generate_series($o + 1, $o + 3) g;"
    echo "INSERT INTO doctor SELECT g, $o + 1 + g % 3, 'd' || g FROM generate_series($t * 10 + 1, $t * 10 + 10) g;"
    echo "UPDATE doctor SET n = n + 1, office_id = 1 WHERE id % 7 = $((t % 7)) AND id BETWEEN $t * 10 - 40 AND $t * 10 + 10;"
    echo "UPDATE office SET n = n + 1 WHERE id % 5 = $((t % 5)) AND id > $o - 30;"
    echo "DELETE FROM doctor WHERE id = $t * 10 + 3; COMMIT;"
  done
) | src_psql >/dev/null
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc.log" || fail "ferry-cdc failed"

for round in 1 2 3 4 5; do
  ferry-sink -c "$cfg" --batch 40 2>>"$FERRY_TEST_TMP/sink.log" &
  pid=$!
  sleep "0.$((RANDOM % 9 + 1))"
  kill -9 $pid
  wait $pid 2>/dev/null || true
  echo "round $round: killed ferry-sink with $(tgt_psql -c 'SELECT count(*) FROM doctors') doctors applied"
done
ferry-sink -c "$cfg" --exit-at-end 2>>"$FERRY_TEST_TMP/sink.log" ||
  fail "final ferry-sink failed: $(tail -5 "$FERRY_TEST_TMP/sink.log")"

want=$(src_psql -c "SELECT d.id, d.name, d.n, d.office_id, o.name, o.n FROM doctor d JOIN office o ON o.id = d.office_id ORDER BY d.id" | md5sum)
got=$(tgt_psql -c "SELECT d.legacy_id, d.name, d.n, o.legacy_id, o.name, o.n FROM doctors d JOIN offices o ON o.id = d.office_id ORDER BY d.legacy_id" | md5sum)
[ "$want" = "$got" ] || fail "doctors differ from the source"
want=$(src_psql -c "SELECT id, name, n FROM office ORDER BY id" | md5sum)
got=$(tgt_psql -c "SELECT legacy_id, name, n FROM offices ORDER BY legacy_id" | md5sum)
[ "$want" = "$got" ] || fail "offices differ from the source"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.errors')" = 0 ] || fail "errors: $(tgt_psql -c 'SELECT error FROM ferry.errors LIMIT 3')"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.parked')" = 0 ] || fail "rows left parked"
echo "five kill -9 rounds; the target equals the source"
