#!/usr/bin/env bash
# The main job, end to end, on a fresh machine: installs what is missing,
# builds ferry, starts a legacy (source) and a new (target) PostgreSQL 15 and
# a ferry-devbroker, loads the legacy clinic database, runs ferry-cdc
# (snapshot, then streaming) and ferry-sink, drives live changes on the
# source, and ends with ferry-map validate and a summary.  It stops
# everything it started.
# deploy/demo.sh [--scale S] [--live SECONDS]
#
#   --scale S       size of the legacy database: 1 is about 1.6M rows, the
#                   production volumes; default 0.01 (about 16k rows)
#   --live SECONDS  how long to drive live changes (default 30)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
scale=0.01
live=30
while [ $# -gt 0 ]; do
  case "$1" in
  --scale) scale=${2:?--scale needs a value}; shift 2 ;;
  --live) live=${2:?--live needs a value}; shift 2 ;;
  -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "demo.sh: unknown argument \"$1\" (try --help)" >&2; exit 2 ;;
  esac
done

build=${FERRY_BUILD_DIR:-$top/build-demo}
state=$(mktemp -d /tmp/ferry-demo.XXXXXX)
chmod 755 "$state"
clinic=$top/deploy/examples/clinic
pids=()

say() { printf '\n== %s\n' "$*"; }
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  bash "$top/tests/integration/stack.sh" stop "$state" >/dev/null 2>&1 || true
  if [ $rc -eq 0 ]; then rm -rf "$state"; else echo "demo: logs kept in $state" >&2; fi
}
trap cleanup EXIT

if [ -z "${FERRY_DEMO_SKIP_BUILD:-}" ]; then
  say "installing what is missing and building ferry"
  "$top/deploy/install-deps.sh"
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j"$(nproc)" >/dev/null
fi
export PATH="$build/cdc:$build/sink:$build/mapping:$PATH"

say "starting the legacy and new PostgreSQL 15 and ferry-devbroker"
# ferry-devbroker keeps only about 5 MiB per partition: give every topic
# enough partitions for its share of the snapshot (the mapping compresses
# with lz4), so that a sink still loading parents loses nothing.
topics="-t clinic.transaction:1 -t clinic.snapshot:1 -t clinic.heartbeat:1 -t clinic.dlq:1"
for tn in dispatch_office:523 auth_user:9751 dispatch_doctor:1200 \
  dispatch_patient:7800 dispatch_jaw:39000 dispatch_instruction:23000 \
  dispatch_instance:7800 dispatch_comment:40000 dispatch_record:60000 \
  dispatch_file:294000 dispatch_treatment_plan:67000 dispatch_payment:16000 \
  dispatch_state:60000 dispatch_notification:975000; do
  parts=$(/usr/bin/python3 -c "import math; print(max(4, math.ceil(${tn#*:} * $scale / 8000)))")
  topics="$topics -t clinic.public.${tn%%:*}:$parts"
done
FERRY_DEVBROKER_ARGS=$topics bash "$top/tests/integration/stack.sh" start "$state" "$build"
# shellcheck disable=SC1091
. "$state/env"
for port in "$FERRY_SRC_PORT" "$FERRY_TGT_PORT"; do
  psql -qAtX -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE clinic"
done
export CLINIC_SOURCE_DSN="host=127.0.0.1 port=$FERRY_SRC_PORT user=postgres dbname=clinic"
export CLINIC_TARGET_DSN="host=127.0.0.1 port=$FERRY_TGT_PORT user=postgres dbname=clinic"
export CLINIC_BROKERS=$FERRY_BROKERS CLINIC_SLOT=ferry_clinic CLINIC_TOPIC_PREFIX=clinic
cfg=$clinic/ferry.yaml
src() { psql -qAtX -v ON_ERROR_STOP=1 -d "$CLINIC_SOURCE_DSN" "$@"; }
tgt() { psql -qAtX -v ON_ERROR_STOP=1 -d "$CLINIC_TARGET_DSN" "$@"; }

