#!/usr/bin/env bash
# Benchmark: the initial load of the legacy clinic database (scale 1 is the
# seeds' production volume, about 1.6M rows) from an empty target to
# everything applied, against COPY in the same run.  A report, never a
# pass/fail test.
# tests/bench/bench_load.sh BUILD_DIR [SCALE]
#
# Baseline: every legacy table copied with COPY out of the source and COPY
# into an identical schema (same keys) in the target's cluster, one table
# after the other: the physical cost of moving the bytes once.
# ferry: ferry-cdc's snapshot through ferry-devbroker (partitions as the
# demo makes them, lz4) to ferry-sink's bulk load into the new schema (UUID
# keys, unique legacy ids, FKs on), timed from ferry-cdc's start until
# ferry-sink's /readyz says ready (the snapshot applied).
# Reports both times, the ratio, the peak of parked rows, the rows drained
# (parked, then applied: 0 when the snapshot is applied in dependency
# order) and the peak RSS of ferry-cdc and ferry-sink.
set -euo pipefail
build=$(cd "${1:?usage: bench_load.sh BUILD_DIR [SCALE]}" && pwd)
scale=${2:-1}
top=$(cd "$(dirname "$0")/../.." && pwd)
clinic=$top/deploy/examples/clinic
state=$(mktemp -d /tmp/ferry-bench-load.XXXXXX)
chmod 755 "$state"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  bash "$top/tests/integration/stack.sh" stop "$state" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT

FERRY_DEVBROKER_ARGS=$("$clinic/topics.sh" "$scale") \
  bash "$top/tests/integration/stack.sh" start "$state" "$build" >"$state/stack.log" 2>&1
# shellcheck disable=SC1091
. "$state/env"
for port in "$FERRY_SRC_PORT" "$FERRY_TGT_PORT"; do
  psql -qAtX -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE clinic" >/dev/null
done
psql -qAtX -h 127.0.0.1 -p "$FERRY_TGT_PORT" -U postgres -d postgres -c "CREATE DATABASE copybase" >/dev/null
export CLINIC_SOURCE_DSN="host=127.0.0.1 port=$FERRY_SRC_PORT user=postgres dbname=clinic"
export CLINIC_TARGET_DSN="host=127.0.0.1 port=$FERRY_TGT_PORT user=postgres dbname=clinic"
export CLINIC_BROKERS=$FERRY_BROKERS CLINIC_SLOT=ferry_clinic CLINIC_TOPIC_PREFIX=clinic
copy_dsn="host=127.0.0.1 port=$FERRY_TGT_PORT user=postgres dbname=copybase"
echo "bench_load: generating the legacy clinic database at scale $scale"
"$clinic/generate.sh" "$CLINIC_SOURCE_DSN" --scale "$scale" >"$state/load.log" 2>&1
psql -qAtX -v ON_ERROR_STOP=1 -d "$CLINIC_TARGET_DSN" -f "$clinic/target.sql" >>"$state/load.log" 2>&1
rows=$(psql -qAtX -d "$CLINIC_SOURCE_DSN" -c "SELECT sum(n_live_tup)::bigint FROM pg_stat_user_tables")
tables=$(psql -qAtX -d "$CLINIC_SOURCE_DSN" -c "SELECT string_agg(relname, ' ') FROM pg_stat_user_tables WHERE relname LIKE 'dispatch_%' OR relname = 'auth_user'")

# The baseline.
pg_dump -s -d "$CLINIC_SOURCE_DSN" | psql -qAtX -d "$copy_dsn" >/dev/null 2>&1
t0=$(date +%s.%N)
for t in $tables; do
  psql -qAtX -d "$CLINIC_SOURCE_DSN" -c "COPY public.\"$t\" TO STDOUT" |
    psql -qAtX -d "$copy_dsn" -c "COPY public.\"$t\" FROM STDIN"
done
t_copy=$(/usr/bin/python3 -c "import time; print(time.time() - $t0)")
echo "bench_load: COPY of $rows rows: $(printf '%.1f' "$t_copy") s"

# ferry.
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cdc_m=127.0.0.1:$(port); sink_m=127.0.0.1:$(port)
peak_rss() {
  local pid=$1 peak=0 rss
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ -n "$rss" ] && [ "$rss" -gt "$peak" ] && { peak=$rss; echo "$peak" >"$2"; }
    sleep 0.2
  done
}
t0=$(date +%s.%N)
"$build/cdc/ferry-cdc" -c "$clinic/ferry.yaml" --metrics-listen "$cdc_m" 2>"$state/cdc.log" &
cdc=$!; pids+=($cdc)
"$build/sink/ferry-sink" -c "$clinic/ferry.yaml" --metrics-listen "$sink_m" 2>"$state/sink.log" &
sink=$!; pids+=($sink)
peak_rss $cdc "$state/cdc.rss" & pids+=($!)
peak_rss $sink "$state/sink.rss" & pids+=($!)
/usr/bin/python3 "$top/deploy/demo-progress.py" --sink "$sink_m" --cdc "$cdc_m" \
  --expected "$rows" --until ready --timeout 7200 --pid $cdc --pid $sink >"$state/progress.txt" ||
  { tail -5 "$state/progress.txt" "$state/sink.log" "$state/cdc.log"; exit 1; }
t_ferry=$(/usr/bin/python3 -c "import time; print(time.time() - $t0)")
load=$(grep "load done" "$state/progress.txt")
cat <<EOF
bench_load: scale $scale, $rows legacy rows, $(nproc) cores, $(date -u +%Y-%m-%d)
  COPY (source to an identical schema): $(printf '%8.1f' "$t_copy") s
  ferry (snapshot to all applied):      $(printf '%8.1f' "$t_ferry") s
  ratio ferry / COPY:                   $(/usr/bin/python3 -c "print('%8.2f' % ($t_ferry / $t_copy))")  (goal: at most 2)
  $load
  peak RSS: ferry-cdc $(( $(cat "$state/cdc.rss" 2>/dev/null || echo 0) / 1024 )) MB, ferry-sink $(( $(cat "$state/sink.rss" 2>/dev/null || echo 0) / 1024 )) MB (goal for the sink: under 256 MB)
EOF
