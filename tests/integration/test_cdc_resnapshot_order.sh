# Tables named in one re-snapshot signal are read in the mapping's
# dependency order, parents first, whatever order the signal lists them
# in; each gets its table_started and table_complete records in that order.
PFX=rsord_$(date +%s%N | tail -c 9)
fresh_dbs cdc_rsord
src_psql <<'SQL'
CREATE TABLE office (id int PRIMARY KEY, name text);
CREATE TABLE doctor (id int PRIMARY KEY, office_id int, name text);
CREATE TABLE visit (id int PRIMARY KEY, doctor_id int);
CREATE TABLE ferry_signal (id text PRIMARY KEY, type text, data text);
INSERT INTO office SELECT g, 'o' || g FROM generate_series(1, 30) g;
INSERT INTO doctor SELECT g, 1 + g % 30, 'd' || g FROM generate_series(1, 60) g;
INSERT INTO visit SELECT g, 1 + g % 60 FROM generate_series(1, 90) g;
SQL
# visit waits on doctor, doctor on office; the file lists them children
# first, so that file order and dependency order differ.
cat >"$FERRY_TEST_TMP/ferry.yaml" <<YAML
source: { dsn: "$SRC_DSN", slot: cdc_rsord }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: $PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f }
entities:
  visits: { source: visit, target: visits, columns: { doctor_id: { ref: doctors, from: doctor_id } } }
  doctors: { source: doctor, target: doctors, columns: { office_id: { ref: offices, from: office_id } } }
  offices: { source: office, target: offices }
YAML
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --snapshot never --signal-table public.ferry_signal \
  --resnapshot-chunk 25 --status-interval 1 2>"$FERRY_TEST_TMP/cdc.log" &
cdc=$!
track_pid $cdc
wait_until 120 grep -q "streaming from slot" "$FERRY_TEST_TMP/cdc.log" || fail "ferry-cdc did not start"
src_psql -c "INSERT INTO ferry_signal VALUES ('o1', 'execute-snapshot',
  '{\"data-collections\": [\"public.visit\", \"public.office\", \"public.doctor\"]}')"
wait_until 120 grep -q 're-snapshot of table "public.visit" recorded complete' "$FERRY_TEST_TMP/cdc.log" ||
  fail "the re-snapshots did not complete: $(grep re-snapshot "$FERRY_TEST_TMP/cdc.log" | tail -3)"
kill -TERM $cdc
wait $cdc || fail "ferry-cdc did not stop cleanly"
order=$(grep -o 're-snapshot of table "public\.[a-z]*" started$' "$FERRY_TEST_TMP/cdc.log" |
  cut -d'"' -f2 | tr '\n' ' ')
[ "$order" = "public.office public.doctor public.visit " ] ||
  fail "re-snapshots not read parents first: $order"
recs=$(kcat -C -b "$FERRY_BROKERS" -t "$PFX.snapshot" -p 0 -o beginning -e -q |
  /usr/bin/python3 -c '
import json, sys
print(" ".join(r["status"] + ":" + r["table"] for r in map(json.loads, sys.stdin)))')
[ "$recs" = "table_started:office table_complete:office table_started:doctor table_complete:doctor table_started:visit table_complete:visit" ] ||
  fail "unexpected re-snapshot records: $recs"
for t in office doctor visit; do
  n=$(kcat -C -b "$FERRY_BROKERS" -t "$PFX.public.$t" -o beginning -e -q | grep -c '"op":"r"')
  [ "$n" = "$(src_psql -c "SELECT count(*) FROM $t")" ] || fail "$t: $n rows re-read"
done
echo "re-snapshot read parents first: $order"
