# The clinic example end to end: a generated legacy database goes through
# ferry-cdc and ferry-sink; ferry-map validate then reports agreement (exit 0,
# orphans reported as parked).  Rows corrupted behind ferry's back (a changed
# column, a deleted row, an extra row, a ref pointing elsewhere, a ref
# pointing nowhere, changed JSON) are then named exactly, with their columns
# (exit 1).
clinic=$FERRY_SRC_DIR/deploy/examples/clinic
fresh_dbs clinic_validate
"$clinic/generate.sh" "$SRC_DSN" --schema-only >/dev/null
tgt_psql -f "$clinic/target.sql" >/dev/null
export CLINIC_SOURCE_DSN=$SRC_DSN CLINIC_TARGET_DSN=$TGT_DSN \
  CLINIC_BROKERS=$FERRY_BROKERS CLINIC_SLOT=clinic_validate \
  CLINIC_TOPIC_PREFIX=clinic_validate_$(date +%s%N)
cfg=$clinic/ferry.yaml

# The slot first (ferry-cdc publishes what happens after it exists), then the
# rows, then everything up to now.
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc0.log" ||
  fail "slot creation failed: $(tail -5 "$FERRY_TEST_TMP/cdc0.log")"
"$clinic/generate.sh" "$SRC_DSN" --data-only --scale 0.005 >"$FERRY_TEST_TMP/generate.log" ||
  fail "generate.sh failed: $(tail -5 "$FERRY_TEST_TMP/generate.log")"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc1.log" ||
  fail "ferry-cdc failed: $(tail -5 "$FERRY_TEST_TMP/cdc1.log")"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink.log" ||
  fail "ferry-sink failed: $(tail -5 "$FERRY_TEST_TMP/sink.log")"

rc=0
ferry-map validate -c "$cfg" >"$FERRY_TEST_TMP/v1.txt" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "validate after the sync exited $rc: $(cat "$FERRY_TEST_TMP/v1.txt")"
grep -q "^source and target agree: 14 entities" "$FERRY_TEST_TMP/v1.txt" ||
  fail "no agreement line: $(cat "$FERRY_TEST_TMP/v1.txt")"
ferry-map validate -c "$cfg" --format json >"$FERRY_TEST_TMP/v1.json" ||
  fail "validate --format json disagrees: $(cat "$FERRY_TEST_TMP/v1.json")"
/usr/bin/python3 - "$FERRY_TEST_TMP/v1.json" <<'PY' || fail "bad report after the sync: $(cat "$FERRY_TEST_TMP/v1.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["agree"] and r["state_found"], r
ents = {e["entity"]: e for e in r["entities"]}
assert len(ents) == 14
for e in ents.values():
    assert e["agree"] and e["missing"] == e["extra"] == e["changed"] == e["stuck"] == 0, e
    assert e["source_rows"] == e["target_rows"] + e["parked"], e
# the generator's orphans are parked, by design
assert ents["system_messages"]["parked"] > 0 and ents["messages"]["parked"] > 0, ents
PY

# Corrupt a few target rows behind ferry's back.
order=$(tgt_psql -c "SELECT min(legacy_order_id) FROM orders")
file=$(tgt_psql -c "SELECT max(legacy_file_id) FROM files")
msg=$(tgt_psql -c "SELECT min(legacy_message_id) FROM messages")
sm_item=$(tgt_psql -c "SELECT min(legacy_notification_id) FROM system_messages WHERE item_id IS NOT NULL")
sm_ctx=$(tgt_psql -c "SELECT max(legacy_notification_id) FROM system_messages WHERE context IS NOT NULL")
tgt_psql <<SQL
UPDATE orders SET status = 'lost' WHERE legacy_order_id = $order;
DELETE FROM files WHERE legacy_file_id = $file;
INSERT INTO payments (id, legacy_payment_id, amount, currency, method)
  VALUES (gen_random_uuid(), 999999, 1.00, 'EUR', 'card');
UPDATE messages SET author_id = (SELECT id FROM profiles WHERE id <> messages.author_id
                                 ORDER BY legacy_user_id LIMIT 1)
 WHERE legacy_message_id = $msg;
ALTER TABLE system_messages DISABLE TRIGGER system_messages_item;
UPDATE system_messages SET item_id = gen_random_uuid() WHERE legacy_notification_id = $sm_item;
UPDATE system_messages SET context = context || '{"tampered": true}' WHERE legacy_notification_id = $sm_ctx;
SQL

rc=0
ferry-map validate -c "$cfg" >"$FERRY_TEST_TMP/v2.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "validate after the corruption exited $rc: $(cat "$FERRY_TEST_TMP/v2.txt")"
grep -q "^source and target DIFFER in 5 of 14 entities" "$FERRY_TEST_TMP/v2.txt" ||
  fail "no disagreement line: $(cat "$FERRY_TEST_TMP/v2.txt")"
rc=0
ferry-map validate -c "$cfg" --format json >"$FERRY_TEST_TMP/v2.json" || rc=$?
[ "$rc" = 1 ] || fail "validate --format json after the corruption exited $rc"
/usr/bin/python3 - "$FERRY_TEST_TMP/v2.json" "$order" "$file" "$msg" "$sm_item" "$sm_ctx" <<'PY' ||
import json, sys
r = json.load(open(sys.argv[1]))
order, file, msg, sm_item, sm_ctx = sys.argv[2:]
assert not r["agree"], r
got = {}
for e in r["entities"]:
    rows = sorted((x["kind"], x["key"], tuple(x.get("columns", ())))
                  for x in e["rows"] if x["kind"] not in ("parked",))
    if not e["agree"] or rows:
        got[e["entity"]] = (rows, e["unresolved_refs"])
want = {
    "orders": ([("changed", order, ("status",))], 0),
    "files": ([("missing", file, ())], 0),
    "payments": ([("extra", "999999", ())], 0),
    "messages": ([("changed", msg, ("author_id",))], 0),
    "system_messages": (sorted([("changed", sm_item, ("item_id",)),
                                ("changed", sm_ctx, ("context",))]), 1),
}
if got != want:
    print("got  ", got, "\nwant ", want, file=sys.stderr)
    sys.exit(1)
PY
  fail "validate did not name exactly the corrupted rows: $(cat "$FERRY_TEST_TMP/v2.txt")"
echo "validate agreed after the sync and named exactly the corrupted rows"
