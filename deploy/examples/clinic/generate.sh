#!/usr/bin/env bash
# Creates and fills the legacy clinic database (generate.sql) at a scale.
# deploy/examples/clinic/generate.sh
#
#   generate.sh DSN [--scale S] [--schema-only | --data-only]
#
# DSN is a libpq conninfo or URI of an empty database.  Scale 1 is about
# 1.6M rows (the production volumes of the seeds); the default 0.01 is about
# 16k.  The same scale always gives the same rows.  --schema-only creates the
# tables; --data-only fills tables made earlier (so that a replication slot
# can exist before the rows are written).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

usage() {
  sed -n '4,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

dsn=${1:-}
[ -n "$dsn" ] && [ "${dsn#-}" = "$dsn" ] || usage
shift
scale=0.01
part=all
while [ $# -gt 0 ]; do
  case "$1" in
  --scale) scale=${2:-}; shift 2 || usage ;;
  --scale=*) scale=${1#--scale=}; shift ;;
  --schema-only) part=schema; shift ;;
  --data-only) part=data; shift ;;
  *) usage ;;
  esac
done
[[ "$scale" =~ ^[0-9]+(\.[0-9]+)?$ ]] && [ "$scale" != 0 ] ||
  { echo "generate.sh: scale must be a positive number, not \"$scale\"" >&2; exit 2; }

if [ "$part" != data ] && [ "$(psql -qAtX -d "$dsn" -c "SELECT to_regclass('public.dispatch_office') IS NOT NULL")" = t ]; then
  echo "generate.sh: the database already holds dispatch_office; use an empty database" >&2
  exit 1
fi
psql -qAtX -v ON_ERROR_STOP=1 -v scale="$scale" -v part="$part" -d "$dsn" -f "$here/generate.sql"
