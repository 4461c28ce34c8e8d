# ferry-sink and a source TRUNCATE:
# 1. a TRUNCATE the target refuses (an application table still references
#    the rows) is recorded in errors and changes no state: the rows stay,
#    their row_lsn entries stay, and no truncated mark is written;
# 2. a TRUNCATE of an entity without legacy id columns deletes only the
#    rows ferry applied (the keys in row_lsn, turned into their UUIDs, an
#    imported one included, in chunks), never the application's own rows
#    of that table.
PFX=_$(date +%s%N | tail -c 8)  # a fresh topic prefix per run
fresh_dbs sink_truncate
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE thing (id int PRIMARY KEY, name text);
CREATE TABLE tag (id int PRIMARY KEY, label text);
SQL
tgt_psql <<'SQL'
CREATE TABLE things (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text);
CREATE TABLE thing_refs (id int PRIMARY KEY, thing_id uuid REFERENCES things);  -- the application's
CREATE TABLE tags (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), label text);  -- no legacy id
SQL
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: sink_truncate }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_truncate$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  things: { source: thing, target: things, legacy_id_column: legacy_id,
            columns: { name: name } }
  tags: { source: tag, target: tags, columns: { label: label } }
EOF
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"
publish() { ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>>"$FERRY_TEST_TMP/cdc.log" || fail "ferry-cdc failed"; }
sink_once() {
  ferry-sink -c "$cfg" --exit-at-end 2>>"$FERRY_TEST_TMP/sink.log" ||
    fail "ferry-sink failed: $(grep -v NOTICE "$FERRY_TEST_TMP/sink.log" | tail -5)"
}
# Tag 7 keeps the UUID an earlier migration gave it.
printf 'legacy_key,uuid\n7,0b0b0b0b-1111-4222-8333-444455556666\n' >"$FERRY_TEST_TMP/tags.csv"
ferry-map import-ids -c "$cfg" --entity tags --csv "$FERRY_TEST_TMP/tags.csv" >/dev/null || fail "import-ids failed"

# More keys than one chunk of the truncate (10000).
src_psql <<'SQL'
INSERT INTO thing VALUES (1, 'one'), (2, 'two');
INSERT INTO tag SELECT g, 'tag ' || g FROM generate_series(1, 12000) g;
SQL
publish
sink_once
[ "$(tgt_psql -c 'SELECT count(*) FROM tags')" = 12000 ] || fail "tags not applied: $(tgt_psql -c 'SELECT count(*) FROM tags')"
[ "$(tgt_psql -c "SELECT label FROM tags WHERE id = '0b0b0b0b-1111-4222-8333-444455556666'")" = "tag 7" ] ||
  fail "tag 7 did not get its imported UUID"
# The application's own rows: a tag of its own, a reference to thing 1.
tgt_psql <<'SQL'
INSERT INTO tags (label) VALUES ('the application''s'), ('and another');
INSERT INTO thing_refs SELECT 1, id FROM things WHERE legacy_id = 1;
SQL
lsn_before=$(tgt_psql -c "SELECT string_agg(legacy_key || ':' || commit_lsn || ':' || change_lsn, ' ' ORDER BY legacy_key) FROM ferry.row_lsn WHERE entity = 'things'")

src_psql -c "TRUNCATE thing"
src_psql -c "TRUNCATE tag"
publish
sink_once

# 1. Refused: recorded, nothing changed.
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.errors WHERE entity = 'things' AND error LIKE '%thing_refs%'")" = 1 ] ||
  fail "the refused truncate was not recorded: $(tgt_psql -c 'SELECT entity, error FROM ferry.errors')"
[ "$(tgt_psql -c 'SELECT count(*) FROM things')" = 2 ] || fail "things were deleted"
[ "$(tgt_psql -c "SELECT string_agg(legacy_key || ':' || commit_lsn || ':' || change_lsn, ' ' ORDER BY legacy_key) FROM ferry.row_lsn WHERE entity = 'things'")" = "$lsn_before" ] ||
  fail "the refused truncate changed the row_lsn entries"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.truncated WHERE entity = 'things'")" = 0 ] ||
  fail "the refused truncate left a truncated mark"

# 2. Without legacy ids: ferry's rows gone (the imported one too), the
#    application's kept.
got=$(tgt_psql -c "SELECT string_agg(label, ',' ORDER BY label) FROM tags")
[ "$got" = "and another,the application's" ] || fail "truncate without legacy ids: tags left: $(tgt_psql -c 'SELECT count(*) FROM tags') ($(echo "$got" | cut -c1-200))"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.truncated WHERE entity = 'tags'")" = 1 ] || fail "no truncated mark for tags"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.row_lsn WHERE entity = 'tags'")" = 0 ] || fail "row_lsn entries of tags left"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.errors')" = 1 ] || fail "unexpected errors: $(tgt_psql -c 'SELECT entity, error FROM ferry.errors')"

# After the truncate the table is ferry's again: new source rows arrive.
src_psql -c "INSERT INTO tag VALUES (1, 'back')"
publish
sink_once
[ "$(tgt_psql -c "SELECT count(*) FROM tags WHERE label = 'back'")" = 1 ] || fail "a row after the truncate was not applied"
echo "a refused truncate changed nothing; a truncate without legacy ids deleted only ferry's rows"
