#!/usr/bin/env bash
# Benchmark: stream a backlog of 1,000,000 rows (8 columns of mixed types,
# transactions of 1,000 rows) through ferry-cdc into ferry-devbroker until
# every message is acknowledged; in the same run, pg_recvlogical drains the
# same backlog from a second slot to /dev/null.  Reports both rates, their
# ratio and ferry-cdc's peak RSS.  A report, never a pass/fail test.
# tests/bench/bench_cdc_stream.sh BUILD_DIR [ROWS]
set -euo pipefail
build=$(cd "${1:?usage: bench_cdc_stream.sh BUILD_DIR [ROWS]}" && pwd)
rows=${2:-1000000}
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/ferry-bench-cdc.XXXXXX)
chmod 755 "$work"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dsn="host=127.0.0.1 port=$port user=postgres dbname=postgres"
broker_pid=

cleanup() {
  if [ -n "$broker_pid" ]; then kill "$broker_pid" 2>/dev/null || true; fi
  "$top/deploy/pg-cluster.sh" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$top/deploy/pg-cluster.sh" start "$work/pg" "$port" >/dev/null
"$build/deploy/devbroker/ferry-devbroker" -f "$work/bs" -t bench.public.bench:16 \
  >"$work/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 50); do [ -s "$work/bs" ] && break; sleep 0.1; done

psql -qAtX -d "$dsn" -c "CREATE TABLE bench (id int PRIMARY KEY, name text, amount numeric(12,2), created timestamptz, active bool, score float8, tags text[], doc jsonb)"
cat >"$work/ferry.yaml" <<YAML
source: { dsn: "$dsn", slot: bench_ferry }
kafka:
  brokers: "$(cat "$work/bs")"
  topic_prefix: bench
  properties: { compression.type: lz4 }
target: { dsn: "$dsn", uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f }
entities:
  bench: { source: public.bench, target: public.bench, legacy_id_column: legacy_id }
YAML
"$build/cdc/ferry-cdc" -c "$work/ferry.yaml" --heartbeat-interval 0 \
  --endpos "$(psql -qAtX -d "$dsn" -c 'SELECT pg_current_wal_lsn()')" 2>/dev/null
pg_recvlogical -d "$dsn" --slot bench_recv --create-slot -P wal2json

echo "loading $rows rows in transactions of 1,000 ..."
for ((lo = 1; lo <= rows; lo += 1000)); do
  echo "INSERT INTO bench SELECT g, 'name ' || g, (g % 100000) / 100.0, now(), g % 2 = 0, g / 3.0, ARRAY['a', g::text], jsonb_build_object('g', g) FROM generate_series($lo, $((lo + 999))) g;"
done | psql -qAtX -d "$dsn" >/dev/null
end=$(psql -qAtX -d "$dsn" -c 'SELECT pg_current_wal_lsn()')

now() { date +%s.%N; }
t0=$(now)
pg_recvlogical -d "$dsn" --slot bench_recv --start --endpos "$end" -f /dev/null \
  -o format-version=2 -o include-xids=1 -o include-timestamp=1 -o include-lsn=1 \
  -o include-pk=1 -o include-types=1 -o add-tables=public.bench --no-loop
t1=$(now)
"$build/cdc/ferry-cdc" -c "$work/ferry.yaml" --heartbeat-interval 0 --endpos "$end" \
  2>"$work/cdc.log" &
cdc=$!
peak=0
while kill -0 $cdc 2>/dev/null; do
  rss=$(awk '/^VmRSS/ {print $2}' /proc/$cdc/status 2>/dev/null || echo 0)
  [ -n "$rss" ] && [ "$rss" -gt "$peak" ] && peak=$rss
  sleep 0.05
done
wait $cdc
t2=$(now)
grep -q "after $rows events" "$work/cdc.log" || { tail -3 "$work/cdc.log"; exit 1; }

/usr/bin/python3 - "$rows" "$t0" "$t1" "$t2" "$peak" <<'PY'
import sys
rows, t0, t1, t2, peak = int(sys.argv[1]), *map(float, sys.argv[2:5]), int(sys.argv[5])
recv, ferry = rows / (t1 - t0), rows / (t2 - t1)
print("pg_recvlogical to /dev/null: %9.0f rows/s (%.2f s)" % (recv, t1 - t0))
print("ferry-cdc to devbroker:      %9.0f rows/s (%.2f s), every message acknowledged" % (ferry, t2 - t1))
print("ratio ferry-cdc / pg_recvlogical: %.2f (goal 0.90)" % (ferry / recv))
print("ferry-cdc peak RSS: %.1f MB" % (peak / 1024))
PY
