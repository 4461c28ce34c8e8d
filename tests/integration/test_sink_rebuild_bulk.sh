# ferry-sink --rebuild loads each entity's topic in bulk, in dependency
# order, up to the end offsets captured at start, then streams live:
# 1. Source transactions cut in two by those end offsets (a parent's insert
#    past them and its child's before; a parent's delete before them and
#    its child's past) still end up applied: the child is parked, then
#    drained, and the pieces read live are applied without their
#    transaction, which can never be reassembled.  A later transaction is
#    reassembled as usual.  The messages are copied into the topics by hand
#    (kcat) so that the cut falls exactly there.
# 2. kill -9 during the bulk load; the rebuild resumes where its last batch
#    committed, and the target equals the source.
PFX=_$(date +%s%N | tail -c 8)
fresh_dbs sink_bulk
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
P=sink_bulk$PFX       # the topics the sink reads
S=sink_bulk_src$PFX   # where ferry-cdc writes; copied to $P by hand
src_psql <<'SQL'
CREATE TABLE office (id int PRIMARY KEY, name text NOT NULL, n int NOT NULL DEFAULT 0);
CREATE TABLE doctor (id int PRIMARY KEY, office_id int REFERENCES office, name text, n int NOT NULL DEFAULT 0);
SQL
DDL="CREATE TABLE offices (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text NOT NULL, n int);
CREATE TABLE doctors (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                      office_id uuid REFERENCES offices (id), name text, n int);"
tgt_psql -c "$DDL"
write_cfg() { # FILE PREFIX TARGET_DSN: doctors first, to show the order is the plan's
  cat >"$1" <<EOF
source: { dsn: "$SRC_DSN", slot: sink_bulk }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: $2 }
target: { dsn: "$3", uuid_namespace: $NS }
entities:
  doctors:
    source: doctor
    target: doctors
    legacy_id_column: legacy_id
    columns: { name: name, n: n, office_id: { ref: offices, from: office_id } }
  offices: { source: office, target: offices, legacy_id_column: legacy_id,
             columns: { name: name, n: n } }
EOF
}
cfg=$FERRY_TEST_TMP/ferry.yaml
cdc_cfg=$FERRY_TEST_TMP/cdc.yaml
write_cfg "$cfg" "$P" "$TGT_DSN"
write_cfg "$cdc_cfg" "$S" "$TGT_DSN"
ferry-cdc -c "$cdc_cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"
src_psql <<'SQL'
INSERT INTO office SELECT g, 'o' || g FROM generate_series(1, 20) g;
INSERT INTO doctor SELECT g, 1 + g % 20, 'd' || g FROM generate_series(2, 60) g WHERE g <> 5;
UPDATE doctor SET n = n + 1 WHERE id % 3 = 0;
UPDATE office SET n = n + 1 WHERE id % 4 = 0;
DELETE FROM doctor WHERE office_id = 5;
INSERT INTO doctor VALUES (5, 5, 'd5 at o5');
-- T1: a parent and its child in one transaction
BEGIN; INSERT INTO office VALUES (100, 'o100'); INSERT INTO doctor VALUES (100, 100, 'd100'); COMMIT;
-- T2: a child and its parent deleted in one transaction
BEGIN; DELETE FROM doctor WHERE id = 5; DELETE FROM office WHERE id = 5; COMMIT;
-- T3: after both
INSERT INTO doctor VALUES (1, 2, 'd1 last');
SQL
ferry-cdc -c "$cdc_cfg" --endpos "$(src_lsn)" 2>"$FERRY_TEST_TMP/cdc.log" || fail "ferry-cdc failed"

dump() { kcat -C -b "$FERRY_BROKERS" -t "$S.$1" -o beginning -e -q -f '%k\t%s\n' | grep -v $'\t$'; }
dump public.office >"$FERRY_TEST_TMP/office.all"
dump public.doctor >"$FERRY_TEST_TMP/doctor.all"
dump transaction >"$FERRY_TEST_TMP/tx.all"
# Before the cut: everything but T1's office insert, T2's doctor delete and
# T3.  After it: those.
t1_office='^{"id":100}'$'\t'
t2_doctor='^{"id":5}'$'\t''.*"op":"d"'
t3_doctor='^{"id":1}'$'\t'
grep -v "$t1_office" "$FERRY_TEST_TMP/office.all" >"$FERRY_TEST_TMP/office.1"
grep "$t1_office" "$FERRY_TEST_TMP/office.all" >"$FERRY_TEST_TMP/office.2"
grep -v -e "$t2_doctor" -e "$t3_doctor" "$FERRY_TEST_TMP/doctor.all" >"$FERRY_TEST_TMP/doctor.1"
grep -e "$t2_doctor" -e "$t3_doctor" "$FERRY_TEST_TMP/doctor.all" >"$FERRY_TEST_TMP/doctor.2"
head -n -2 "$FERRY_TEST_TMP/tx.all" >"$FERRY_TEST_TMP/tx.1"
tail -n 2 "$FERRY_TEST_TMP/tx.all" >"$FERRY_TEST_TMP/tx.2"
for f in office.2 doctor.2; do
  [ "$(grep -c . "$FERRY_TEST_TMP/$f")" -ge 1 ] || fail "nothing selected for $f"
