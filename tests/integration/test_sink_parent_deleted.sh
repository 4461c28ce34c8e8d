# ferry-sink: parents deleted at the source while children still reference
# them (the legacy database has no FKs; the target has them, all on and
# immediate).  The children's on_missing policy applies, in the target
# transaction of the parent's delete:
#   null  - the children's ref becomes NULL, and is filled in again when the
#           parent comes back (pets: an owner deleted under its pets, and a
#           pet deleted under its buddy in the same source transaction);
#           when one parent's delete of a set is refused, its children are
#           left as they were and the other parents' children get NULL
#           (clubs and members);
#   park  - the children and their descendants leave the target, parked
#           with their row (kind 'row'), and come back as they were when the
#           parent reappears (an order deleted under its comments, a reply
#           chain running into another order, notes on the comments, and a
#           comment deleted under its reply);
#   error - the delete is recorded in errors and the parent stays;
# and a delete blocked by an application table (a target-only table with
# an FK to the parent) is recorded once, parked with the table named,
# retried with a growing backoff, shown by ferry-map validate, and applied
# once the application's row is gone.
# test_sink_parent_deleted_lsn runs it with PD_LSN=1: pets, comments and
# notes keep their positions in an lsn_column (docs/mapping.md), so that
# rows parked with their parent take their position from it.
PFX=_$(date +%s%N | tail -c 8)  # a fresh topic prefix per run
SLOT=sink_parent_deleted${PD_LSN:+_lsn}
L= LMAP=
if [ -n "${PD_LSN:-}" ]; then L=", src_lsn numeric" LMAP="lsn_column: src_lsn"; fi
fresh_dbs $SLOT
NS=3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
src_psql <<'SQL'
CREATE TABLE owner (id int PRIMARY KEY, name text);
CREATE TABLE pet (id int PRIMARY KEY, name text, owner_id int, buddy_id int);
CREATE TABLE ord (id int PRIMARY KEY, name text);
CREATE TABLE cmt (id int PRIMARY KEY, order_id int, parent_id int, body text);
CREATE TABLE note (id int PRIMARY KEY, comment_id int, txt text);
CREATE TABLE team (id int PRIMARY KEY, name text);
CREATE TABLE player (id int PRIMARY KEY, team_id int, name text);
CREATE TABLE shop (id int PRIMARY KEY, name text);
CREATE TABLE club (id int PRIMARY KEY, name text);
CREATE TABLE member (id int PRIMARY KEY, club_id int, name text);
SQL
tgt_psql <<SQL
CREATE TABLE owners (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text);
CREATE TABLE pets (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text,
                   owner_id uuid REFERENCES owners, buddy_id uuid REFERENCES pets $L);
CREATE TABLE orders (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text);
CREATE TABLE comments (id uuid PRIMARY KEY, legacy_id int UNIQUE, body text,
                       order_id uuid REFERENCES orders,
                       parent_id uuid REFERENCES comments,
                       seen_at timestamptz, tags text[] $L);  -- the application's own columns
CREATE TABLE notes (id uuid PRIMARY KEY, legacy_id int UNIQUE, txt text,
                    comment_id uuid REFERENCES comments $L);
CREATE TABLE teams (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text);
CREATE TABLE players (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text,
                      team_id uuid REFERENCES teams);
CREATE TABLE shops (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text);
-- The new application's own table: the mapping does not know it.
CREATE TABLE reviews (id int PRIMARY KEY, shop_id uuid NOT NULL REFERENCES shops);
CREATE TABLE clubs (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text);
CREATE TABLE members (id uuid PRIMARY KEY, legacy_id int UNIQUE, name text,
                      club_id uuid REFERENCES clubs);
