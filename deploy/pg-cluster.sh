#!/usr/bin/env bash
# Starts and stops a throwaway PostgreSQL 15 cluster for ferry's demos and
# tests: logical decoding on, wal2json allowed, trust auth on loopback.
# deploy/pg-cluster.sh
#
#   pg-cluster.sh start DIR PORT   initdb (if needed) and start; socket in DIR
#   pg-cluster.sh stop DIR         fast shutdown
#   pg-cluster.sh status DIR
#
# initdb and postgres refuse to run as root, so when run as root they run as
# the postgres user, which then owns DIR.  Never use these settings in
# production: fsync is off and every local user is trusted.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

usage() {
  sed -n '5,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || usage

case "$cmd" in
start)
  port=${3:?pg-cluster.sh start DIR PORT}
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
      --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    {
      echo "listen_addresses = '127.0.0.1'"
      echo "port = $port"
      echo "unix_socket_directories = '$dir'"
      echo "wal_level = logical"
      echo "max_replication_slots = 64"
      echo "max_wal_senders = 64"
      echo "max_connections = 200"
      echo "fsync = off"
      echo "full_page_writes = off"
      echo "wal_sender_timeout = 60s"
      echo "log_min_messages = warning"
      # Debian's 15.19+ refuses output plugins that are not listed here.
      if as_pg "$PGBIN/postgres" --describe-config 2>/dev/null |
         grep '^output_plugin_libraries' >/dev/null; then
        echo "output_plugin_libraries = 'pgoutput, test_decoding, wal2json'"
      fi
    } >>"$dir/data/postgresql.conf"
    echo "host replication all 127.0.0.1/32 trust" >>"$dir/data/pg_hba.conf"
  fi
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port" start >/dev/null ||
    { tail -20 "$dir/server.log" >&2; exit 1; }
  echo "pg-cluster: started $dir on 127.0.0.1:$port"
  ;;
stop)
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null ||
      as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null || true
  fi
  ;;
status)
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" status
  ;;
*)
  usage
  ;;
esac
