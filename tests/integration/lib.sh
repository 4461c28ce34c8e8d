# Helpers for integration test scripts; run-test.sh sources this first.
# tests/integration/lib.sh
#
#   fresh_dbs NAME     (re)create database NAME on source and target and set
#                      SRC_DSN and TGT_DSN (libpq conninfo) to reach them;
#                      the test's slots in NAME are dropped when it ends
#   src_psql / tgt_psql [psql args]   psql on SRC_DSN / TGT_DSN, -qAtX and
#                      ON_ERROR_STOP; SQL on stdin or with -c
#   track_pid PID      kill PID (and wait for it) when the test ends
#   start_devbroker DIR [ARGS]  a private broker (for fault tests); sets
#                      DEV_BROKERS and DEV_CONTROL; stopped at the end
#   wait_until SECONDS CMD...   retry CMD every 0.2 s until it succeeds
#   fail MSG           print MSG and end the test as failed
#   free_port          print a loopback TCP port free right now
#   target_table_locked TABLE   true while a session holds TABLE of the
#                      target in EXCLUSIVE mode (for wait_until)
#   target_lock_waiters N       true while N or more target sessions wait
#                      for a lock (for wait_until)
#   FERRY_BIN          the directory holding ferry-cdc, ferry-sink, ferry-map

FERRY_BIN=$FERRY_TEST_TMP/bin
mkdir -p "$FERRY_BIN"
for p in cdc/ferry-cdc sink/ferry-sink mapping/ferry-map \
         deploy/devbroker/ferry-devbroker; do
  ln -sf "$FERRY_BIN_DIR/$p" "$FERRY_BIN/"
done
export PATH="$FERRY_BIN:$FERRY_BIN_DIR/tests/integration/tools:$PATH"

_ferry_pids=()
_ferry_dbs=()

track_pid() { _ferry_pids+=("$1"); }

# The slots a test made in its databases on the shared source go with it:
# the stack's max_replication_slots is shared by every test of the run.
_ferry_drop_slots() {
  local db
  for db in "${_ferry_dbs[@]}"; do
    psql -qAtX -h "$FERRY_PGHOST" -p "$FERRY_SRC_PORT" -U postgres -d postgres >/dev/null 2>&1 <<SQL || true
SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
 WHERE database = '$db' AND active_pid IS NOT NULL;
SELECT pg_sleep(0.2);
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
 WHERE database = '$db' AND NOT active;
SQL
  done
}

_ferry_cleanup() {
  local rc=$?
  for pid in "${_ferry_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${_ferry_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  _ferry_drop_slots
  return $rc
}
trap _ferry_cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

fresh_dbs() {
  local name=$1
  _ferry_dbs+=("$name")
  for port in "$FERRY_SRC_PORT" "$FERRY_TGT_PORT"; do
    # A slot left by an earlier run pins the database; drop it first.
    psql -qAtX -h "$FERRY_PGHOST" -p "$port" -U postgres -d postgres \
      -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
 WHERE database = '$name' AND NOT active;
DROP DATABASE IF EXISTS "$name" WITH (FORCE);
CREATE DATABASE "$name";
SQL
  done
  SRC_DSN="host=$FERRY_PGHOST port=$FERRY_SRC_PORT user=postgres dbname=$name"
  TGT_DSN="host=$FERRY_PGHOST port=$FERRY_TGT_PORT user=postgres dbname=$name"
  export SRC_DSN TGT_DSN
}

src_psql() { psql -qAtX -v ON_ERROR_STOP=1 -d "$SRC_DSN" "$@"; }
tgt_psql() { psql -qAtX -v ON_ERROR_STOP=1 -d "$TGT_DSN" "$@"; }

wait_until() {
  local secs=$1; shift
  local tries=$((secs * 5))
  for _ in $(seq "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

start_devbroker() {
  local dir=$1; shift
  mkdir -p "$dir"
  ferry-devbroker -f "$dir/bootstrap" -c "$dir/control" "$@" \
    >"$dir/devbroker.log" 2>&1 &
  track_pid $!
  wait_until 30 test -s "$dir/bootstrap" || fail "devbroker did not start"
  DEV_BROKERS=$(cat "$dir/bootstrap")
  DEV_CONTROL=$dir/control
  export DEV_BROKERS DEV_CONTROL
}

# write_cdc_config FILE SLOT PREFIX BROKERS TABLE...
# A mapping with one entity per source table (public.TABLE -> public.TABLE),
# enough for ferry-cdc; prints nothing.
write_cdc_config() {
  local file=$1 slot=$2 prefix=$3 brokers=$4; shift 4
  {
    echo "source:"
    echo "  dsn: \"$SRC_DSN\""
    echo "  slot: $slot"
    echo "kafka:"
    echo "  brokers: \"$brokers\""
    echo "  topic_prefix: $prefix"
    echo "target:"
    echo "  dsn: \"$TGT_DSN\""
    echo "  uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f"
    echo "entities:"
    for t in "$@"; do
      echo "  $t:"
      echo "    source: public.$t"
      echo "    target: public.$t"
      echo "    legacy_id_column: legacy_id"
    done
  } >"$file"
}

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The source's current WAL position.
src_lsn() { src_psql -c "SELECT pg_current_wal_lsn()"; }

# The slot's confirmed_flush_lsn as a number of bytes.
slot_confirmed_bytes() {
  src_psql -c "SELECT pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::bigint FROM pg_replication_slots WHERE slot_name = '$1'"
}

# Peak resident set size (kB) of PID, sampled until it exits; prints it.
watch_peak_rss() {
  local pid=$1 peak=0 rss
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ -n "$rss" ] && [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 0.1
  done
  echo "$peak"
}

# True once SLOT's confirmed_flush_lsn is at least BYTES (for wait_until).
slot_confirmed_at_least() { [ "$(slot_confirmed_bytes "$1")" -ge "$2" ]; }

# A held table lock and the sessions waiting behind it, in the target's
# database: how a test holds a sink inside a statement without timing.
target_table_locked() {
  [ "$(tgt_psql -c "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                    WHERE c.relname = '$1' AND l.mode = 'ExclusiveLock' AND l.granted")" -ge 1 ]
}
target_lock_waiters() {
  [ "$(tgt_psql -c "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                    AND wait_event_type = 'Lock'")" -ge "$1" ]
}
