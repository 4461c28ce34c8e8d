# ferry-devbroker is usable by hand: with a bootstrap file, kcat -L lists its
# brokers and pre-created topics; "down"/"up" on the control FIFO take a broker
# away and bring it back.
start_devbroker "$FERRY_TEST_TMP/db" --brokers 3 --topic pre.made:6
kcat -L -b "$DEV_BROKERS" -m 5 >"$FERRY_TEST_TMP/meta.txt" || fail "kcat -L failed"
grep -q "3 brokers:" "$FERRY_TEST_TMP/meta.txt" || fail "kcat -L does not list 3 brokers: $(cat "$FERRY_TEST_TMP/meta.txt")"
grep -q 'topic "pre.made" with 6 partitions' "$FERRY_TEST_TMP/meta.txt" ||
  fail "pre-created topic missing: $(cat "$FERRY_TEST_TMP/meta.txt")"

# Every broker down: a client cannot reach the cluster.
echo "down all" >"$DEV_CONTROL"
wait_until 10 grep -q "control: down all -> ok" "$FERRY_TEST_TMP/db/devbroker.log" ||
  fail "control command not acknowledged"
if kcat -L -b "$DEV_BROKERS" -m 3 >/dev/null 2>&1; then
  fail "kcat reached the cluster while every broker was down"
fi

# Back up: the same ports answer again and produce/consume works.
echo "up all" >"$DEV_CONTROL"
wait_until 10 kcat -L -b "$DEV_BROKERS" -m 3 || fail "brokers did not come back"
printf 'one\ntwo\n' | kcat -P -b "$DEV_BROKERS" -t pre.made -p 0 || fail "produce failed"
[ "$(kcat -C -b "$DEV_BROKERS" -t pre.made -p 0 -o beginning -e -q | wc -l)" -eq 2 ] ||
  fail "did not read back two messages"

# A bad command is refused with a reason, and the broker keeps running.
echo "down 9" >"$DEV_CONTROL"
wait_until 10 grep -q "control: down 9 -> error: usage" "$FERRY_TEST_TMP/db/devbroker.log" ||
  fail "bad command not refused: $(tail -3 "$FERRY_TEST_TMP/db/devbroker.log")"
kcat -L -b "$DEV_BROKERS" -m 3 >/dev/null || fail "broker died after a bad command"
echo "devbroker by hand: ok"
