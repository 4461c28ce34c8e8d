# A topic created after ferry-sink started, on a broker that does not create
# topics on first use (ferry-devbroker --no-auto-create, like a Kafka with
# auto.create.topics.enable=false): the sink starts with one table's topic
# missing, says which topic it waits for (log, ferry-map status), picks the
# topic up once it exists (metadata refresh), and the pipeline converges:
# the target equals the source and ferry-map validate agrees.
PFX=slate_$(date +%s%N | tail -c 9)
fresh_dbs sink_late
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE office (id int PRIMARY KEY, name text);
CREATE TABLE doctor (id int PRIMARY KEY, office_id int, name text);
INSERT INTO office SELECT g, 'office ' || g FROM generate_series(1, 50) g;
INSERT INTO doctor SELECT g, 1 + g % 50, 'doctor ' || g FROM generate_series(1, 200) g;
SQL
tgt_psql <<'SQL'
CREATE TABLE offices (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text);
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text,
                      office_id uuid REFERENCES offices);
SQL
start_devbroker "$FERRY_TEST_TMP/broker" --no-auto-create
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: sink_late }
kafka:
  brokers: "$DEV_BROKERS"
  topic_prefix: $PFX
  properties: { topic.metadata.refresh.interval.ms: "1000" }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  offices: { source: office, target: offices, legacy_id_column: legacy_id, columns: { name: name } }
  doctors:
    source: doctor
    target: doctors
    legacy_id_column: legacy_id
    columns: { name: name, office_id: { ref: offices, from: office_id } }
EOF
# Every topic but the doctors'.
for t in public.office:2 transaction:1 heartbeat:1 snapshot:1 schema:1 dlq:1; do
  echo "create $PFX.${t%%:*} ${t##*:}" >"$DEV_CONTROL"
  wait_until 10 grep -q "create $PFX.${t%%:*} ${t##*:} -> ok" "$FERRY_TEST_TMP/broker/devbroker.log" ||
    fail "could not create $PFX.${t%%:*}"
done
ferry-sink -c "$cfg" 2>"$FERRY_TEST_TMP/sink.log" &
sink=$!
track_pid $sink
waiting() { grep -q "waiting for topic \"$PFX.public.doctor\"" "$FERRY_TEST_TMP/sink.log"; }
wait_until 30 waiting || fail "the sink does not say it waits for the doctors' topic: $(tail -5 "$FERRY_TEST_TMP/sink.log")"
rc=0
ferry-map status -c "$cfg" >"$FERRY_TEST_TMP/status.txt" 2>&1 || rc=$?
grep -q "$PFX.public.doctor" "$FERRY_TEST_TMP/status.txt" || fail "ferry-map status does not name the missing topic: $(cat "$FERRY_TEST_TMP/status.txt")"
[ $rc -ge 1 ] || fail "ferry-map status says healthy with a mapped topic missing"

echo "create $PFX.public.doctor 3" >"$DEV_CONTROL"
wait_until 10 grep -q "create $PFX.public.doctor 3 -> ok" "$FERRY_TEST_TMP/broker/devbroker.log" || fail "could not create the doctors' topic"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc1.log" || fail "snapshot: $(tail -3 "$FERRY_TEST_TMP/cdc1.log")"
src_psql -c "INSERT INTO doctor VALUES (1000, 7, 'late'); UPDATE office SET name = 'renamed' WHERE id = 7"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc2.log" || fail "streaming: $(tail -3 "$FERRY_TEST_TMP/cdc2.log")"
same() {
  [ "$(src_psql -c "SELECT d.id, d.name, o.id, o.name FROM doctor d JOIN office o ON o.id = d.office_id ORDER BY 1" | md5sum)" = \
    "$(tgt_psql -c "SELECT d.legacy_id, d.name, o.legacy_id, o.name FROM doctors d JOIN offices o ON o.id = d.office_id ORDER BY 1" | md5sum)" ]
}
wait_until 60 same || fail "the pipeline did not converge: $(tgt_psql -c 'SELECT count(*) FROM doctors'; tail -5 "$FERRY_TEST_TMP/sink.log")"
kill -0 $sink || fail "the sink exited"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.errors')" = 0 ] || fail "errors: $(tgt_psql -c 'SELECT error FROM ferry.errors LIMIT 3')"
ferry-map validate -c "$cfg" >"$FERRY_TEST_TMP/validate.txt" 2>&1 || fail "validate: $(cat "$FERRY_TEST_TMP/validate.txt")"
echo "a topic created after the sink started was consumed; the target converged"
