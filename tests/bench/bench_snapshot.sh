#!/usr/bin/env bash
# Snapshot throughput: ROWS rows of an 8-column table (1,000,000 by
# default) read by ferry-cdc's initial snapshot
# and acknowledged by a ferry-devbroker, against COPY (SELECT ...) TO STDOUT
# of the same rows to /dev/null.  Reports both rates and their ratio (the
# goal is 0.7 or more); never passes or fails on the numbers.
# tests/bench/bench_snapshot.sh [BUILD_DIR] [ROWS]
#
# Starts its own PostgreSQL 15 (deploy/pg-cluster.sh) and devbroker (one
# topic of 32 partitions, lz4 compression) and stops both at the end.
# BENCH_CDC_ARGS adds ferry-cdc options (--snapshot-threads 4, say);
# BENCH_PERF=FILE records ferry-cdc (every thread) with perf into FILE;
# BENCH_CALLGRIND=FILE counts its instructions with valgrind's callgrind
# (exact but slow: use a few tens of thousands of rows).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
rows=${2:-1000000}
tmp=$(mktemp -d /tmp/ferry-bench-snapshot.XXXXXX)
chmod 755 "$tmp"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
broker_pid=
cleanup() {
  if [ -n "$broker_pid" ]; then kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; fi
  "$top/deploy/pg-cluster.sh" stop "$tmp/pg" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

"$top/deploy/pg-cluster.sh" start "$tmp/pg" "$port" >/dev/null
dsn="host=127.0.0.1 port=$port user=postgres dbname=postgres"
psql -qAtX -v ON_ERROR_STOP=1 -d "$dsn" >/dev/null <<SQL
CREATE TABLE big (id bigint PRIMARY KEY, n int NOT NULL, name text,
                  amount numeric(12,2), created timestamptz, flag bool,
                  score float8, code varchar(12));
INSERT INTO big SELECT g, g % 1000, 'name ' || g, g / 7.0,
  '2024-01-01'::timestamptz + g * interval '1 second', g % 3 = 0,
  g / 3.0, 'c' || (g % 99999)
  FROM generate_series(1, $rows) g;
VACUUM ANALYZE big;
SQL

"$build/deploy/devbroker/ferry-devbroker" -f "$tmp/bootstrap" --topic bench.public.big:32 \
  >"$tmp/devbroker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 100); do [ -s "$tmp/bootstrap" ] && break; sleep 0.1; done
cat >"$tmp/ferry.yaml" <<EOF
source: { dsn: "$dsn", slot: bench }
kafka:
  brokers: "$(cat "$tmp/bootstrap")"
  topic_prefix: bench
  properties: { compression.type: lz4 }
target: { dsn: "$dsn", uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f }
entities:
  big: { source: public.big, target: public.big, legacy_id_column: legacy_id }
EOF

now() { date +%s.%N; }
# COPY first, so both read a warm cache.
psql -qAtX -d "$dsn" -c "COPY (SELECT * FROM big) TO STDOUT" >/dev/null
t0=$(now)
psql -qAtX -d "$dsn" -c "COPY (SELECT * FROM big) TO STDOUT" >/dev/null
t1=$(now)
end=$(psql -qAtX -d "$dsn" -c "SELECT pg_current_wal_lsn()")
t2=$(now)
wrap=()
[ -n "${BENCH_PERF:-}" ] && wrap=(perf record -q -g -o "$BENCH_PERF")
[ -n "${BENCH_CALLGRIND:-}" ] && wrap=(valgrind -q --tool=callgrind --callgrind-out-file="$BENCH_CALLGRIND")
FERRY_LOG_LEVEL=info "${wrap[@]}" "$build/cdc/ferry-cdc" -c "$tmp/ferry.yaml" --endpos "$end" \
  --heartbeat-interval 0 ${BENCH_CDC_ARGS:-} 2>"$tmp/cdc.log" || { tail -5 "$tmp/cdc.log"; exit 1; }
t3=$(now)
acked=$(grep -o 'snapshot complete, [0-9]* rows acknowledged' "$tmp/cdc.log" | grep -o '[0-9]*' | head -1)
/usr/bin/python3 - "$rows" "$acked" "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
rows, acked = int(sys.argv[1]), int(sys.argv[2] or 0)
t0, t1, t2, t3 = map(float, sys.argv[3:])
copy_rate = rows / (t1 - t0)
snap_rate = acked / (t3 - t2)
print("rows:                   %d (%d acknowledged by Kafka)" % (rows, acked))
print("COPY ... TO STDOUT:     %.2f s, %.0f rows/s" % (t1 - t0, copy_rate))
print("ferry-cdc snapshot:     %.2f s, %.0f rows/s (slot creation to exit)" % (t3 - t2, snap_rate))
print("ratio snapshot / COPY:  %.2f (goal >= 0.7)" % (snap_rate / copy_rate))
PY
grep -E "snapshot public.big|snapshot of" "$tmp/cdc.log" | sed 's/^/  /'