CREATE TABLE club_notes (id int PRIMARY KEY, club_id uuid REFERENCES clubs);
SQL
cfg=$FERRY_TEST_TMP/ferry.yaml
cat >"$cfg" <<EOF
source: { dsn: "$SRC_DSN", slot: $SLOT }
kafka: { brokers: "$FERRY_BROKERS", topic_prefix: sink_pd$PFX }
target: { dsn: "$TGT_DSN", uuid_namespace: $NS }
entities:
  owners: { source: owner, target: owners, legacy_id_column: legacy_id,
            columns: { name: name } }
  pets:
    source: pet
    target: pets
    legacy_id_column: legacy_id
    $LMAP
    columns:
      name: name
      owner_id: { ref: owners, from: owner_id, on_missing: "null" }
      buddy_id: { ref: pets, from: buddy_id, on_missing: "null" }
  orders: { source: ord, target: orders, legacy_id_column: legacy_id,
            columns: { name: name } }
  comments:
    source: cmt
    target: comments
    legacy_id_column: legacy_id
    $LMAP
    columns:
      body: body
      order_id: { ref: orders, from: order_id }
      parent_id: { ref: comments, from: parent_id }
  notes:
    source: note
    target: notes
    legacy_id_column: legacy_id
    $LMAP
    columns: { txt: txt, comment_id: { ref: comments, from: comment_id } }
  teams: { source: team, target: teams, legacy_id_column: legacy_id,
           columns: { name: name } }
  players:
    source: player
    target: players
    legacy_id_column: legacy_id
    columns: { name: name, team_id: { ref: teams, from: team_id, on_missing: error } }
  shops: { source: shop, target: shops, legacy_id_column: legacy_id,
           columns: { name: name } }
  clubs: { source: club, target: clubs, legacy_id_column: legacy_id,
           columns: { name: name } }
  members:
    source: member
    target: members
    legacy_id_column: legacy_id
    columns: { name: name, club_id: { ref: clubs, from: club_id, on_missing: "null" } }
EOF
ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>/dev/null || fail "slot creation failed"
publish() { ferry-cdc -c "$cfg" --endpos "$(src_lsn)" 2>>"$FERRY_TEST_TMP/cdc.log" || fail "ferry-cdc failed"; }
sink_once() {
  ferry-sink -c "$cfg" --exit-at-end -v 2>>"$FERRY_TEST_TMP/sink.log" ||
    fail "ferry-sink failed: $(grep -v NOTICE "$FERRY_TEST_TMP/sink.log" | tail -5)"
}
# validate_agrees ENTITY...: ferry-map validate says each entity agrees.
validate_agrees() {
  ferry-map validate -c "$cfg" --format json >"$FERRY_TEST_TMP/validate.json" 2>"$FERRY_TEST_TMP/validate.err" || true
  python3 - "$FERRY_TEST_TMP/validate.json" "$@" <<'PY' || fail "validate: $(cat "$FERRY_TEST_TMP/validate.err"; ferry-map validate -c "$cfg" 2>&1)"
import json, sys
r = json.load(open(sys.argv[1]))
ents = {e["entity"]: e for e in r["entities"]}
bad = [n for n in sys.argv[2:] if not ents[n]["agree"]]
assert not bad, bad
PY
}

src_psql <<'SQL'
INSERT INTO owner VALUES (1, 'ann'), (2, 'bob');
INSERT INTO pet VALUES (10, 'rex', 1, NULL), (11, 'tom', 1, NULL), (12, 'kit', 2, 11);
INSERT INTO club VALUES (3, 'chess'), (4, 'go');
INSERT INTO member VALUES (13, 3, 'max'), (14, 4, 'fox');
INSERT INTO ord VALUES (1, 'first'), (2, 'second');
INSERT INTO cmt VALUES (10, 1, NULL, 'c10'), (11, 1, 10, 'c11 replies to c10'),
                       (12, 2, 11, 'c12, in order 2, replies to c11'), (13, 2, NULL, 'c13'),
                       (14, 2, 13, 'c14 replies to c13');
INSERT INTO note VALUES (100, 11, 'on c11'), (101, 12, 'on c12'), (102, 13, 'on c13');
INSERT INTO team VALUES (1, 'red');
INSERT INTO player VALUES (10, 1, 'pat');
INSERT INTO shop VALUES (1, 'one'), (2, 'two');
SQL
publish
sink_once
[ "$(tgt_psql -c 'SELECT count(*) FROM comments') $(tgt_psql -c 'SELECT count(*) FROM notes')" = "5 3" ] ||
  fail "initial load incomplete: $(tgt_psql -c 'SELECT error FROM ferry.errors')"
