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
#
# When a step fails, the demo names the step and prints the last lines of
# what it ran (the compiler, a server log, the ferry log) before it stops.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
scale=0.01
live=30
while [ $# -gt 0 ]; do
  case "$1" in
  --scale) scale=${2:?--scale needs a value}; shift 2 ;;
  --live) live=${2:?--live needs a value}; shift 2 ;;
  -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "demo.sh: unknown argument \"$1\" (try --help)" >&2; exit 2 ;;
  esac
done

build=${FERRY_BUILD_DIR:-$top/build-demo}
state=$(mktemp -d /tmp/ferry-demo.XXXXXX)
chmod 755 "$state"
clinic=$top/deploy/examples/clinic
pids=()

# --- steps -----------------------------------------------------------------
# Every step names itself and the logs that explain it.  If the demo stops
# inside a step, cleanup prints the step and the tail of each of those logs,
# so a new user sees why without opening a file.
step_name=
step_logs=()
step() {
  step_name=$1
  shift
  step_logs=("$@")
  printf '\n== %s\n' "$step_name"
}
# die MSG: stop the current step with a reason of our own.
die() {
  echo "demo: $*" >&2
  exit 1
}
# show_log FILE: the compiler's errors when it holds any (a parallel build
# prints more after the first error), otherwise its last lines.
show_log() {
  local f=$1
  [ -s "$f" ] || return 0
  if grep -q -E '(error|warning): ' "$f"; then
    printf -- '--- errors in %s\n' "$f" >&2
    grep -E -A3 '(error|warning): ' "$f" | head -n 40 | sed 's/^/    /' >&2
  else
    printf -- '--- last lines of %s\n' "$f" >&2
    tail -n 25 "$f" | sed 's/^/    /' >&2
  fi
}
cleanup() {
  local rc=$?
  trap - EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ $rc -ne 0 ] && [ -n "$step_name" ]; then
    printf '\ndemo: step "%s" failed (exit status %d)\n' "$step_name" "$rc" >&2
    for f in "${step_logs[@]}"; do show_log "$f"; done
  fi
  # The server logs go away with the stack; show them first when they matter.
  bash "$top/tests/integration/stack.sh" stop "$state" >/dev/null 2>&1 || true
  if [ $rc -eq 0 ]; then rm -rf "$state"; else echo "demo: logs kept in $state" >&2; fi
  exit $rc
}
trap cleanup EXIT
# alive NAME PID LOG: a background program the demo waits on must still run.
alive() {
  kill -0 "$2" 2>/dev/null && return 0
  local rc=0
  wait "$2" || rc=$?
  step_logs=("$3")
  die "$1 exited with status $rc while the demo waited on it"
}

# --- build -----------------------------------------------------------------
if [ -z "${FERRY_DEMO_SKIP_BUILD:-}" ]; then
  step "installing what is missing and building ferry" "$state/build.log"
  "$top/deploy/install-deps.sh" >"$state/build.log" 2>&1
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >>"$state/build.log" 2>&1
  cmake --build "$build" -j"$(nproc)" >>"$state/build.log" 2>&1
  echo "   built in $build"
fi
export PATH="$build/cdc:$build/sink:$build/mapping:$PATH"
for prog in ferry-cdc ferry-sink ferry-map; do
  command -v "$prog" >/dev/null || die "no $prog in $build (build it, or unset FERRY_DEMO_SKIP_BUILD)"
done

# --- servers ---------------------------------------------------------------
step "starting the legacy and new PostgreSQL 15 and ferry-devbroker" "$state/stack.log"
# Enough partitions per topic for ferry-devbroker's 5 MiB per partition.
topics=$("$top/deploy/examples/clinic/topics.sh" "$scale")
FERRY_DEVBROKER_ARGS=$topics bash "$top/tests/integration/stack.sh" start "$state" "$build" >"$state/stack.log" 2>&1
# shellcheck disable=SC1091
. "$state/env"
step_logs=("$state/stack.log" "$FERRY_STACK_DIR/source/server.log"
  "$FERRY_STACK_DIR/target/server.log" "$FERRY_STACK_DIR/devbroker.log")
for port in "$FERRY_SRC_PORT" "$FERRY_TGT_PORT"; do
  psql -qAtX -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE clinic" >>"$state/stack.log" 2>&1
done
export CLINIC_SOURCE_DSN="host=127.0.0.1 port=$FERRY_SRC_PORT user=postgres dbname=clinic"
export CLINIC_TARGET_DSN="host=127.0.0.1 port=$FERRY_TGT_PORT user=postgres dbname=clinic"
export CLINIC_BROKERS=$FERRY_BROKERS CLINIC_SLOT=ferry_clinic CLINIC_TOPIC_PREFIX=clinic
cfg=$clinic/ferry.yaml
src() { psql -qAtX -v ON_ERROR_STOP=1 -d "$CLINIC_SOURCE_DSN" "$@"; }
tgt() { psql -qAtX -v ON_ERROR_STOP=1 -d "$CLINIC_TARGET_DSN" "$@"; }
echo "   source :$FERRY_SRC_PORT, target :$FERRY_TGT_PORT, brokers $FERRY_BROKERS"

