# Operators' metrics, checked through a real Prometheus server (Debian's
# prometheus) scraping ferry-cdc and ferry-sink, both with --metrics-listen:
# - ferry_sink_rows_total grows by exactly the rows written;
# - ferry_sink_parked_rows shows an orphan;
# - ferry_sink_lag_seconds rises while the sink is stopped (SIGSTOP)
#   behind a backlog, and returns to 0 once it caught up;
# - ferry_cdc_events_total counts what ferry-cdc published;
# - promtool check metrics passes on both /metrics outputs, and promtool
#   check rules on deploy/monitoring/ferry-alerts.yml.
PFX=_$(date +%s%N | tail -c 8)
fresh_dbs metrics_prom
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE office (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE doctor (id int PRIMARY KEY, office_id int, name text);
SQL
tgt_psql <<'SQL'
CREATE TABLE offices (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text NOT NULL);
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                      office_id uuid REFERENCES offices (id), name text);
SQL
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: metrics_prom }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: metrics_prom$PFX }
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
EOF
CDC_PORT=$(free_port); SINK_PORT=$(free_port); PROM_PORT=$(free_port)

ferry-cdc -c "$cfg" --metrics-listen "127.0.0.1:$CDC_PORT" --status-interval 1 \
  2>"$FERRY_TEST_TMP/cdc.log" &
track_pid $!
CDC_PID=$!
ferry-sink -c "$cfg" --metrics-listen "127.0.0.1:$SINK_PORT" \
  2>"$FERRY_TEST_TMP/sink.log" &
SINK_PID=$!
track_pid $SINK_PID

cat >"$FERRY_TEST_TMP/prometheus.yml" <<EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: ["$FERRY_SRC_DIR/deploy/monitoring/ferry-alerts.yml"]
scrape_configs:
  - job_name: ferry-cdc
    static_configs: [{ targets: ["127.0.0.1:$CDC_PORT"] }]
  - job_name: ferry-sink
    static_configs: [{ targets: ["127.0.0.1:$SINK_PORT"] }]
EOF
prometheus --config.file="$FERRY_TEST_TMP/prometheus.yml" \
  --storage.tsdb.path="$FERRY_TEST_TMP/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" \
  >"$FERRY_TEST_TMP/prometheus.log" 2>&1 &
track_pid $!

