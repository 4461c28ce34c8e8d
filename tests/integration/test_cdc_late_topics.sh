# Topics on a broker that does not create them on first use (a Kafka with
# auto.create.topics.enable=false, modelled by ferry-devbroker
# --no-auto-create).  ferry-cdc asks for its topics at start through the
# Admin API; ferry-devbroker cannot do CreateTopics, so ferry-cdc says so
# once and goes on, and its first message to a missing topic stops it with
# a clear error instead of disappearing.  Once the topics exist (the
# broker's "create" command), the same start works.
PFX=late_$(date +%s%N | tail -c 9)
fresh_dbs cdc_late
src_psql <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 20) g;
SQL
start_devbroker "$FERRY_TEST_TMP/broker" --no-auto-create
grep -q "topics are not auto-created" "$FERRY_TEST_TMP/broker/devbroker.log" ||
  fail "the devbroker does not say it does not auto-create topics"
write_cdc_config "$FERRY_TEST_TMP/ferry.yaml" cdc_late "$PFX" "$DEV_BROKERS" t
# kafka.topics as a real cluster would get it; a missing topic is given
# up on after 3 s instead of librdkafka's 30 s.
/usr/bin/python3 - "$FERRY_TEST_TMP/ferry.yaml" "$PFX" <<'PY'
import sys
path, pfx = sys.argv[1:]
s = open(path).read().replace("  topic_prefix: %s\n" % pfx, """  topic_prefix: %s
  properties: { topic.metadata.propagation.max.ms: "3000" }
  topics:
    partitions: 6
    replication_factor: 1
    config: { retention.ms: "604800000" }
    overrides:
      %s.public.t: { partitions: 3 }
""" % (pfx, pfx))
open(path, "w").write(s)
PY
ferry-map check -c "$FERRY_TEST_TMP/ferry.yaml" >/dev/null 2>&1 || true

rc=0
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc1.log" || rc=$?
cat "$FERRY_TEST_TMP/cdc1.log"
[ "$rc" -ne 0 ] || fail "ferry-cdc published to topics that do not exist"
[ "$(grep -c 'could not create the topics of prefix' "$FERRY_TEST_TMP/cdc1.log")" = 1 ] ||
  fail "ferry-cdc did not say once that it could not create its topics"
grep -q "could not create the topics of prefix \"$PFX\": .*CreateTopics.*going on" "$FERRY_TEST_TMP/cdc1.log" ||
  fail "the warning does not say why"
grep -q "topic \"$PFX.snapshot\".*Unknown topic or partition" "$FERRY_TEST_TMP/cdc1.log" ||
  fail "the stop does not name the missing topic"

# The operator creates the topics, as the warning says.
for t in public.t:3 transaction:1 heartbeat:1 snapshot:1 schema:1; do
  echo "create $PFX.${t%%:*} ${t##*:}" >"$DEV_CONTROL"
done
wait_until 10 grep -q "create $PFX.schema 1 -> ok" "$FERRY_TEST_TMP/broker/devbroker.log" ||
  fail "could not create the topics"
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc2.log" ||
  fail "ferry-cdc failed with the topics there: $(tail -3 "$FERRY_TEST_TMP/cdc2.log")"
[ "$(grep -c 'could not create the topics of prefix' "$FERRY_TEST_TMP/cdc2.log")" = 1 ] ||
  fail "the second start did not say once that it could not create topics"
n=$(kcat -C -b "$DEV_BROKERS" -t "$PFX.public.t" -o beginning -e -q | grep -c '"op":"r"')
[ "$n" = 20 ] || fail "expected the 20 snapshot rows, found $n"
src_psql -c "UPDATE t SET v = 'later' WHERE id = 1"
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc3.log" ||
  fail "ferry-cdc failed to stream: $(tail -3 "$FERRY_TEST_TMP/cdc3.log")"
kcat -C -b "$DEV_BROKERS" -t "$PFX.public.t" -o beginning -e -q | grep '"op":"u"' >/dev/null ||
  fail "the update was not streamed"
# The existing topic was left as it was.
kcat -L -b "$DEV_BROKERS" -t "$PFX.public.t" | grep 'with 3 partitions' >/dev/null || fail "the table topic changed"
echo "late topics: refused clearly, then published once created"