# Columns only the application writes, to be restored verbatim.
tgt_psql -c "UPDATE comments SET seen_at = '2024-05-06 07:08:09+00', tags = '{a,\"b c\"}' WHERE legacy_id IN (11, 12)"
# The rows without ferry's bookkeeping (comment 13 comes back newer), and
# the positions apart.
rows() { tgt_psql -c "SELECT string_agg((to_jsonb(x) - 'src_lsn')::text, E'\n' ORDER BY legacy_id) FROM $1 x"; }
positions() { [ -z "${PD_LSN:-}" ] || tgt_psql -c "SELECT string_agg(legacy_id || ':' || src_lsn, ' ' ORDER BY legacy_id) FROM $1 WHERE legacy_id <> 13"; }
comments_before=$(rows comments) notes_before=$(rows notes)
positions_before="$(positions comments) $(positions notes)"
shop1=$(tgt_psql -c "SELECT id FROM shops WHERE legacy_id = 1")
tgt_psql -c "INSERT INTO reviews VALUES (1, '$shop1')"
tgt_psql -c "INSERT INTO club_notes SELECT 1, id FROM clubs WHERE legacy_id = 4"

# --- The parents go, the children stay (no FK in the legacy database). ---
src_psql <<'SQL'
BEGIN; DELETE FROM pet WHERE id = 11; DELETE FROM owner WHERE id = 1; COMMIT;
DELETE FROM club WHERE id IN (3, 4);
DELETE FROM ord WHERE id = 1;
DELETE FROM cmt WHERE id = 13;
DELETE FROM team WHERE id = 1;
DELETE FROM shop WHERE id = 1;
SQL
publish
sink_once

# 1. null: the refs are NULL, the parents gone, the patches pending.
[ "$(tgt_psql -c 'SELECT string_agg(legacy_id::text, $$,$$ ORDER BY 1) FROM owners')" = 2 ] || fail "owner 1 not deleted"
got=$(tgt_psql -c "SELECT legacy_id, owner_id IS NULL, buddy_id IS NULL FROM pets ORDER BY 1" | tr '\n' ' ')
[ "$got" = "10|t|t 12|f|t " ] || fail "null: the pets' refs were not set to NULL: $got"
[ "$(tgt_psql -c "SELECT string_agg(col, ',' ORDER BY col) FROM ferry.deferred WHERE entity = 'pets'")" = "buddy_id,owner_id" ] ||
  fail "null: no pending patches: $(tgt_psql -c 'TABLE ferry.deferred')"
#    Clubs 3 and 4 went in one set; the application's note holds club 4:
#    its member keeps the ref, club 3's gets NULL.
[ "$(tgt_psql -c 'SELECT string_agg(legacy_id::text, $$,$$ ORDER BY 1) FROM clubs')" = 4 ] ||
  fail "club 3 not deleted, or club 4 deleted: $(tgt_psql -c 'SELECT legacy_id FROM clubs')"
got=$(tgt_psql -c "SELECT m.legacy_id, c.legacy_id FROM members m LEFT JOIN clubs c ON c.id = m.club_id ORDER BY 1" | tr '\n' ' ')
[ "$got" = "13| 14|4 " ] || fail "isolation: the members' refs: $got"
# 2. park: order 1 gone; its comments, the reply chain into order 2 and the
#    notes on them parked with their rows; comment 13 gone, its reply and
#    its note parked.
[ "$(tgt_psql -c 'SELECT string_agg(legacy_id::text, $$,$$ ORDER BY 1) FROM orders')" = 2 ] || fail "order 1 not deleted"
[ "$(tgt_psql -c 'SELECT count(*) FROM comments')" = 0 ] || fail "park: comments left: $(tgt_psql -c 'SELECT legacy_id FROM comments')"
[ "$(tgt_psql -c 'SELECT count(*) FROM notes')" = 0 ] || fail "park: notes left: $(tgt_psql -c 'SELECT legacy_id FROM notes')"
got=$(tgt_psql -c "SELECT string_agg(entity || ':' || legacy_key || ':' || missing_entity, ' ' ORDER BY entity, legacy_key) FROM ferry.parked WHERE kind = 'row' AND waits_for = 'parent'")
[ "$got" = "comments:10:orders comments:11:orders comments:12:comments comments:14:comments notes:100:comments notes:101:comments notes:102:comments" ] ||
  fail "park: parked rows: '$got' $(tgt_psql -c 'SELECT entity, legacy_key, kind, waits_for FROM ferry.parked')"