say "loading the legacy clinic database (scale $scale) and the new schema"
"$clinic/generate.sh" "$CLINIC_SOURCE_DSN" --scale "$scale"
tgt -f "$clinic/target.sql" >/dev/null
source_rows() {
  src -c "SELECT (SELECT count(*) FROM dispatch_office) + (SELECT count(*) FROM auth_user) + (SELECT count(*) FROM dispatch_doctor) + (SELECT count(*) FROM dispatch_patient) + (SELECT count(*) FROM dispatch_jaw) + (SELECT count(*) FROM dispatch_instruction) + (SELECT count(*) FROM dispatch_instance) + (SELECT count(*) FROM dispatch_comment) + (SELECT count(*) FROM dispatch_record) + (SELECT count(*) FROM dispatch_file) + (SELECT count(*) FROM dispatch_treatment_plan) + (SELECT count(*) FROM dispatch_payment) + (SELECT count(*) FROM dispatch_state) + (SELECT count(*) FROM dispatch_notification)"
}
target_rows() {
  tgt -c "SELECT (SELECT count(*) FROM offices) + (SELECT count(*) FROM profiles) + (SELECT count(*) FROM doctors) + (SELECT count(*) FROM patients) + (SELECT count(*) FROM jaws) + (SELECT count(*) FROM orders) + (SELECT count(*) FROM cases) + (SELECT count(*) FROM comments) + (SELECT count(*) FROM messages) + (SELECT count(*) FROM files) + (SELECT count(*) FROM treatment_plans) + (SELECT count(*) FROM payments) + (SELECT count(*) FROM case_states) + (SELECT count(*) FROM system_messages)"
}
state_count() { tgt -c "SELECT count(*) FROM ferry.$1" 2>/dev/null || echo 0; }
lag_bytes() {
  src -c "SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint FROM pg_replication_slots WHERE slot_name = 'ferry_clinic'"
}
progress() {
  printf '   source %8s rows | target %8s rows | parked %5s | errors %3s | slot lag %8s bytes\n' \
    "$(source_rows)" "$(target_rows)" "$(state_count parked)" "$(state_count errors)" "$(lag_bytes || echo -)"
}
echo "   $(source_rows) legacy rows"

say "ferry-map plan: the apply order"
ferry-map plan -c "$cfg" | sed 's/^/   /'

say "ferry-cdc (snapshot, then streaming) and ferry-sink"
t_start=$(date +%s.%N)
ferry-cdc -c "$cfg" --status-interval 1 2>"$state/cdc.log" &
pids+=($!)
ferry-sink -c "$cfg" 2>"$state/sink.log" &
sink_pid=$!
pids+=($sink_pid)
initial=$(source_rows)
for _ in $(seq 3000); do
  loaded=$(($(target_rows) + $(state_count parked) + $(state_count errors)))
  [ "$loaded" -ge "$initial" ] && break
  sleep 0.2
done
t_loaded=$(date +%s.%N)
progress

say "driving live changes on the legacy database for $live s"
"$clinic/live.sh" "$CLINIC_SOURCE_DSN" "$live" >"$state/live.out" &
live_pid=$!
while kill -0 $live_pid 2>/dev/null; do
  sleep 5
  progress
done
wait $live_pid
echo "   $(cat "$state/live.out") of live changes done"

say "catching up"
t_writes_end=$(date +%s.%N)
end_lsn=$(src -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
for _ in $(seq 600); do
  conf=$(src -c "SELECT pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::bigint FROM pg_replication_slots WHERE slot_name = 'ferry_clinic'")
  [ "$conf" -ge "$end_lsn" ] && break
  sleep 0.2
done
# The live sink stops after its batch; one last run applies what remains.
kill -TERM $sink_pid; wait $sink_pid || true
ferry-sink -c "$cfg" --exit-at-end 2>>"$state/sink.log"
t_end=$(date +%s.%N)
progress

say "ferry-map validate"
rc=0
ferry-map validate -c "$cfg" | tee "$state/validate.txt" | sed 's/^/   /' || rc=$?

say "summary"
/usr/bin/python3 - "$t_start" "$t_loaded" "$t_writes_end" "$t_end" "$initial" \
  "$(target_rows)" "$(state_count parked)" "$(state_count errors)" "$rc" "$scale" \
  "$(cat "$state/live.out")" <<'PY'
import sys
t0, tl, tw, te = map(float, sys.argv[1:5])
initial, rows, parked, errors, rc = map(int, sys.argv[5:10])
scale, live = sys.argv[10], sys.argv[11].split()[-1]
verdict = "agree" if rc == 0 else "DISAGREE (see above)"
print("   ferry moved the legacy clinic database (scale %s, %d rows) into the new "
      "schema in %.1f s (%.0f rows/s, snapshot through Kafka to the target), then "
      "kept it in step through %s rounds of live inserts, updates and deletes; the "
      "last live change reached the target %.1f s after the writes stopped "
      "(end-to-end lag). The target holds %d rows; %d orphan rows are parked "
      "waiting for parents the legacy database does not have, %d rows are "
      "recorded as errors, and ferry-map validate says source and target %s."
      % (scale, initial, tl - t0, initial / (tl - t0), live, te - tw, rows,
         parked, errors, verdict))
PY
exit $rc