# --- data ------------------------------------------------------------------
step "loading the legacy clinic database (scale $scale) and the new schema" "$state/load.log"
"$clinic/generate.sh" "$CLINIC_SOURCE_DSN" --scale "$scale" >"$state/load.log" 2>&1 &
gen_pid=$!
pids+=($gen_pid)
t_gen=$SECONDS
while sleep 1 && kill -0 $gen_pid 2>/dev/null; do
  [ $(((SECONDS - t_gen) % 5)) = 0 ] || continue
  # Rows are counted only once their transaction commits; the bytes grow
  # as they are written.
  echo "   legacy load: $(src -c "SELECT pg_size_pretty(pg_database_size(current_database()))" 2>/dev/null || echo '?') written so far, $((SECONDS - t_gen)) s"
done
wait $gen_pid
echo "   legacy load: done in $((SECONDS - t_gen)) s"
tgt -f "$clinic/target.sql" >>"$state/load.log" 2>&1
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

# --- plan ------------------------------------------------------------------
step "ferry-map plan: the apply order" "$state/plan.txt"
ferry-map plan -c "$cfg" >"$state/plan.txt" 2>&1
sed 's/^/   /' "$state/plan.txt"

# --- sync ------------------------------------------------------------------
step "ferry-cdc (snapshot, then streaming) and ferry-sink" "$state/cdc.log" "$state/sink.log"
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cdc_metrics=127.0.0.1:$(free_port)
sink_metrics=127.0.0.1:$(free_port)
echo "   metrics: ferry-cdc http://$cdc_metrics/metrics, ferry-sink http://$sink_metrics/metrics"
initial=$(source_rows)
t_start=$(date +%s.%N)
ferry-cdc -c "$cfg" --status-interval 1 --metrics-listen "$cdc_metrics" 2>"$state/cdc.log" &
cdc_pid=$!
pids+=($cdc_pid)
ferry-sink -c "$cfg" --metrics-listen "$sink_metrics" 2>"$state/sink.log" &
sink_pid=$!
pids+=($sink_pid)
# The initial load is done once ferry-sink is ready: the snapshot applied,
# entity by entity, and streaming begun.  The figures are ferry's own.
if ! /usr/bin/python3 "$top/deploy/demo-progress.py" --sink "$sink_metrics" --cdc "$cdc_metrics" \
  --expected "$initial" --until ready --timeout 3600 --pid $cdc_pid --pid $sink_pid |
  tee "$state/load-progress.txt"; then
  alive ferry-cdc $cdc_pid "$state/cdc.log"
  alive ferry-sink $sink_pid "$state/sink.log"
  die "ferry-sink did not finish the initial load"
fi
t_loaded=$(date +%s.%N)
progress

step "driving live changes on the legacy database for $live s" \
  "$state/live.out" "$state/cdc.log" "$state/sink.log"
"$clinic/live.sh" "$CLINIC_SOURCE_DSN" "$live" >"$state/live.out" 2>&1 &
live_pid=$!
while kill -0 $live_pid 2>/dev/null; do
  sleep 5
  alive ferry-cdc $cdc_pid "$state/cdc.log"
  alive ferry-sink $sink_pid "$state/sink.log"
  /usr/bin/python3 "$top/deploy/demo-progress.py" --sink "$sink_metrics" --cdc "$cdc_metrics" --once
done
wait $live_pid
echo "   $(cat "$state/live.out") of live changes done"

step "catching up" "$state/cdc.log" "$state/sink.log"
t_writes_end=$(date +%s.%N)
end_lsn=$(src -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
conf=0
for i in $(seq 600); do
  alive ferry-cdc $cdc_pid "$state/cdc.log"
  conf=$(src -c "SELECT pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::bigint FROM pg_replication_slots WHERE slot_name = 'ferry_clinic'")
  [ "$conf" -ge "$end_lsn" ] && break
  [ $((i % 25)) = 0 ] &&
    /usr/bin/python3 "$top/deploy/demo-progress.py" --sink "$sink_metrics" --cdc "$cdc_metrics" --once
  sleep 0.2
done
[ "$conf" -ge "$end_lsn" ] || die "ferry-cdc did not confirm the last change within 2 minutes"
# The live sink stops after its batch; one last run applies what remains.
alive ferry-sink $sink_pid "$state/sink.log"
kill -TERM $sink_pid
wait $sink_pid || true
ferry-sink -c "$cfg" --exit-at-end 2>>"$state/sink.log"
t_end=$(date +%s.%N)
progress

step "ferry-map validate" "$state/validate.txt"
rc=0
ferry-map validate -c "$cfg" >"$state/validate.txt" 2>&1 &
validate_pid=$!
pids+=($validate_pid)
t_val=$SECONDS
while sleep 1 && kill -0 $validate_pid 2>/dev/null; do
  [ $(((SECONDS - t_val) % 5)) = 0 ] && echo "   validate: comparing $initial legacy rows, $((SECONDS - t_val)) s so far"
done
wait $validate_pid || rc=$?
sed 's/^/   /' "$state/validate.txt"

step "summary"
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
# Validate's disagreement is the demo's result, not a broken step.
step_name=
exit $rc