# One number from Prometheus's HTTP API ("" when the query has no result).
prom() {
  curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
    /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
prom_is() { [ "$(prom "$1")" = "$2" ]; }
prom_ge() { v=$(prom "$1"); [ -n "$v" ] && /usr/bin/python3 -c "import sys; sys.exit(0 if float('$v') >= float('$2') else 1)"; }

wait_until 90 prom_is 'sum(up{job=~"ferry-.*"})' 2 ||
  fail "Prometheus does not see both programs up: $(prom 'up') $(tail -5 "$FERRY_TEST_TMP/prometheus.log")"
wait_until 90 prom_is 'ferry_sink_ready' 1 ||
  fail "the sink never got ready: $(curl -s "127.0.0.1:$SINK_PORT/readyz") $(tail -5 "$FERRY_TEST_TMP/sink.log")"

# Both outputs follow the exposition format; the rules load.
for p in $CDC_PORT $SINK_PORT; do
  curl -sf "http://127.0.0.1:$p/metrics" >"$FERRY_TEST_TMP/metrics.$p"
  promtool check metrics <"$FERRY_TEST_TMP/metrics.$p" >"$FERRY_TEST_TMP/promtool.$p" 2>&1 ||
    fail "promtool check metrics on port $p: $(cat "$FERRY_TEST_TMP/promtool.$p")"
done
promtool check rules "$FERRY_SRC_DIR/deploy/monitoring/ferry-alerts.yml" >/dev/null ||
  fail "promtool check rules failed"
grep -q '^ferry_build_info{version="' "$FERRY_TEST_TMP/metrics.$SINK_PORT" || fail "no ferry_build_info"
grep -q '^process_resident_memory_bytes ' "$FERRY_TEST_TMP/metrics.$CDC_PORT" || fail "no process metrics"

# 1. Rows applied: exactly what was written, counted once each.
base=$(prom 'sum(ferry_sink_rows_total) or vector(0)')
src_psql -c "INSERT INTO office SELECT g, 'office ' || g FROM generate_series(1, 100) g"
wait_until 60 prom_is "sum(ferry_sink_rows_total) - $base" 100 ||
  fail "rows_total grew by $(prom "sum(ferry_sink_rows_total) - $base"), expected 100"
src_psql -c "UPDATE office SET name = name || ' (renamed)' WHERE id <= 30"
wait_until 60 prom_is "sum(ferry_sink_rows_total) - $base" 130 ||
  fail "rows_total grew by $(prom "sum(ferry_sink_rows_total) - $base") after the updates, expected 130"
sleep 3
prom_is "sum(ferry_sink_rows_total) - $base" 130 || fail "rows_total moved on by itself"
prom_is 'sum(ferry_sink_rows_total{entity="offices",op="upsert"}) > 0 or vector(0)' 0 &&
  fail "no upserts of offices counted"
prom_ge 'sum(ferry_cdc_events_total{table="public.office"})' 130 ||
  fail "ferry_cdc_events_total of public.office: $(prom 'sum(ferry_cdc_events_total{table="public.office"})')"

# 2. An orphan is parked, and shown.
src_psql -c "INSERT INTO doctor VALUES (1, 999, 'orphan')"
wait_until 60 prom_is 'ferry_sink_parked_rows{entity="doctors"}' 1 ||
  fail "ferry_sink_parked_rows of doctors: '$(prom 'ferry_sink_parked_rows{entity="doctors"}')'"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.parked WHERE entity = 'doctors'")" = 1 ] ||
  fail "the orphan is not in the parked table"

# 3. The sink stopped behind a backlog: its lag rises, then goes back to 0.
wait_until 30 prom_is 'ferry_sink_lag_seconds' 0 || fail "lag is not 0 when caught up: $(prom ferry_sink_lag_seconds)"
kill -STOP "$SINK_PID"
for i in $(seq 1 8); do
  src_psql -c "INSERT INTO office SELECT g, 'later' FROM generate_series($((1000 * i)), $((1000 * i + 999))) g"
  sleep 1
done
kill -CONT "$SINK_PID"
wait_until 60 prom_ge 'max_over_time(ferry_sink_lag_seconds[2m])' 5 ||
  fail "ferry_sink_lag_seconds did not rise behind the backlog: max $(prom 'max_over_time(ferry_sink_lag_seconds[2m])')"
wait_until 120 prom_is "sum(ferry_sink_rows_total) - $base" 8130 ||
  fail "the backlog was not applied: $(prom "sum(ferry_sink_rows_total) - $base")"
wait_until 30 prom_is 'ferry_sink_lag_seconds' 0 ||
  fail "ferry_sink_lag_seconds did not return to 0: $(prom ferry_sink_lag_seconds)"
prom_is 'ferry_sink_consumer_lag_messages{topic="metrics_prom'"$PFX"'.public.office"}' 0 ||
  fail "consumer lag of the office topic is not 0: $(prom 'ferry_sink_consumer_lag_messages')"
prom_ge 'ferry_sink_last_applied_commit_timestamp_seconds' "$(( $(date +%s) - 120 ))" ||
  fail "no recent last applied commit timestamp"
prom_ge 'sum(ferry_sink_batch_apply_seconds_count)' 1 || fail "no batch in the histogram"
kill -0 "$CDC_PID" || fail "ferry-cdc died: $(tail -5 "$FERRY_TEST_TMP/cdc.log")"
echo "Prometheus saw the rows applied, the orphan parked, the lag rise and fall"
