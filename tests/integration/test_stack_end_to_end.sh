# The dev stack is real end to end: a wal2json slot on the source yields
# changes, librdkafka produces them to ferry-devbroker, kcat and the pure-Python
# kafka client (python3-kafka) both read them back, and rows reach the target.
fresh_dbs stack_e2e
topic=stack_e2e_$(date +%s%N | tail -c 8).public.smoke  # fresh per run: the broker outlives tests

src_psql <<'SQL'
CREATE TABLE smoke (id int PRIMARY KEY, name text);
SELECT 'slot' FROM pg_create_logical_replication_slot('stack_e2e', 'wal2json');
INSERT INTO smoke SELECT g, 'row ' || g || ' é' FROM generate_series(1, 25) g;
UPDATE smoke SET name = 'changed' WHERE id = 7;
SQL
tgt_psql -c "CREATE TABLE smoke (id int PRIMARY KEY, name text)"

produced=$(slot_to_kafka "$SRC_DSN" stack_e2e "$FERRY_BROKERS" "$topic")
# 25 inserts and 1 update, plus BEGIN/COMMIT of two transactions.
[ "$produced" -eq 30 ] || fail "expected 30 messages acknowledged, got $produced"

kcat -C -b "$FERRY_BROKERS" -t "$topic" -o beginning -e -q >"$FERRY_TEST_TMP/kcat.out"
[ "$(grep -c '"action":"I"' "$FERRY_TEST_TMP/kcat.out")" -eq 25 ] ||
  fail "kcat did not read 25 inserts: $(head -3 "$FERRY_TEST_TMP/kcat.out")"
grep -q '"action":"U"' "$FERRY_TEST_TMP/kcat.out" || fail "kcat saw no update"

# python3-kafka (an independent Kafka implementation) reads the same messages
# and turns them into rows for the target.
/usr/bin/python3 - "$FERRY_BROKERS" "$topic" >"$FERRY_TEST_TMP/rows.tsv" <<'PY'
import json, sys
from kafka import KafkaConsumer
c = KafkaConsumer(sys.argv[2], bootstrap_servers=sys.argv[1].split(","),
                  auto_offset_reset="earliest", enable_auto_commit=False,
                  consumer_timeout_ms=15000, api_version=(2, 5, 0))
rows = {}
n = 0
for m in c:
    ev = json.loads(m.value)
    if ev["action"] in ("I", "U"):
        cols = {col["name"]: col["value"] for col in ev["columns"]}
        rows[cols["id"]] = cols["name"]
        n += 1
c.close()
if n != 26:
    sys.exit("python3-kafka read %d row changes, expected 26" % n)
for k in sorted(rows):
    print("%d\t%s" % (k, rows[k]))
PY
tgt_psql -c "\copy smoke FROM '$FERRY_TEST_TMP/rows.tsv'"

src_psql -c "SELECT id, name FROM smoke ORDER BY id" >"$FERRY_TEST_TMP/src.txt"
tgt_psql -c "SELECT id, name FROM smoke ORDER BY id" >"$FERRY_TEST_TMP/tgt.txt"
diff -u "$FERRY_TEST_TMP/src.txt" "$FERRY_TEST_TMP/tgt.txt" ||
  fail "target rows differ from source rows"
[ "$(wc -l <"$FERRY_TEST_TMP/tgt.txt")" -eq 25 ] || fail "expected 25 target rows"
echo "stack end to end: 30 messages, kcat and python3-kafka agree, 25 rows in target"