done
[ "$(grep -c . "$FERRY_TEST_TMP/doctor.2")" = 2 ] || fail "expected T2's and T3's doctor events"
put() { kcat -P -b "$FERRY_BROKERS" -t "$P.$1" -K $'\t' <"$FERRY_TEST_TMP/$2"; }
put public.office office.1
put public.doctor doctor.1
put transaction tx.1

ferry-sink -c "$cfg" --rebuild --exit-at-end 2>"$FERRY_TEST_TMP/rebuild.log" ||
  fail "rebuild failed: $(tail -5 "$FERRY_TEST_TMP/rebuild.log")"
# Offices before doctors, each read once in bulk: no transaction was
# reassembled.
grep -o 'entity "[a-z]*": loading' "$FERRY_TEST_TMP/rebuild.log" | tr '\n' ' ' |
  grep -qx 'entity "offices": loading entity "doctors": loading ' ||
  fail "not loaded in dependency order: $(grep loading "$FERRY_TEST_TMP/rebuild.log")"
grep -q "bulk load done" "$FERRY_TEST_TMP/rebuild.log" || fail "no bulk load: $(cat "$FERRY_TEST_TMP/rebuild.log")"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.applied_tx')" = 0 ] ||
  fail "the rebuild reassembled transactions instead of loading in bulk"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.bulk WHERE done AND cut_lsn > 0')" = 1 ] ||
  fail "the bulk load is not recorded as done"
# d100 waits for o100 (past the cut); d5 for o5 (deleted before it).
parked=$(tgt_psql -c "SELECT string_agg(legacy_key, ',' ORDER BY legacy_key) FROM ferry.parked")
[ "$parked" = "100,5" ] || fail "expected doctors 100 and 5 parked, got '$parked'"

put public.office office.2
put public.doctor doctor.2
put transaction tx.2
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/live.log" ||
  fail "ferry-sink failed: $(tail -5 "$FERRY_TEST_TMP/live.log")"
grep -q "incomplete" "$FERRY_TEST_TMP/live.log" && fail "transactions left incomplete: $(grep incomplete "$FERRY_TEST_TMP/live.log")"

same_as_source() {
  local want got
  want=$(src_psql -c "SELECT d.id, d.name, d.n, o.id, o.name, o.n FROM doctor d LEFT JOIN office o ON o.id = d.office_id ORDER BY d.id" | md5sum)
  got=$(psql -qAtX -d "$1" -c "SELECT d.legacy_id, d.name, d.n, o.legacy_id, o.name, o.n FROM doctors d LEFT JOIN offices o ON o.id = d.office_id ORDER BY d.legacy_id" | md5sum)
  [ "$want" = "$got" ] || return 1
  want=$(src_psql -c "SELECT id, name, n FROM office ORDER BY id" | md5sum)
  got=$(psql -qAtX -d "$1" -c "SELECT legacy_id, name, n FROM offices ORDER BY legacy_id" | md5sum)
  [ "$want" = "$got" ]
}
same_as_source "$TGT_DSN" || fail "the target differs from the source after the cut transactions"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.parked')" = 0 ] || fail "rows left parked: $(tgt_psql -c 'SELECT entity, legacy_key FROM ferry.parked')"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.errors')" = 0 ] || fail "errors: $(tgt_psql -c 'SELECT error FROM ferry.errors')"
# T3 came through the transaction topic.
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.applied_tx')" = 1 ] || fail "T3 was not reassembled"
echo "part 1: transactions cut by the bulk load's end offsets applied; later ones reassembled"

