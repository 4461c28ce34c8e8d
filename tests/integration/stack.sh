#!/usr/bin/env bash
# Starts or stops the integration-test stack: a source and a target
# PostgreSQL 15 (wal2json allowed) and one ferry-devbroker.
# tests/integration/stack.sh
#
#   stack.sh start STATE_DIR BUILD_DIR   writes STATE_DIR/env for run-test.sh
#   stack.sh stop STATE_DIR              stops what start started, by PID
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cmd=${1:?usage: stack.sh start|stop STATE_DIR [BUILD_DIR]}
state=${2:?usage: stack.sh start|stop STATE_DIR [BUILD_DIR]}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

stop_stack() {
  [ -f "$state/env" ] || return 0
  # shellcheck disable=SC1091
  . "$state/env"
  if [ -f "$FERRY_STACK_DIR/devbroker.pid" ]; then
    pid=$(cat "$FERRY_STACK_DIR/devbroker.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  "$top/deploy/pg-cluster.sh" stop "$FERRY_STACK_DIR/source" || true
  "$top/deploy/pg-cluster.sh" stop "$FERRY_STACK_DIR/target" || true
  case "$FERRY_STACK_DIR" in /tmp/ferry-stack.*) rm -rf "$FERRY_STACK_DIR" ;; esac
  rm -f "$state/env"
}

case "$cmd" in
start)
  build=${3:?usage: stack.sh start STATE_DIR BUILD_DIR}
  stop_stack # a stack left behind by an interrupted run
  mkdir -p "$state"
  dir=$(mktemp -d /tmp/ferry-stack.XXXXXX)
  chmod 755 "$dir"
  src_port=$(free_port); tgt_port=$(free_port)
  cat >"$state/env" <<EOV
export FERRY_STACK_DIR=$dir
export FERRY_BIN_DIR=$build
export FERRY_SRC_PORT=$src_port
export FERRY_TGT_PORT=$tgt_port
export FERRY_PGHOST=127.0.0.1
EOV
  "$top/deploy/pg-cluster.sh" start "$dir/source" "$src_port"
  "$top/deploy/pg-cluster.sh" start "$dir/target" "$tgt_port"
  # FERRY_DEVBROKER_ARGS: extra flags, e.g. topics to pre-create.
  # shellcheck disable=SC2086
  "$build/deploy/devbroker/ferry-devbroker" -f "$dir/bootstrap" \
    -c "$dir/control" ${FERRY_DEVBROKER_ARGS:-} >"$dir/devbroker.log" 2>&1 &
  echo $! >"$dir/devbroker.pid"
  for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
  [ -s "$dir/bootstrap" ] || { cat "$dir/devbroker.log" >&2; exit 1; }
  echo "export FERRY_BROKERS=$(cat "$dir/bootstrap")" >>"$state/env"
  echo "export FERRY_BROKER_CONTROL=$dir/control" >>"$state/env"
  echo "stack: source :$src_port, target :$tgt_port, brokers $(cat "$dir/bootstrap")"
  ;;
stop)
  stop_stack
  echo "stack: stopped"
  ;;
*)
  echo "usage: stack.sh start|stop STATE_DIR [BUILD_DIR]" >&2
  exit 2
  ;;
esac
