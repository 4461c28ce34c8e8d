# ferry-sink with an lsn_column (docs/mapping.md): each row keeps its
# source position (commit LSN * 2^64 + change LSN), upserts write nothing
# to state_schema.row_lsn (deletes still do), and stale events change
# nothing: found by the stale check, and, with the check skipped (the
# entity's position bound forced down), by the upsert's and the delete's
# own guards; a TRUNCATE applies.  ferry-map check refuses a column of
# another type.
PFX=_$(date +%s%N | tail -c 8)
fresh_dbs sink_lsncol
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE office (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE doctor (id int PRIMARY KEY, office_id int REFERENCES office, name text);
SQL
tgt_psql <<'SQL'
CREATE TABLE offices (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text NOT NULL);
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                      office_id uuid REFERENCES offices (id), name text,
                      src_lsn numeric NOT NULL);
SQL
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: sink_lsncol }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_lsncol$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS, state_schema: ferry }
entities:
  offices: { source: office, target: offices, legacy_id_column: legacy_id,
             columns: { name: name } }
  doctors:
    source: doctor
    target: doctors
    legacy_id_column: legacy_id
    lsn_column: src_lsn
    columns: { name: name, office_id: { ref: offices, from: office_id } }
EOF
ferry-map check -c "$cfg" >"$FERRY_TEST_TMP/check.txt" 2>&1 ||
  fail "ferry-map check refused the mapping: $(cat "$FERRY_TEST_TMP/check.txt")"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"
src_psql <<'SQL'
INSERT INTO office SELECT g, 'o' || g FROM generate_series(1, 10) g;
INSERT INTO doctor SELECT g, 1 + g % 10, 'd' || g FROM generate_series(1, 50) g;
UPDATE doctor SET name = name || ' v2';
DELETE FROM doctor WHERE id = 50;
SQL
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink1.log" ||
  fail "ferry-sink failed: $(tail -3 "$FERRY_TEST_TMP/sink1.log")"
[ "$(tgt_psql -c "SELECT count(*) FROM doctors WHERE name LIKE '% v2'")" = 49 ] ||
  fail "the doctors did not arrive: $(grep applied "$FERRY_TEST_TMP/sink1.log")"

# The fold: only the delete has a row_lsn position; the offices (no lsn
# column) keep theirs there.
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.row_lsn WHERE entity = 'doctors'")" = 1 ] ||
  fail "upserts wrote row_lsn: $(tgt_psql -c "SELECT count(*) FROM ferry.row_lsn WHERE entity = 'doctors'") rows"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.row_lsn WHERE entity = 'offices'")" = 10 ] ||
  fail "the offices' positions are missing"

