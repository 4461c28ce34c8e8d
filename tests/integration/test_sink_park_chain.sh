# ferry-sink: a chain of replies whose first comment is parked (its case is
# not there yet) is parked whole, in one source transaction, instead of the
# replies failing the target's self-referencing FK; once the case arrives
# the whole chain is applied, parents first.
PFX=_$(date +%s%N | tail -c 8)  # a fresh topic prefix per run
fresh_dbs sink_park_chain
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE kase (id int PRIMARY KEY, title text);
CREATE TABLE comment (id int PRIMARY KEY, case_id int NOT NULL, parent_id int, body text);
SQL
tgt_psql <<'SQL'
CREATE TABLE cases (id uuid PRIMARY KEY, legacy_id int UNIQUE, title text);
CREATE TABLE comments (id uuid PRIMARY KEY, legacy_id int UNIQUE,
                       case_id uuid NOT NULL REFERENCES cases (id),
                       parent_comment_id uuid REFERENCES comments (id), body text);
SQL
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<YAML
source: { dsn: "$SRC_DSN", slot: sink_park_chain }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_park_chain$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  cases: { source: kase, target: cases, legacy_id_column: legacy_id,
           columns: { title: title } }
  comments:
    source: comment
    target: comments
    legacy_id_column: legacy_id
    columns:
      body: body
      case_id: { ref: cases, from: case_id }
      parent_comment_id: { ref: comments, from: parent_id }
YAML
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"
src_psql <<'SQL'
INSERT INTO kase VALUES (1, 'present');
INSERT INTO comment VALUES (10, 1, NULL, 'fine'), (11, 1, 10, 'fine reply'),
  (20, 999, NULL, 'case missing'), (21, 1, 20, 'reply on a present case'),
  (22, 1, 21, 'reply to reply');
SQL
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink1.log" ||
  fail "ferry-sink failed: $(tail -5 "$FERRY_TEST_TMP/sink1.log")"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.errors")" = 0 ] ||
  fail "rows recorded as errors instead of parked: $(tgt_psql -c 'SELECT legacy_key, error FROM ferry.errors')"
got=$(tgt_psql -c "SELECT string_agg(legacy_key, ' ' ORDER BY legacy_key) FROM ferry.parked WHERE entity = 'comments'")
[ "$got" = "20 21 22" ] || fail "expected comments 20 21 22 parked, got '$got'"
got=$(tgt_psql -c "SELECT string_agg(legacy_id::text, ' ' ORDER BY legacy_id) FROM comments")
[ "$got" = "10 11" ] || fail "expected comments 10 11 applied, got '$got'"

src_psql -c "INSERT INTO kase VALUES (999, 'late')"
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "ferry-cdc failed"
ferry-sink -c "$cfg" --exit-at-end 2>"$FERRY_TEST_TMP/sink2.log" ||
  fail "ferry-sink failed: $(tail -5 "$FERRY_TEST_TMP/sink2.log")"
got=$(tgt_psql -c "SELECT c.legacy_id, p.legacy_id FROM comments c LEFT JOIN comments p ON p.id = c.parent_comment_id ORDER BY 1" | tr '\n' ' ')
[ "$got" = "10| 11|10 20| 21|20 22|21 " ] || fail "after the case arrived: $got"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.parked")" = 0 ] || fail "rows still parked"
echo "a parked chain of replies was applied whole once its case arrived"
