#!/usr/bin/env bash
# Benchmark: ferry-sink applies ROWS change events (all inserts, then all
# updates) of an entity with one ref into the target; in the same run, COPY
# loads the same rows into an identical empty table (three times; the
# median is the baseline).  The events are made by
# ferry-cdc (transactions of 1,000 rows) into a private ferry-devbroker
# (BENCH_PARTITIONS partitions, 32 by default; BENCH_COMPRESSION, lz4 by
# default, or none) before the sink is timed.  Reports both rates, the ratios
# to COPY and the sink's peak RSS.  A report, never a pass/fail test.
# tests/bench/bench_sink.sh BUILD_DIR [ROWS] [SINK_ARGS...]
# With BENCH_STMT_LOG=FILE, the target logs every statement's duration and
# the server log is copied to FILE (to see where the sink's time goes); with
# BENCH_PERF=PREFIX, each timed sink run is recorded by perf into
# PREFIX.inserts and PREFIX.updates (BENCH_CALLGRIND=PREFIX: by valgrind's
# callgrind, instructions counted exactly; slow, use a few thousand rows); BENCH_SINK_LOG=FILE keeps the sink's log;
# BENCH_KAFKA_PROPS="k: v, ..." adds Kafka properties to the mapping;
# BENCH_SINK_CPU=N pins the sink to CPU N (run the script itself under
# "taskset -c M" to keep the target, broker and ferry-cdc off it: a model
# of a target on another machine).
# BENCH_LSN_COLUMN=1 gives the entity an lsn_column (docs/mapping.md), in
# the baseline's table too.
# BENCH_SHAPE=race: the parent table (ROWS/4 rows) is in ferry-cdc's
# initial snapshot and the inserts stream behind it, so the sink's first
# run applies the parents' snapshot alongside its children's inserts (the
# dependency-ordered bulk load); that run is the one timed, against COPY
# of the same parents and items.
# BENCH_SHAPE=orphans: every item is inserted before its parent exists (a
# legacy source without FKs), and the 1,000 parents come in a last
# transaction: the timed run parks every item, then drains them all once
# the parents are applied; against COPY of the same parents and items.
set -euo pipefail
build=$(cd "${1:?usage: bench_sink.sh BUILD_DIR [ROWS] [SINK_ARGS...]}" && pwd)
rows=${2:-1000000}
shift $(($# >= 2 ? 2 : 1))
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/ferry-bench-sink.XXXXXX)
chmod 755 "$work"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
src="host=127.0.0.1 port=$port user=postgres dbname=src"
tgt="host=127.0.0.1 port=$port user=postgres dbname=tgt"
broker_pid=

cleanup() {
  [ -n "${BENCH_STMT_LOG:-}" ] && cp "$work/pg/server.log" "$BENCH_STMT_LOG" 2>/dev/null
  [ -n "${BENCH_SINK_LOG:-}" ] && cp "$work/sink.log" "$BENCH_SINK_LOG" 2>/dev/null
  if [ -n "$broker_pid" ]; then kill "$broker_pid" 2>/dev/null || true; fi
  "$top/deploy/pg-cluster.sh" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

shape=${BENCH_SHAPE:-plain}
parents=1000 parent_parts=1
# ferry-devbroker keeps about 5 MiB per partition.
[ "$shape" = race ] && parents=$((rows / 4)) parent_parts=16
"$top/deploy/pg-cluster.sh" start "$work/pg" "$port" >/dev/null
"$build/deploy/devbroker/ferry-devbroker" -f "$work/bs" \
  -t bench.public.item:"${BENCH_PARTITIONS:-32}" -t bench.public.parent:$parent_parts -t bench.transaction:1 \
  >"$work/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 50); do [ -s "$work/bs" ] && break; sleep 0.1; done

psql -qAtX -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE src" -c "CREATE DATABASE tgt"
psql -qAtX -d "$src" <<'SQL'
CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE item (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent,
                   name text NOT NULL, amount numeric(12,2), created timestamptz,
                   active bool);
SQL
psql -qAtX -d "$tgt" <<'SQL'
CREATE TABLE parents (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text NOT NULL);
CREATE TABLE parents_copy (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text NOT NULL);
CREATE TABLE items (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                    parent_id uuid NOT NULL REFERENCES parents (id),
                    name text NOT NULL, amount numeric(12,2), created timestamptz,
                    active bool);
CREATE TABLE items_copy (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                         parent_id uuid NOT NULL REFERENCES parents (id),
                         name text NOT NULL, amount numeric(12,2),
                         created timestamptz, active bool);
SQL
lsn_col=
if [ -n "${BENCH_LSN_COLUMN:-}" ]; then
  psql -qAtX -d "$tgt" -c "ALTER TABLE items ADD COLUMN src_lsn numeric" \
    -c "ALTER TABLE items_copy ADD COLUMN src_lsn numeric"
  lsn_col="lsn_column: src_lsn"
fi

cat >"$work/ferry.yaml" <<YAML
source: { dsn: "$src", slot: bench_sink }
kafka:
  brokers: "$(cat "$work/bs")"
  topic_prefix: bench
  properties: { compression.type: ${BENCH_COMPRESSION:-lz4}${BENCH_KAFKA_PROPS:+, $BENCH_KAFKA_PROPS} }
target: { dsn: "$tgt", uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f }
entities:
  parents: { source: public.parent, target: public.parents, legacy_id_column: legacy_id,
             columns: { name: name } }
  items:
    source: public.item
    target: public.items
    legacy_id_column: legacy_id
    $lsn_col
    columns:
      parent_id: { ref: parents, from: parent_id }
      name: name
      amount: amount
      created: created
      active: active
YAML
lsn() { psql -qAtX -d "$src" -c 'SELECT pg_current_wal_lsn()'; }
cdc() { "$build/cdc/ferry-cdc" -c "$work/ferry.yaml" --heartbeat-interval 0 --endpos "$(lsn)" 2>>"$work/cdc.log"; }
now() { date +%s.%N; }
# Runs the sink to the end; prints its seconds, peak RSS (kB) and CPU time
# (clock ticks, user + system, as last seen: a few ms short).
sink() {
  local t0 t1 pid peak=0 rss cpu=0 c phase=$1 wrap=()
  shift
  [ -n "${BENCH_SINK_CPU:-}" ] && wrap=(taskset -c "$BENCH_SINK_CPU")
  [ -n "${BENCH_PERF:-}" ] && [ "$phase" != setup ] &&
    wrap+=(perf record -q -g -o "$BENCH_PERF.$phase")
  [ -n "${BENCH_CALLGRIND:-}" ] && [ "$phase" != setup ] &&
    wrap+=(valgrind -q --tool=callgrind --callgrind-out-file="$BENCH_CALLGRIND.$phase")
  t0=$(now)
  "${wrap[@]}" "$build/sink/ferry-sink" -c "$work/ferry.yaml" --exit-at-end "$@" 2>>"$work/sink.log" &
  pid=$!
  while kill -0 $pid 2>/dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0)
    [ -n "$rss" ] && [ "$rss" -gt "$peak" ] && peak=$rss
    c=$(awk '{print $14 + $15}' /proc/$pid/stat 2>/dev/null || echo 0)
    [ -n "$c" ] && [ "$c" -gt "$cpu" ] && cpu=$c
    sleep 0.05
  done
  wait $pid || { tail -5 "$work/sink.log" >&2; exit 1; }
  t1=$(now)
  echo "$(echo "$t1 - $t0" | bc) $peak $cpu"
}

if [ "$shape" = race ]; then
  # The parents are there before the slot: ferry-cdc's initial snapshot.
  psql -qAtX -d "$src" -c "INSERT INTO parent SELECT g, 'parent ' || g FROM generate_series(1, $parents) g"
  cdc
elif [ "$shape" = orphans ]; then
  # A legacy source: no FK, so the items can come first.
  psql -qAtX -d "$src" -c "ALTER TABLE item DROP CONSTRAINT item_parent_id_fkey"
  cdc  # creates the slot; the parents come after their items
else
  cdc  # creates the slot
  psql -qAtX -d "$src" -c "INSERT INTO parent SELECT g, 'parent ' || g FROM generate_series(1, $parents) g"
  cdc
  sink setup "$@" >/dev/null
fi

[ -n "${BENCH_STMT_LOG:-}" ] &&
  psql -qAtX -d "$tgt" -c "ALTER DATABASE tgt SET log_min_duration_statement = 0"
echo "loading $rows rows into the source in transactions of 1,000 ..." >&2
for ((lo = 1; lo <= rows; lo += 1000)); do
  echo "INSERT INTO item SELECT g, 1 + g % $parents, 'item ' || g, (g % 100000) / 100.0, '2024-01-01'::timestamptz + g * interval '1 s', g % 2 = 0 FROM generate_series($lo, $((lo + 999))) g;"
done | psql -qAtX -d "$src" >/dev/null
[ "$shape" = orphans ] &&
  psql -qAtX -d "$src" -c "INSERT INTO parent SELECT g, 'parent ' || g FROM generate_series(1, $parents) g"
echo "ferry-cdc: publishing the inserts ..." >&2
cdc
echo "ferry-sink: applying the inserts ..." >&2
read -r ins_s ins_rss ins_cpu < <(sink inserts "$@")
[ "$(psql -qAtX -d "$tgt" -c 'SELECT count(*) FROM items')" = "$rows" ] || { echo "sink did not apply every insert" >&2; exit 1; }

psql -qAtX -d "$tgt" -c "\\copy items TO '$work/items.copy'"
psql -qAtX -d "$tgt" -c "\\copy parents TO '$work/parents.copy'"
# COPY's rate varies by up to 40% between runs here: three runs into the
# emptied table, and the median is the baseline.  In the race and orphans
# shapes the parents are loaded too (into their own copy, before the items).
copies=()
for _ in 1 2 3; do
  psql -qAtX -d "$tgt" -c "TRUNCATE items_copy" -c "TRUNCATE parents_copy"
  t0=$(now)
  [ "$shape" != plain ] && psql -qAtX -d "$tgt" -c "\\copy parents_copy FROM '$work/parents.copy'"
  psql -qAtX -d "$tgt" -c "\\copy items_copy FROM '$work/items.copy'"
  t1=$(now)
  copies+=("$(echo "$t1 - $t0" | bc)")
done
copy_s=$(printf '%s\n' "${copies[@]}" | sort -g | sed -n 2p)
echo "COPY runs: ${copies[*]} s" >&2

echo "updating $rows rows in the source in transactions of 1,000 ..." >&2
for ((lo = 1; lo <= rows; lo += 1000)); do
  echo "UPDATE item SET name = name || ' v2', amount = amount + 1, active = NOT active WHERE id BETWEEN $lo AND $((lo + 999));"
done | psql -qAtX -d "$src" >/dev/null
echo "ferry-cdc: publishing the updates ..." >&2
cdc
echo "ferry-sink: applying the updates ..." >&2
read -r upd_s upd_rss upd_cpu < <(sink updates "$@")
[ "$(psql -qAtX -d "$tgt" -c "SELECT count(*) FROM items WHERE name LIKE '% v2'")" = "$rows" ] || { echo "sink did not apply every update" >&2; exit 1; }
grep -E "applied [0-9]+ rows" "$work/sink.log" | tail -2 >&2

ins_rows=$rows
[ "$shape" != plain ] && ins_rows=$((rows + parents))
grep -E "parked [0-9]+, drained" "$work/sink.log" | tail -2 >&2
/usr/bin/python3 - "$rows" "$copy_s" "$ins_s" "$upd_s" "$ins_rss" "$upd_rss" "$ins_rows" "$shape" \
  "$ins_cpu" "$upd_cpu" "$(getconf CLK_TCK)" <<'PY'
import sys
rows = int(sys.argv[1])
copy_s, ins_s, upd_s = map(float, sys.argv[2:5])
ins_rss, upd_rss = map(int, sys.argv[5:7])
ins_rows, shape = int(sys.argv[7]), sys.argv[8]
copy, ins, upd = ins_rows / copy_s, ins_rows / ins_s, rows / upd_s
what = {"race": "parents' snapshot + inserts",
        "orphans": "inserts parked, then parents"}.get(shape, "inserts")
print("COPY into an empty table:  %9.0f rows/s (%.2f s, the median of 3)" % (copy, copy_s))
print("ferry-sink %s: %9.0f rows/s (%.2f s), ratio %.2f (goal 0.50)" % (what, ins, ins_s, ins / copy))
print("ferry-sink updates:        %9.0f rows/s (%.2f s), ratio %.2f (goal 0.40)" % (upd, upd_s, upd / copy))
print("ferry-sink peak RSS: %.1f MB (inserts), %.1f MB (updates)" % (ins_rss / 1024, upd_rss / 1024))
ins_cpu, upd_cpu, tck = map(int, sys.argv[9:12])
if ins_cpu > 0 and upd_cpu > 0:
    print("ferry-sink CPU: %.1f us per event (inserts), %.1f (updates)"
          % (ins_cpu * 1e6 / tck / ins_rows, upd_cpu * 1e6 / tck / rows))
PY