# Doctor 1's column is its last event's source.sequence.
kcat -C -b "$FERRY_BROKERS" -t sink_lsncol$PFX.public.doctor -o beginning -e -q -K '\t' >"$FERRY_TEST_TMP/doctor.txt"
want=$(/usr/bin/python3 -c '
import json, sys
last = None
for line in open(sys.argv[1]):
    k, v = line.rstrip("\n").split("\t", 1)
    if v in ("", "null"):
        continue
    e = json.loads(v)
    row = e["after"] or e["before"]
    if row["id"] == 1:
        last = json.loads(e["source"]["sequence"])
print(int(last[0]) * 2**64 + int(last[1]))' "$FERRY_TEST_TMP/doctor.txt")
got=$(tgt_psql -c "SELECT src_lsn FROM doctors WHERE legacy_id = 1")
[ "$got" = "$want" ] || fail "doctor 1's src_lsn is $got, its last event's position $want"

snap() { tgt_psql -c "SELECT md5(string_agg(t::text, ',' ORDER BY legacy_id)) FROM doctors t"; }
before=$(snap)

# Every doctor event again, without its transaction: the stale check
# (reading the rows' own positions) drops all 50 keys.
/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    k, v = line.rstrip("\n").split("\t", 1)
    if v in ("", "null"):
        continue
    e = json.loads(v)
    e.pop("transaction", None)
    print(k + "\t" + json.dumps(e))' "$FERRY_TEST_TMP/doctor.txt" >"$FERRY_TEST_TMP/replay.txt"
kcat -P -b "$FERRY_BROKERS" -t sink_lsncol$PFX.public.doctor -K '\t' <"$FERRY_TEST_TMP/replay.txt"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink2.log" || fail "ferry-sink failed"
grep "skipped 50 stale" "$FERRY_TEST_TMP/sink2.log" >/dev/null ||
  fail "stale events not skipped: $(grep applied "$FERRY_TEST_TMP/sink2.log")"
[ "$(snap)" = "$before" ] || fail "the stale replay changed the target"

# The guards alone: with the position bound forced to 0 the stale check is
# skipped (every row looks newer than anything applied), and the upsert's
# WHERE and the delete's own condition must keep the newer rows.  The
# replay is the inserts of doctors 1-49 (their old names); doctor 50's
# delete position is in row_lsn, below the real bound, which this test
# breaks on purpose.
tgt_psql -c "UPDATE ferry.row_lsn_max SET commit_lsn = 0 WHERE entity = 'doctors'" >/dev/null
grep '"op": "c"' "$FERRY_TEST_TMP/replay.txt" | grep -v '^{"id":50}' >"$FERRY_TEST_TMP/inserts.txt"
[ "$(grep -c . "$FERRY_TEST_TMP/inserts.txt")" = 49 ] || fail "expected 49 inserts to replay"
kcat -P -b "$FERRY_BROKERS" -t sink_lsncol$PFX.public.doctor -K '\t' <"$FERRY_TEST_TMP/inserts.txt"
ferry-sink -c "$cfg" --exit-at-end -v 2>"$FERRY_TEST_TMP/sink3.log" || fail "ferry-sink failed"
[ "$(snap)" = "$before" ] || fail "the upsert's guard let older rows overwrite newer ones"
grep "49 rows older than their target rows skipped by the lsn column's guard" "$FERRY_TEST_TMP/sink3.log" >/dev/null ||
  fail "the guard's skips were not counted: $(grep -E 'applied|guard' "$FERRY_TEST_TMP/sink3.log")"
grep "skipped 49 stale" "$FERRY_TEST_TMP/sink3.log" >/dev/null ||
  fail "the guard's skips are not in the stale count: $(grep applied "$FERRY_TEST_TMP/sink3.log")"
# An old delete of doctor 1 (at its insert's position), alone in its batch.
grep -m1 '"id": 1,' "$FERRY_TEST_TMP/replay.txt" | /usr/bin/python3 -c '
import json, sys
k, v = sys.stdin.readline().rstrip("\n").split("\t", 1)
e = json.loads(v)
e["before"], e["after"], e["op"] = e["after"], None, "d"
print(k + "\t" + json.dumps(e))' >"$FERRY_TEST_TMP/olddelete.txt"
grep '"op": "d"' "$FERRY_TEST_TMP/olddelete.txt" >/dev/null || fail "could not make the old delete"
tgt_psql -c "UPDATE ferry.row_lsn_max SET commit_lsn = 0 WHERE entity = 'doctors'" >/dev/null
kcat -P -b "$FERRY_BROKERS" -t sink_lsncol$PFX.public.doctor -K '\t' <"$FERRY_TEST_TMP/olddelete.txt"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink4.log" || fail "ferry-sink failed"
[ "$(tgt_psql -c "SELECT count(*) FROM doctors WHERE legacy_id = 1")" = 1 ] ||
  fail "an old delete removed a newer row"

# A newer change still applies, and its position replaces the old one.
src_psql -c "UPDATE doctor SET name = 'v3' WHERE id = 1; DELETE FROM doctor WHERE id = 2"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink5.log" || fail "ferry-sink failed"
[ "$(tgt_psql -c "SELECT name FROM doctors WHERE legacy_id = 1")" = v3 ] || fail "a newer update was lost"
[ "$(tgt_psql -c "SELECT count(*) FROM doctors WHERE legacy_id = 2")" = 0 ] || fail "a newer delete was lost"
[ "$(tgt_psql -c "SELECT src_lsn > $want FROM doctors WHERE legacy_id = 1")" = t ] ||
  fail "the newer update did not move the position"

# A source TRUNCATE: its check (is a row newer than it?) reads the rows'
# positions too; none is, so the doctors go.
src_psql -c "TRUNCATE doctor"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink5t.log" ||
  fail "ferry-sink failed on the truncate: $(tail -3 "$FERRY_TEST_TMP/sink5t.log")"
[ "$(tgt_psql -c "SELECT count(*) FROM doctors")" = 0 ] ||
  fail "the truncate was not applied: $(grep -iE 'truncat|error' "$FERRY_TEST_TMP/sink5t.log" | tail -3)"

# A column of another type is refused, by check and by the sink.
tgt_psql -c "ALTER TABLE doctors ALTER COLUMN src_lsn TYPE bigint USING 0" >/dev/null
ferry-map check -c "$cfg" >"$FERRY_TEST_TMP/check2.txt" 2>&1 && fail "check took a bigint lsn column"
grep 'lsn column "src_lsn" has type bigint' "$FERRY_TEST_TMP/check2.txt" >/dev/null ||
  fail "unclear check: $(cat "$FERRY_TEST_TMP/check2.txt")"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink6.log" && fail "the sink took a bigint lsn column"
grep 'lsn column "src_lsn"' "$FERRY_TEST_TMP/sink6.log" >/dev/null ||
  fail "unclear refusal: $(tail -3 "$FERRY_TEST_TMP/sink6.log")"
echo "positions kept in the rows, none in row_lsn for upserts; stale replays and old deletes changed nothing"