# 3. error: the delete is recorded, the team stays and its player with it.
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.errors WHERE entity = 'teams' AND legacy_key = '1' AND error LIKE '%foreign key%'")" = 1 ] ||
  fail "error: the delete was not recorded: $(tgt_psql -c 'SELECT entity, legacy_key, error FROM ferry.errors')"
[ "$(tgt_psql -c "SELECT count(*) FROM players p JOIN teams t ON t.id = p.team_id WHERE t.legacy_id = 1")" = 1 ] || fail "error: the team or its player went"
# 4. the application's review blocks shop 1's delete, its note club 4's:
#    recorded once, parked.
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.errors WHERE entity = 'shops' AND legacy_key = '1' AND error LIKE '%public.reviews%'")" = 1 ] ||
  fail "app table: not recorded with the table named: $(tgt_psql -c 'SELECT entity, legacy_key, error FROM ferry.errors')"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.parked WHERE entity = 'shops' AND waits_for = 'children' AND blocked_by = 'public.reviews' AND next_retry_at IS NOT NULL")" = 1 ] ||
  fail "app table: the delete is not parked as blocked: $(tgt_psql -c 'SELECT entity, legacy_key, waits_for, blocked_by, next_retry_at FROM ferry.parked')"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.errors WHERE entity = 'clubs' AND legacy_key = '4' AND error LIKE '%public.club_notes%'")" = 1 ] &&
  [ "$(tgt_psql -c "SELECT count(*) FROM ferry.parked WHERE entity = 'clubs' AND legacy_key = '4' AND blocked_by = 'public.club_notes'")" = 1 ] ||
  fail "club 4's blocked delete: $(tgt_psql -c 'SELECT entity, legacy_key, error FROM ferry.errors')"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.errors')" = 3 ] || fail "unexpected errors: $(tgt_psql -c 'SELECT entity, legacy_key, error FROM ferry.errors')"
validate_agrees owners pets orders comments notes
echo "parents deleted: null refs written NULL, park children parked with their descendants, error recorded, the blocked delete parked"

# --- The parents come back with the same keys. ---
src_psql <<'SQL'
INSERT INTO owner VALUES (1, 'ann again');
INSERT INTO pet VALUES (11, 'tom', 2, NULL);
INSERT INTO ord VALUES (1, 'first again');
INSERT INTO cmt VALUES (13, 2, NULL, 'c13');
SQL
publish
sink_once
got=$(tgt_psql -c "SELECT p.legacy_id, o.legacy_id, b.legacy_id FROM pets p LEFT JOIN owners o ON o.id = p.owner_id LEFT JOIN pets b ON b.id = p.buddy_id ORDER BY 1" | tr '\n' ' ')
[ "$got" = "10|1| 11|2| 12|2|11 " ] || fail "null: the refs were not filled in again: $got"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.deferred WHERE entity = 'pets'")" = 0 ] || fail "patches left: $(tgt_psql -c 'TABLE ferry.deferred')"
[ "$(rows comments)" = "$comments_before" ] || fail "park: comments differ from before: $(rows comments) vs $comments_before"
[ "$(rows notes)" = "$notes_before" ] || fail "park: notes differ from before: $(rows notes)"
[ "$(positions comments) $(positions notes)" = "$positions_before" ] ||
  fail "park: the rows came back at other positions: $(positions comments) $(positions notes) vs $positions_before"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.parked WHERE waits_for = 'parent'")" = 0 ] || fail "rows left parked"
validate_agrees owners pets orders comments notes
echo "parents back: refs filled in, parked children and descendants back as they were"

