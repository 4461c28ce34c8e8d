# ferry-sink: a poison message (not JSON, and JSON of the wrong shape, on a
# table's topic and on the transaction topic) and a row the target rejects
# (CHECK constraint) each go to state_schema.errors and the dead-letter
# topic, with their key; the rest of the batch applies.
PFX=_$(date +%s%N | tail -c 8)  # a fresh topic prefix per run
fresh_dbs sink_poison
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql -c "CREATE TABLE item (id int PRIMARY KEY, name text)"
tgt_psql -c "CREATE TABLE items (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text CHECK (name <> 'bad'))"
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: sink_poison }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_poison$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  items: { source: item, target: items, legacy_id_column: legacy_id,
           columns: { name: name } }
EOF
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"
src_psql -c "INSERT INTO item SELECT g, 'item ' || g FROM generate_series(1, 50) g"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "ferry-cdc failed"
printf 'k1\tthis is not json\n' | kcat -P -b "$FERRY_BROKERS" -t sink_poison$PFX.public.item -K '\t'
printf 'k2\t{"op":"c","after":{"id":1}}\n' | kcat -P -b "$FERRY_BROKERS" -t sink_poison$PFX.public.item -K '\t'
printf 'k3\tnot a transaction event\n' | kcat -P -b "$FERRY_BROKERS" -t sink_poison$PFX.transaction -K '\t'
src_psql -c "INSERT INTO item SELECT g, CASE WHEN g = 55 THEN 'bad' ELSE 'item ' || g END FROM generate_series(51, 60) g"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink.log" ||
  fail "ferry-sink failed: $(tail -5 "$FERRY_TEST_TMP/sink.log")"

[ "$(tgt_psql -c "SELECT count(*) FROM items")" = 59 ] || fail "expected 59 rows, got $(tgt_psql -c 'SELECT count(*) FROM items')"
[ "$(tgt_psql -c "SELECT count(*) FROM items WHERE legacy_id = 55")" = 0 ] || fail "the bad row was applied"
errs=$(tgt_psql -c "SELECT coalesce(entity, '-'), coalesce(legacy_key, '-'), coalesce(sqlstate, '-'), event IS NOT NULL FROM ferry.errors ORDER BY id" | tr '\n' ' ')
case "$errs" in
*"-|-|-|t"*"-|-|-|t"*"-|-|-|t"*"items|55|23514|t"*) ;;
*) fail "errors table: $errs" ;;
esac
tgt_psql -c "SELECT error FROM ferry.errors ORDER BY id"
kcat -C -b "$FERRY_BROKERS" -t sink_poison$PFX.dlq -o beginning -e -q >"$FERRY_TEST_TMP/dlq.txt"
[ "$(grep -c . "$FERRY_TEST_TMP/dlq.txt")" = 4 ] || fail "dead-letter topic: $(cat "$FERRY_TEST_TMP/dlq.txt")"
grep 'not JSON' "$FERRY_TEST_TMP/dlq.txt" >/dev/null || fail "no reason in the dead letter"
grep '"k3"' "$FERRY_TEST_TMP/dlq.txt" | grep 'not a transaction event' >/dev/null ||
  fail "the transaction topic's poison lost its key or value: $(cat "$FERRY_TEST_TMP/dlq.txt")"
echo "poison messages and a rejected row isolated; the rest applied"
