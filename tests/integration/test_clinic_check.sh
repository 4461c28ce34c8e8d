# The clinic example: a generated legacy database (tiny scale), the target
# schema and deploy/examples/clinic/ferry.yaml fit together: ferry-map check
# exits 0 with no problem reported.
clinic=$FERRY_SRC_DIR/deploy/examples/clinic
fresh_dbs clinic_check
"$clinic/generate.sh" "$SRC_DSN" --scale 0.002 >"$FERRY_TEST_TMP/generate.log" ||
  fail "generate.sh failed: $(tail -5 "$FERRY_TEST_TMP/generate.log")"
grep -q "^generated [0-9]* rows at scale 0.002" "$FERRY_TEST_TMP/generate.log" ||
  fail "generate.sh did not report its rows: $(cat "$FERRY_TEST_TMP/generate.log")"
tgt_psql -f "$clinic/target.sql" >/dev/null

export CLINIC_SOURCE_DSN=$SRC_DSN CLINIC_TARGET_DSN=$TGT_DSN \
  CLINIC_BROKERS=$FERRY_BROKERS CLINIC_TOPIC_PREFIX=clinic_check \
  CLINIC_SLOT=clinic_check
rc=0
ferry-map check -c "$clinic/ferry.yaml" >"$FERRY_TEST_TMP/check.out" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "ferry-map check exited $rc: $(cat "$FERRY_TEST_TMP/check.out")"
grep -q "no problems found" "$FERRY_TEST_TMP/check.out" ||
  fail "unexpected check output: $(cat "$FERRY_TEST_TMP/check.out")"

# Every legacy table has a primary key (ferry-cdc refuses tables without).
nopk=$(src_psql -c "SELECT string_agg(c.relname, ', ') FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relkind = 'r'
    AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)")
[ -z "$nopk" ] || fail "legacy tables without a primary key: $nopk"
echo "clinic mapping fits a generated legacy database and target.sql"