# --- 4. The blocked delete, retried with a backoff while both run. ---
ferry-cdc -c "$cfg" 2>>"$FERRY_TEST_TMP/cdc-bg.log" &
cdcpid=$!
track_pid "$cdcpid"
ferry-sink -c "$cfg" -v 2>>"$FERRY_TEST_TMP/sink-bg.log" &
sinkpid=$!
track_pid "$sinkpid"
# A source change a second: a batch a second.
touch_source() { src_psql -c "UPDATE shop SET name = name || '.' WHERE id = 2"; }
retries() { tgt_psql -c "SELECT retries || ' ' || extract(epoch FROM next_retry_at) FROM ferry.parked WHERE entity = 'shops'"; }
caught_up() { [ "$(src_psql -c 'SELECT name FROM shop WHERE id = 2')" = "$(tgt_psql -c 'SELECT name FROM shops WHERE legacy_id = 2')" ]; }
touch_source
wait_until 90 caught_up || fail "the streaming ferry-cdc and ferry-sink did not catch up"
touch_source; sleep 2; touch_source
first=$(retries)
for _ in $(seq 8); do touch_source; sleep 1; done
last=$(retries)
python3 - "$first" "$last" <<'PY' || fail "the backoff did not grow: first '$first', last '$last'"
import sys
(r1, t1), (r2, t2) = [map(float, s.split()) for s in sys.argv[1:3]]
# About ten batches in ten seconds: retried after 1, 2, 4, 8 s, not at each.
assert 2 <= r2 <= 5 and r2 > r1 and t2 >= t1 + 2, (r1, t1, r2, t2)
PY
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.errors WHERE entity = 'shops'")" = 1 ] ||
  fail "the blocked delete was recorded more than once: $(tgt_psql -c "SELECT at, error FROM ferry.errors WHERE entity = 'shops'")"
ferry-map validate -c "$cfg" --format json >"$FERRY_TEST_TMP/blocked.json" 2>/dev/null && fail "validate agrees while a delete is blocked"
python3 - "$FERRY_TEST_TMP/blocked.json" <<'PY' || fail "validate does not show the blocked delete: $(ferry-map validate -c "$cfg" 2>&1)"
import json, sys
r = json.load(open(sys.argv[1]))
shops = [e for e in r["entities"] if e["entity"] == "shops"][0]
assert shops["blocked"] == 1 and not shops["agree"], shops
row = [x for x in shops["rows"] if x["kind"] == "blocked"][0]
assert row["key"] == "1" and row["blocked_by"] == "public.reviews", row
PY
ferry-map validate -c "$cfg" >"$FERRY_TEST_TMP/blocked.txt" 2>&1 || true
grep -q "^shops .*DIFFER: 1 blocked" "$FERRY_TEST_TMP/blocked.txt" &&
  grep -q "blocked  *1  *blocked by: public.reviews" "$FERRY_TEST_TMP/blocked.txt" ||
  fail "validate's text does not name the blocking table: $(cat "$FERRY_TEST_TMP/blocked.txt")"

# The application drops its review: the next retry applies the delete.
tgt_psql -c "DELETE FROM reviews"
tgt_psql -c "DELETE FROM club_notes"
gone() { touch_source; [ "$(tgt_psql -c 'SELECT count(*) FROM shops WHERE legacy_id = 1') $(tgt_psql -c 'SELECT count(*) FROM clubs WHERE legacy_id = 4')" = "0 0" ]; }
wait_until 90 gone || fail "the blocked delete was not applied once the review was gone: $(retries)"
[ "$(tgt_psql -c 'SELECT count(*) FROM ferry.parked')" = 0 ] || fail "still parked: $(tgt_psql -c 'SELECT entity, legacy_key, waits_for FROM ferry.parked')"
[ "$(tgt_psql -c "SELECT count(*) FROM ferry.errors WHERE entity IN ('shops', 'clubs')")" = 2 ] || fail "recorded again"
# Club 4's delete, retried, gave its member the policy then.
[ "$(tgt_psql -c "SELECT club_id IS NULL FROM members WHERE legacy_id = 14")" = t ] || fail "member 14 still points at club 4"
kill "$cdcpid" "$sinkpid"; wait "$cdcpid" "$sinkpid" || true
publish; sink_once  # what the last loop changed
validate_agrees owners pets orders comments notes shops clubs members
echo "a delete blocked by an application table: recorded once, retried with a backoff, applied once free"