# Part 2: kill -9 during the bulk load of 300 transactions of inserts,
# updates and deletes, then resume.
(
  for t in $(seq 0 299); do
    o=$((t * 3 + 200))
    echo "BEGIN; INSERT INTO office SELECT g, 'o' || g FROM generate_series($o + 1, $o + 3) g;"
    echo "INSERT INTO doctor SELECT g, $o + 1 + g % 3, 'd' || g FROM generate_series($t * 10 + 1000, $t * 10 + 1009) g;"
    echo "UPDATE doctor SET n = n + 1, office_id = 201 WHERE id % 7 = $((t % 7)) AND id BETWEEN $t * 10 + 960 AND $t * 10 + 1009;"
    echo "UPDATE office SET n = n + 1 WHERE id % 5 = $((t % 5)) AND id > $o - 30;"
    echo "DELETE FROM doctor WHERE id = $t * 10 + 1003; COMMIT;"
  done
) | src_psql >/dev/null
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>>"$FERRY_TEST_TMP/cdc.log" || fail "ferry-cdc failed"
psql -qAtX -h "$FERRY_PGHOST" -p "$FERRY_TGT_PORT" -U postgres -d postgres \
  -c "DROP DATABASE IF EXISTS sink_bulk2 WITH (FORCE)" -c "CREATE DATABASE sink_bulk2" >/dev/null
dsn2="host=$FERRY_PGHOST port=$FERRY_TGT_PORT user=postgres dbname=sink_bulk2"
psql -qAtX -v ON_ERROR_STOP=1 -d "$dsn2" -c "$DDL"
cfg2=$FERRY_TEST_TMP/ferry2.yaml
write_cfg "$cfg2" "$P" "$dsn2"
loaded() { psql -qAtX -d "$dsn2" -c "SELECT (SELECT count(*) FROM offices) + (SELECT count(*) FROM doctors)"; }
stored() { psql -qAtX -d "$dsn2" -c "SELECT coalesce(sum(next_offset), 0) FROM ferry.offsets" 2>/dev/null || echo 0; }
progressed() { [ "$(stored)" -gt "$1" ]; }
bulk_unfinished() { [ "$(psql -qAtX -d "$dsn2" -c 'SELECT count(*) FROM ferry.bulk WHERE NOT done' 2>/dev/null)" -ge 1 ]; }
killed=0
for round in 1 2 3; do
  before=$(stored)
  ferry-sink -c "$cfg2" --rebuild --batch 40 2>>"$FERRY_TEST_TMP/kill.log" &
  pid=$!
  wait_until 30 progressed "$before" || fail "round $round: the bulk load made no progress"
  sleep "0.$((RANDOM % 4))"
  kill -9 $pid
  wait $pid 2>/dev/null || true
  bulk_unfinished || break
  killed=$((killed + 1))
  echo "round $round: killed ferry-sink during the bulk load with $(loaded) rows loaded"
done
[ "$killed" -ge 1 ] || fail "no kill landed during the bulk load"
grep -q "resuming the bulk load" "$FERRY_TEST_TMP/kill.log" || fail "a killed rebuild did not resume"
# A round's kill may land after its bulk load finished; a second --rebuild
# is then refused (the target is not empty), so the last run resumes only
# an unfinished load.
again=()
bulk_unfinished && again=(--rebuild)
ferry-sink -c "$cfg2" "${again[@]}" --exit-at-end 2>"$FERRY_TEST_TMP/final.log" ||
  fail "final ferry-sink failed: $(tail -5 "$FERRY_TEST_TMP/final.log")"
same_as_source "$dsn2" || fail "after kill -9 during the bulk load the target differs from the source"
[ "$(psql -qAtX -d "$dsn2" -c 'SELECT count(*) FROM ferry.errors')" = 0 ] || fail "errors after the kills"
[ "$(psql -qAtX -d "$dsn2" -c 'SELECT count(*) FROM ferry.parked')" = 0 ] || fail "rows left parked after the kills"
# The bulk load, once done, is not run again.
ferry-sink -c "$cfg2" --exit-at-end 2>"$FERRY_TEST_TMP/after.log" || fail "ferry-sink after the rebuild failed"
grep -q "bulk load" "$FERRY_TEST_TMP/after.log" && fail "the bulk load ran again"
psql -qAtX -h "$FERRY_PGHOST" -p "$FERRY_TGT_PORT" -U postgres -d postgres -c "DROP DATABASE sink_bulk2 WITH (FORCE)" >/dev/null
echo "part 2: $killed kill -9 during the bulk load; resumed; the target equals the source"
