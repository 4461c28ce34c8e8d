#!/usr/bin/python3
"""A monitoring consumer of ferry's topics (python3-confluent-kafka).

monitor.py --brokers HOST:PORT --prefix PREFIX [--interval S] [--group G]
           [--from-beginning] [--idle-exit S] [--summary FILE]

Reads every entity topic (<prefix>.<schema>.<table>) and the transaction
topic, and every --interval seconds (default 5) prints the change events
per table and op, the source transactions completed (END records), and the
end-to-end delay of the last change (now minus its source commit time,
source.ts_ms).  Snapshot rows (op r) are counted but have no delay.
Tombstones are skipped: they are compaction's, not a change.  Ctrl-C (or
SIGTERM) stops it cleanly: it closes the consumer (leaving the group) and
prints the totals.  --idle-exit stops it after that many seconds with
nothing new; --summary writes the totals there as JSON.

The contract it relies on is docs/consumers.md and docs/schema/.
"""
import argparse
import json
import signal
import sys
import time
from collections import Counter

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException

CONTROL = ("transaction", "heartbeat", "snapshot", "schema", "dlq")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--group", default=None)
    ap.add_argument("--from-beginning", action="store_true")
    ap.add_argument("--idle-exit", type=float, default=0)
    ap.add_argument("--summary")
    a = ap.parse_args()

    stop = False

    def on_signal(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    c = Consumer({
        "bootstrap.servers": a.brokers,
        "group.id": a.group or f"ferry-monitor-{a.prefix}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        # New topics (a table mapped later) are picked up by the pattern.
        "topic.metadata.refresh.interval.ms": 5000,
    })

    def on_assign(consumer, parts):
        if a.from_beginning:
            for p in parts:
                p.offset = OFFSET_BEGINNING
        consumer.assign(parts)

    pfx = a.prefix.replace(".", "\\.")
    c.subscribe([f"^{pfx}\\..*"], on_assign=on_assign)
    changes, total = Counter(), Counter()
    txs = txs_total = 0
    delay = None
    last_print = last_new = time.monotonic()
    try:
        while not stop:
            m = c.poll(0.5)
            now = time.monotonic()
            if m is not None and m.error():
                if m.error().fatal():
                    raise KafkaException(m.error())
                print(f"monitor: {m.error()}", file=sys.stderr)
            elif m is not None:
                last_new = now
                rest = m.topic()[len(a.prefix) + 1:]
                if rest == "transaction":
                    v = json.loads(m.value())
                    if v["status"] == "END":
                        txs += 1
                        txs_total += 1
                elif rest not in CONTROL and m.value() is not None:
                    v = json.loads(m.value())
                    src = v["source"]
                    key = (f"{src['schema']}.{src['table']}", v["op"])
                    changes[key] += 1
                    total[key] += 1
                    if v["op"] != "r":
                        delay = time.time() - src["ts_ms"] / 1000.0
            if now - last_print >= a.interval:
                report(changes, txs, delay)
                changes.clear()
                txs = 0
                last_print = now
            if a.idle_exit and now - last_new >= a.idle_exit:
                break
    finally:
        c.close()
    print("totals:")
    report(total, txs_total, delay)
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump({"changes": {f"{t} {op}": n for (t, op), n in sorted(total.items())},
                       "transactions": txs_total}, f, indent=1, sort_keys=True)
    return 0


def report(changes, txs, delay):
    when = time.strftime("%H:%M:%S")
    d = "-" if delay is None else f"{delay * 1000:.0f} ms"
    print(f"{when}  {sum(changes.values())} changes, {txs} transactions, "
          f"last delay {d}", flush=True)
    for (table, op), n in sorted(changes.items()):
        print(f"    {table:40s} {op}  {n}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
