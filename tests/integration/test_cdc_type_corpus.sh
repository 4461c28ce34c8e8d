# Every value ferry-cdc publishes equals the source's PostgreSQL text form:
# exact numerics beyond double precision, bigint limits, 1e-300, -0, bytea,
# arrays, json/jsonb, timestamps with and without time zone, intervals, uuid,
# Unicode, and the empty string as distinct from NULL.  Read back with
# python3-kafka (an independent Kafka client) and with kcat.
fresh_dbs cdc_types
src_psql <<'SQL'
CREATE TABLE corpus (
  id int PRIMARY KEY, n numeric, i8 bigint, i2 smallint, f8 float8, f4 real,
  b bool, ba bytea, arr int[], tarr text[], j json, jb jsonb, ts timestamp,
  tstz timestamptz, iv interval, u uuid, t text, vc varchar(20), d date,
  tm time, ch char(3), big numeric(40,10));
SQL
write_cdc_config "$FERRY_TEST_TMP/ferry.yaml" cdc_types cdc_types "$FERRY_BROKERS" corpus
# Create the slot first, so that every insert below is streamed.
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc0.log" ||
  fail "ferry-cdc did not start: $(cat "$FERRY_TEST_TMP/cdc0.log")"
src_psql <<'SQL'
SET TIME ZONE 'Asia/Kolkata';
INSERT INTO corpus VALUES
 (1, 12345678901234567890.123456789, 9223372036854775807, 32767, -0, 1.5, true,
  '\x00ff10', '{1,2,NULL}', '{"a b","c,d","é"}', '{"k": [1, 2.50]}',
  '{"z": 1, "a": "ü"}', '2024-02-29 10:34:56.789012', '2024-02-29 10:34:56.789012+05:30',
  '1 year 2 mons 3 days 04:05:06.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  'Grüße, 世界 "quoted" \ back\slash', '', '2024-02-29', '23:59:59.999999', 'ab',
  123456789012345678901234567890.0123456789),
 (2, 99999999999999999999, -9223372036854775808, -32768, 1e-300, -3.4e38, false,
  '\x', '{}', '{}', '[]', '{}', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00',
  '-00:00:01', '00000000-0000-0000-0000-000000000000', E'tab\there\nnewline',
  'x', '0001-01-01', '00:00:00', '   ', -0.0000000001),
 (3, 1e-300, 0, 0, 1.7976931348623157e308, 0, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
UPDATE corpus SET t = '' WHERE id = 3;
SQL
ferry-cdc -c "$FERRY_TEST_TMP/ferry.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc.log" ||
  fail "ferry-cdc failed: $(cat "$FERRY_TEST_TMP/cdc.log")"

# The source's text forms, as JSON: {"1": {"n": "...", ...}, ...}; NULL -> null.
src_psql -c "SET TIME ZONE 'UTC'; SELECT json_object_agg(id, (SELECT json_object_agg(key, value) FROM json_each_text(row_to_json(c)::json) AS e(key, value))) FROM (SELECT id::text AS id, n::text, i8::text, i2::text, f8::text, f4::text, b::text, ba::text, arr::text, tarr::text, j::text, jb::text, ts::text, tstz::text, iv::text, u::text, t::text, vc::text, d::text, tm::text, textin(bpcharout(ch)) AS ch, big::text FROM corpus) c" \
  >"$FERRY_TEST_TMP/source.json"

/usr/bin/python3 - "$FERRY_BROKERS" cdc_types.public.corpus "$FERRY_TEST_TMP/source.json" <<'PY'
import json, sys
from kafka import KafkaConsumer
brokers, topic, srcfile = sys.argv[1:]
source = json.load(open(srcfile))
c = KafkaConsumer(topic, bootstrap_servers=brokers.split(","), auto_offset_reset="earliest",
                  enable_auto_commit=False, consumer_timeout_ms=15000, api_version=(2, 5, 0))
latest = {}
for m in c:
    ev = json.loads(m.value)   # Python keeps big integers exact
    latest[str(ev["after"]["id"])] = ev["after"]
c.close()
def text_form(v):
    if v is None: return None
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, int): return str(v)
    if isinstance(v, float): sys.exit("a float reached JSON: %r (not lossless)" % v)
    return v
bad = 0
for id_, row in source.items():
    got = latest.get(id_)
    if got is None:
        print("row %s missing from Kafka" % id_); bad += 1; continue
    for col, want in row.items():
        if col not in got:
            print("row %s column %s missing" % (id_, col)); bad += 1; continue
        have = text_form(got[col])
        if col == "b" and want is not None:
            want = {"t": "true", "f": "false", "true": "true", "false": "false"}[want]
        if have != want:
            print("row %s column %s: kafka %r != source %r" % (id_, col, have, want)); bad += 1
if bad:
    sys.exit("%d values differ" % bad)
print("python3-kafka: %d rows, every value equals the source's text form" % len(source))
PY

# kcat reads the same events, keyed by the primary key.
kcat -C -b "$FERRY_BROKERS" -t cdc_types.public.corpus -o beginning -e -q -f '%k\n' |
  sort -u >"$FERRY_TEST_TMP/keys.txt"
[ "$(cat "$FERRY_TEST_TMP/keys.txt" | tr '\n' ' ')" = '{"id":1} {"id":2} {"id":3} ' ] ||
  fail "kcat keys: $(cat "$FERRY_TEST_TMP/keys.txt")"

# An UPDATE that leaves a TOASTed column unchanged: wal2json omits the column,
# and the event marks it absent instead of writing NULL.
src_psql <<'SQL'
CREATE TABLE toasty (id int PRIMARY KEY, note text, big text);
SQL
write_cdc_config "$FERRY_TEST_TMP/toast.yaml" cdc_types cdc_types "$FERRY_BROKERS" corpus toasty
src_psql <<'SQL'
INSERT INTO toasty SELECT 1, 'first', string_agg(md5(g::text), '') FROM generate_series(1, 400) g;
UPDATE toasty SET note = 'second' WHERE id = 1;
SQL
ferry-cdc -c "$FERRY_TEST_TMP/toast.yaml" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc2.log" ||
  fail "ferry-cdc failed: $(cat "$FERRY_TEST_TMP/cdc2.log")"
kcat -C -b "$FERRY_BROKERS" -t cdc_types.public.toasty -o beginning -e -q >"$FERRY_TEST_TMP/toast.txt"
/usr/bin/python3 - "$FERRY_TEST_TMP/toast.txt" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ins = [e for e in evs if e["op"] == "c"]
upd = [e for e in evs if e["op"] == "u"]
assert len(ins) == 1 and len(ins[0]["after"]["big"]) == 12800, "insert carries the big value"
assert len(upd) == 1, "one update: %r" % evs
u = upd[0]
assert u["after"]["note"] == "second"
assert "big" not in u["after"], "unchanged TOAST column must not be in after (never null)"
assert u.get("absent") == ["big"], "update must mark big absent: %r" % u.get("absent")
print("unchanged TOAST column marked absent")
PY
