# The ready-made monitoring consumers of docs/consumers.md, against
# ferry-devbroker: the TypeScript one (deploy/examples/monitor/ts, kafkajs
# from the npm registry, installed with npm ci and type-checked with tsc,
# its types generated from docs/schema/ and up to date) and the Python one
# (monitor.py, python3-confluent-kafka).  Both read the clinic's snapshot
# and three source transactions (5 inserts, up to 10 updates, 3 deletes); stopped
# with SIGINT they exit 0, and their totals equal the source's: snapshot
# rows per table as the source counts them, the changes per op, and the
# transactions.
PFX=monitor_$(date +%s%N | tail -c 8)
fresh_dbs monitor_consumers
clinic=$FERRY_SRC_DIR/deploy/examples/clinic
monitor=$FERRY_SRC_DIR/deploy/examples/monitor
export CLINIC_SOURCE_DSN=$SRC_DSN CLINIC_TARGET_DSN=$TGT_DSN CLINIC_BROKERS=$FERRY_BROKERS
export CLINIC_SLOT=monitor_consumers CLINIC_TOPIC_PREFIX=$PFX
/usr/bin/python3 "$monitor/gen_types.py" --check || fail "envelope.ts is stale"
cp -r "$monitor/ts" "$FERRY_TEST_TMP/ts"
rm -rf "$FERRY_TEST_TMP/ts/node_modules" "$FERRY_TEST_TMP/ts/dist"
(cd "$FERRY_TEST_TMP/ts" && npm ci --no-audit --no-fund >"$FERRY_TEST_TMP/npm.log" 2>&1) ||
  fail "npm ci: $(tail -5 "$FERRY_TEST_TMP/npm.log")"
(cd "$FERRY_TEST_TMP/ts" && npx tsc -p . >"$FERRY_TEST_TMP/tsc.log" 2>&1) || fail "tsc: $(cat "$FERRY_TEST_TMP/tsc.log")"

"$clinic/generate.sh" "$SRC_DSN" --scale 0.002 >"$FERRY_TEST_TMP/load.log" 2>&1 || fail "generate"
# kafkajs reads gzip, not lz4 without a codec: these topics use gzip.
sed 's/compression.type: lz4/compression.type: gzip/' "$clinic/ferry.yaml" >"$FERRY_TEST_TMP/ferry.yaml"
cfg=$FERRY_TEST_TMP/ferry.yaml
grep -q "compression.type: gzip" "$cfg" || fail "the mapping's compression did not change"
counts=$(src_psql -c "SELECT string_agg(t || ' r ' || n, E'\n' ORDER BY t) FROM (
  SELECT 'public.' || relname AS t, (xpath('/row/c/text()', query_to_xml('SELECT count(*) AS c FROM public.' || quote_ident(relname), false, true, '')))[1]::text::int AS n
    FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace) s WHERE n > 0")
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc.log" || fail "snapshot: $(tail -3 "$FERRY_TEST_TMP/cdc.log")"

/usr/bin/python3 "$monitor/monitor.py" --brokers "$FERRY_BROKERS" --prefix "$PFX" --interval 1 \
  --from-beginning --summary "$FERRY_TEST_TMP/py.json" >"$FERRY_TEST_TMP/py.out" 2>&1 &
py=$!
track_pid $py
node "$FERRY_TEST_TMP/ts/dist/monitor.js" --brokers "$FERRY_BROKERS" --prefix "$PFX" --interval 1 \
  --from-beginning --summary "$FERRY_TEST_TMP/ts.json" >"$FERRY_TEST_TMP/ts.out" 2>&1 &
ts=$!
track_pid $ts
n_upd=$(src_psql -c "SELECT count(*) FROM (SELECT id FROM dispatch_office ORDER BY id LIMIT 10) s")
src_psql <<'SQL'
INSERT INTO dispatch_office SELECT g, 'new ' || g, 'x', 'y', '1', 'A', now() FROM generate_series(900001, 900005) g;
UPDATE dispatch_office SET city = 'moved' WHERE id IN (SELECT id FROM dispatch_office WHERE id < 900000 ORDER BY id LIMIT 10);
DELETE FROM dispatch_office WHERE id BETWEEN 900001 AND 900003;
SQL
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>>"$FERRY_TEST_TMP/cdc.log" || fail "streaming: $(tail -3 "$FERRY_TEST_TMP/cdc.log")"
want=$(printf '%s\npublic.dispatch_office c 5\npublic.dispatch_office d 3\npublic.dispatch_office u %s\n' "$counts" "$n_upd" | sort)
# Caught up: some changes seen, then three reports in a row with none.
quiet() {
  grep -q "public.dispatch_office *d" "$FERRY_TEST_TMP/$1.out" &&
    [ "$(grep -E '^[0-9:]+  [0-9]+ changes' "$FERRY_TEST_TMP/$1.out" | tail -3 | grep -c '  0 changes, 0 transactions')" = 3 ]
}
wait_until 90 quiet py || fail "monitor.py did not catch up: $(tail -20 "$FERRY_TEST_TMP/py.out")"
wait_until 90 quiet ts || fail "the TypeScript monitor did not catch up: $(tail -20 "$FERRY_TEST_TMP/ts.out")"
kill -INT $py $ts
rc=0; wait $py || rc=$?
[ $rc = 0 ] || fail "monitor.py exited $rc on SIGINT: $(tail -5 "$FERRY_TEST_TMP/py.out")"
rc=0; wait $ts || rc=$?
[ $rc = 0 ] || fail "the TypeScript monitor exited $rc on SIGINT: $(tail -5 "$FERRY_TEST_TMP/ts.out")"
for m in py ts; do
  got=$(/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('\n'.join(f'{k} {v}' for k, v in d['changes'].items()))" "$FERRY_TEST_TMP/$m.json" | sort)
  [ "$got" = "$want" ] || fail "$m monitor's counts differ from the source's:
$(diff <(echo "$want") <(echo "$got"))"
  n=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['transactions'])" "$FERRY_TEST_TMP/$m.json")
  [ "$n" = 3 ] || fail "$m monitor counted $n transactions, not 3"
done
echo "both monitors' counts equal the source's ($(echo "$want" | wc -l) table/op counts, 3 transactions)"
