#!/usr/bin/env bash
# Drives live changes on the legacy clinic database for the demo: inserts,
# updates and deletes across the graph, new orphans, and the parents that
# rescue them a moment later.
# deploy/examples/clinic/live.sh DSN SECONDS
#
# Each round is one transaction: a new office, a doctor in it, a patient and
# an order (parent and children together, as the legacy application writes
# them), a case and a comment on it, status and e-mail updates on existing
# rows, deletes of leaf rows (case states, notifications), and a message on
# the order of the *next* round: an orphan until that round creates its
# parent.  Prints one line at the end: the rounds run.
set -euo pipefail
dsn=${1:?usage: live.sh DSN SECONDS}
secs=${2:?usage: live.sh DSN SECONDS}
base=$(psql -qAtX -d "$dsn" -c "SELECT coalesce(max(id), 0) + 1000000 FROM dispatch_office")

gen() {
  local end=$((SECONDS + secs)) i=0
  while [ $SECONDS -lt "$end" ]; do
    local o=$((base + i))
    cat <<SQL
BEGIN;
INSERT INTO dispatch_office VALUES ($o, 'Live office $i', ' Lyon ', 'FR', NULL, 'A', now());
INSERT INTO dispatch_doctor VALUES ($o, NULL, $o, 'LIC-$i', 'ortho', now());
INSERT INTO dispatch_patient VALUES ($o, $o, 'Live', 'Patient $i', '1990-01-01', 'LIVE$i@Example.com', 'retired', 'retired', now());
INSERT INTO dispatch_instruction VALUES ($o, $o, $o, $o, NULL, NULL, 1, 120.50, 'live order', now());
INSERT INTO dispatch_instance VALUES ($o, $o, $o, $o, 'open', now());
INSERT INTO dispatch_comment VALUES ($o, $o, NULL, NULL, 'first comment', now());
INSERT INTO dispatch_record VALUES ($o, $((o + 1)), NULL, 'early message for the next order', now());
UPDATE dispatch_instruction SET status = status % 5 + 1
 WHERE id = (SELECT floor(random() * (SELECT max(id) FROM dispatch_instruction WHERE id < $base))::int + 1);
UPDATE dispatch_patient SET email = lower(email) WHERE id = (SELECT floor(random() * 500)::int + 1);
DELETE FROM dispatch_state WHERE id = (SELECT min(id) FROM dispatch_state);
DELETE FROM dispatch_notification WHERE id = (SELECT max(id) FROM dispatch_notification WHERE id < $base);
COMMIT;
SELECT pg_sleep(0.2);
SQL
    i=$((i + 1))
  done
  echo "SELECT 'rounds', $i;"
}

gen | psql -qAtX -v ON_ERROR_STOP=1 -d "$dsn" | grep '^rounds' | sed 's/|/ /'
