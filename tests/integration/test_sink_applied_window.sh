# ferry-sink: the record of applied source transactions stays bounded
# (state_schema.applied_tx holds at most --applied-window commit LSNs plus
# one batch), and a full replay of every topic after the window has moved
# on still changes nothing: transactions below the window count as applied,
# and even with that record wiped, row_lsn makes each replayed change
# stale.
PFX=_$(date +%s%N | tail -c 8)  # a fresh topic prefix per run
fresh_dbs sink_window
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE office (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE doctor (id int PRIMARY KEY, office_id int REFERENCES office, name text, n int NOT NULL DEFAULT 0);
SQL
tgt_psql <<'SQL'
CREATE TABLE offices (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text NOT NULL);
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                      office_id uuid REFERENCES offices (id), name text, n int);
SQL
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: sink_window }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_window$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  offices: { source: office, target: offices, legacy_id_column: legacy_id,
             columns: { name: name } }
  doctors:
    source: doctor
    target: doctors
    legacy_id_column: legacy_id
    columns: { name: name, n: n, office_id: { ref: offices, from: office_id } }
EOF
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"
load() {  # 200 small transactions starting at $1
  for t in $(seq "$1" $(($1 + 199))); do
    echo "BEGIN; INSERT INTO office VALUES ($t, 'o$t');"
    echo "INSERT INTO doctor SELECT g, $t, 'd' || g FROM generate_series($t * 3, $t * 3 + 2) g;"
    echo "UPDATE doctor SET n = n + 1 WHERE id = $t * 3 - 1; COMMIT;"
  done | src_psql >/dev/null
  ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>>"$FERRY_TEST_TMP/cdc.log" || fail "ferry-cdc failed"
}
same() {
  local want got
  want=$(src_psql -c "SELECT d.id, d.name, d.n, o.id, o.name FROM doctor d JOIN office o ON o.id = d.office_id ORDER BY d.id" | md5sum)
  got=$(tgt_psql -c "SELECT d.legacy_id, d.name, d.n, o.legacy_id, o.name FROM doctors d JOIN offices o ON o.id = d.office_id ORDER BY d.legacy_id" | md5sum)
  [ "$want" = "$got" ] || fail "$1: the target differs from the source"
  [ "$(tgt_psql -c 'SELECT count(*) FROM ferry.errors')" = 0 ] || fail "$1: errors"
  [ "$(tgt_psql -c 'SELECT count(*) FROM ferry.parked')" = 0 ] || fail "$1: rows parked"
}
applied() { tgt_psql -c "SELECT count(*) FROM ferry.applied_tx"; }
sink() {  # sink LOG [ARGS]
  local log=$1; shift
  ferry-sink -c "$cfg" --exit-at-end --applied-window 50 --batch 20 "$@" \
    2>"$FERRY_TEST_TMP/$log" || fail "ferry-sink failed: $(tail -3 "$FERRY_TEST_TMP/$log")"
}

load 1
sink run1.log
same "first run"
n=$(applied)
echo "after 200 transactions: $n rows in applied_tx"
[ "$n" -le 60 ] || fail "applied_tx holds $n rows, more than the window (50) plus a batch"
[ "$n" -ge 50 ] || fail "applied_tx holds $n rows, fewer than the window"

# Replay everything: every transaction is below or in the window.
tgt_psql -c "UPDATE ferry.offsets SET next_offset = 0"
sink run2.log
grep -q "applied 0 rows, skipped 0 stale" "$FERRY_TEST_TMP/run2.log" ||
  fail "the replay was not dropped as applied: $(grep 'applied ' "$FERRY_TEST_TMP/run2.log")"
same "replay"

# More transactions, then a replay with the record wiped: every change of
# the first 400 transactions is dropped as stale by row_lsn.
load 201
tgt_psql -c "UPDATE ferry.offsets SET next_offset = 0; TRUNCATE ferry.applied_tx"
sink run3.log
stale=$(sed -n 's/.*skipped \([0-9]*\) stale.*/\1/p' "$FERRY_TEST_TMP/run3.log")
[ "${stale:-0}" -ge 800 ] ||
  fail "the first 200 transactions were not stale: $(grep 'applied ' "$FERRY_TEST_TMP/run3.log")"
same "replay without applied_tx"
[ "$(applied)" -le 60 ] || fail "applied_tx holds $(applied) rows after the replay"

# Once more with the state schema of an older sink (no position bounds,
# row_lsn keys in the database's collation): the sink converts row_lsn and
# rebuilds the bounds from it, so the stale check is not skipped and the
# replay is again dropped as stale.
tgt_psql -c "UPDATE ferry.offsets SET next_offset = 0; TRUNCATE ferry.applied_tx; DROP TABLE ferry.row_lsn_max;
             ALTER TABLE ferry.row_lsn ALTER COLUMN entity TYPE text COLLATE \"default\",
               ALTER COLUMN legacy_key TYPE text COLLATE \"default\""
sink run4.log
stale4=$(sed -n 's/.*skipped \([0-9]*\) stale.*/\1/p' "$FERRY_TEST_TMP/run4.log")
[ "${stale4:-0}" -gt "$stale" ] ||
  fail "the replay over rebuilt bounds was not stale: $(grep 'applied ' "$FERRY_TEST_TMP/run4.log")"
same "replay with the position bounds rebuilt"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.row_lsn_max WHERE commit_lsn > 0")" -ge 1 ] ||
  fail "row_lsn_max was not rebuilt"
[ "$(tgt_psql -c "SELECT string_agg(c.collname, ',' ORDER BY a.attname) FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
                  WHERE a.attrelid = 'ferry.row_lsn'::regclass AND a.attname IN ('entity', 'legacy_key')")" = "C,C" ] ||
  fail "row_lsn keys were not converted to COLLATE \"C\""
echo "applied_tx bounded at $(applied) rows; replays changed nothing"
