#!/usr/bin/env bash
# Benchmark: end-to-end delay, source commit to row in the target, under a
# steady load of small transactions (a parent and a child with a ref, two
# rows each) while ferry-cdc and ferry-sink stream.  A report, never a
# pass/fail test.
# tests/bench/bench_latency.sh BUILD_DIR [SECONDS] [ROWS_PER_SECOND]
#
# Each source row is stamped with clock_timestamp() at insert (its
# transaction commits right after); the target row is stamped on arrival
# by a target-only column defaulting to clock_timestamp().  Both servers
# run on this machine, one clock.  pgbench drives the load at a fixed rate
# (default 2,000 rows/s for 30 s).  Reports p50, p90, p99 and max of the
# delay, and the rate reached (BENCH_KAFKA_PROPS="k: v, ..." adds Kafka
# properties to the mapping); then a backlog: the same sink started
# behind 100,000 rows, to show that low delay did not cost throughput.
set -euo pipefail
build=$(cd "${1:?usage: bench_latency.sh BUILD_DIR [SECONDS] [ROWS_PER_SECOND]}" && pwd)
secs=${2:-30}
rate=${3:-2000}
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/ferry-bench-latency.XXXXXX)
chmod 755 "$work"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
src="host=127.0.0.1 port=$port user=postgres dbname=src"
tgt="host=127.0.0.1 port=$port user=postgres dbname=tgt"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$top/deploy/pg-cluster.sh" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$top/deploy/pg-cluster.sh" start "$work/pg" "$port" >/dev/null
"$build/deploy/devbroker/ferry-devbroker" -f "$work/bs" \
  -t lat.public.parent:4 -t lat.public.child:4 -t lat.transaction:1 \
  >"$work/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/bs" ] && break; sleep 0.1; done
psql -qAtX -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE src" -c "CREATE DATABASE tgt"
psql -qAtX -d "$src" <<'SQL'
CREATE TABLE parent (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE child (id bigint PRIMARY KEY, parent_id bigint NOT NULL,
                    at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE SEQUENCE s;
SQL
psql -qAtX -d "$tgt" <<'SQL'
CREATE TABLE parents (id uuid PRIMARY KEY, legacy_id bigint UNIQUE, src_at timestamptz,
                      arrived timestamptz DEFAULT clock_timestamp());
CREATE TABLE children (id uuid PRIMARY KEY, legacy_id bigint UNIQUE,
                       parent_id uuid REFERENCES parents, src_at timestamptz,
                       arrived timestamptz DEFAULT clock_timestamp());
SQL
cat >"$work/ferry.yaml" <<YAML
source: { dsn: "$src", slot: bench_latency }
kafka: { brokers: "$(cat "$work/bs")", topic_prefix: lat, properties: { compression.type: lz4${BENCH_KAFKA_PROPS:+, $BENCH_KAFKA_PROPS} } }
target: { dsn: "$tgt", uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f }
entities:
  parents: { source: parent, target: parents, legacy_id_column: legacy_id, columns: { src_at: at } }
  children:
    source: child
    target: children
    legacy_id_column: legacy_id
    columns: { src_at: at, parent_id: { ref: parents, from: parent_id } }
YAML
cat >"$work/tx.sql" <<'SQL'
BEGIN;
SELECT nextval('s') AS n \gset
INSERT INTO parent (id) VALUES (:n);
INSERT INTO child (id, parent_id) VALUES (:n, :n);
COMMIT;
SQL
"$build/cdc/ferry-cdc" -c "$work/ferry.yaml" --endpos "$(psql -qAtX -d "$src" -c 'SELECT pg_current_wal_lsn()')" 2>"$work/cdc.log"
"$build/cdc/ferry-cdc" -c "$work/ferry.yaml" 2>>"$work/cdc.log" &
pids+=($!)
"$build/sink/ferry-sink" -c "$work/ferry.yaml" 2>"$work/sink.log" &
sink=$!
pids+=($sink)
sleep 3
txs=$((rate / 2))
echo "bench_latency: $txs transactions/s ($rate rows/s) for $secs s ..." >&2
/usr/lib/postgresql/15/bin/pgbench -n -h 127.0.0.1 -p "$port" -U postgres -c 4 -j 2 -R "$txs" -T "$secs" \
  -f "$work/tx.sql" src >"$work/pgbench.log" 2>&1
want=$(psql -qAtX -d "$src" -c "SELECT count(*) FROM child")
for _ in $(seq 600); do
  got=$(psql -qAtX -d "$tgt" -c "SELECT count(*) FROM children")
  [ "$got" -ge "$want" ] && break
  sleep 0.1
done
[ "$got" -ge "$want" ] || { echo "bench_latency: only $got of $want rows arrived" >&2; tail -5 "$work/sink.log" >&2; exit 1; }
psql -qAtX -d "$tgt" <<SQL
SELECT format('bench_latency: %s rows in %s s (%s rows/s), source commit to target row: p50 %s ms, p90 %s ms, p99 %s ms, max %s ms (goal: p99 under 250 ms)',
  count(*), $secs, round(count(*) / $secs.0), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)),
  round(percentile_cont(0.9) WITHIN GROUP (ORDER BY d)), round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)),
  round(max(d)))
FROM (SELECT extract(epoch FROM arrived - src_at) * 1000 AS d FROM parents
      UNION ALL SELECT extract(epoch FROM arrived - src_at) * 1000 FROM children) x;
SQL
# A backlog: stop the sink, write 100,000 rows, time the catch-up.
kill -TERM $sink; wait $sink || true
psql -qAtX -d "$src" -c "INSERT INTO parent (id) SELECT nextval('s') FROM generate_series(1, 50000) g" \
  -c "INSERT INTO child (id, parent_id) SELECT id, id FROM parent WHERE id > (SELECT max(id) - 50000 FROM parent)"
want=$(psql -qAtX -d "$src" -c "SELECT count(*) FROM child")
end=$(psql -qAtX -d "$src" -c "SELECT pg_current_wal_lsn()")
for _ in $(seq 600); do
  [ "$(psql -qAtX -d "$src" -c "SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'bench_latency'")" = t ] && break
  sleep 0.1
done
t0=$(date +%s.%N)
"$build/sink/ferry-sink" -c "$work/ferry.yaml" --exit-at-end 2>>"$work/sink.log"
t1=$(date +%s.%N)
got=$(psql -qAtX -d "$tgt" -c "SELECT count(*) FROM children")
/usr/bin/python3 -c "print('bench_latency: a backlog of 100,000 rows caught up in %.1f s (%.0f rows/s); %s of %s children there' % ($t1 - $t0, 100000 / ($t1 - $t0), '$got', '$want'))"
