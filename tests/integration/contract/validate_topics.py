#!/usr/bin/python3
"""Validates every message of ferry's topics against docs/schema/.

validate_topics.py SCHEMA_DIR BROKERS PREFIX

Reads every topic whose name starts with PREFIX. from the beginning (with
python3-confluent-kafka) and checks each message's key and
value against the schema of its topic kind:
  PREFIX.transaction  transaction.key / transaction.value
  PREFIX.heartbeat    heartbeat.key / heartbeat.value
  PREFIX.snapshot     snapshot.key / snapshot.value
  PREFIX.schema       schema-change.key / schema-change.value
  PREFIX.dlq          dlq.value (the key is the failed message's, any bytes)
  any other           change.key / change.value, or tombstone.value when
                      the value is null
Prints the count per kind and op; exits 1 listing the first failures.
"""
import glob
import json
import os
import sys
from collections import Counter

import jsonschema
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

schema_dir, brokers, prefix = sys.argv[1:4]
store = {}
for f in glob.glob(os.path.join(schema_dir, "*.schema.json")):
    s = json.load(open(f))
    jsonschema.Draft202012Validator.check_schema(s)
    store[s["$id"]] = s
base = os.path.dirname(next(iter(store)))


def validator(name):
    s = store[f"{base}/{name}.schema.json"]
    return jsonschema.Draft202012Validator(
        s, resolver=jsonschema.RefResolver(base_uri=s["$id"], referrer=s, store=store))


V = {n: validator(n) for n in (
    "change.key", "change.value", "tombstone.value", "transaction.key",
    "transaction.value", "heartbeat.key", "heartbeat.value", "snapshot.key",
    "snapshot.value", "schema-change.key", "schema-change.value", "dlq.value")}
KINDS = {"transaction": "transaction", "heartbeat": "heartbeat",
         "snapshot": "snapshot", "schema": "schema-change", "dlq": "dlq"}

c = Consumer({"bootstrap.servers": brokers, "group.id": "ferry-contract",
              "enable.auto.commit": False, "enable.partition.eof": False})
md = c.list_topics(timeout=10)
topics = sorted(t for t in md.topics if t.startswith(prefix + "."))
parts = [(t, p) for t in topics for p in md.topics[t].partitions]
ends = {tp: c.get_watermark_offsets(TopicPartition(*tp), timeout=10)[1] for tp in parts}
c.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in parts])
counts, failures = Counter(), []


def check(name, doc, where):
    for e in sorted(V[name].iter_errors(doc), key=lambda e: list(e.path)):
        failures.append(f"{where}: {name}: {'/'.join(map(str, e.path))}: {e.message}")
        return


left = {tp: ends[tp] for tp in parts if ends[tp] > 0}
while left:
    m = c.poll(10)
    if m is None:
        break
    if m.error():
        failures.append(f"consumer error: {m.error()}")
        break
    tp = (m.topic(), m.partition())
    if m.offset() + 1 >= left.get(tp, 0):
        left.pop(tp, None)
    kind = KINDS.get(m.topic()[len(prefix) + 1:], "change")
    where = f"{m.topic()}[{m.partition()}]@{m.offset()}"
    try:
        key = None if m.key() is None else json.loads(m.key())
        val = None if m.value() is None else json.loads(m.value())
    except ValueError as e:
        if kind != "dlq" or m.value() is None:
            failures.append(f"{where}: not JSON: {e}")
            continue
        key, val = None, json.loads(m.value())
    if kind == "change":
        if val is None:
            check("tombstone.value", val, where)
            check("change.key", key, where)
            if key is None:
                failures.append(f"{where}: a tombstone without a key")
            counts["tombstone"] += 1
        else:
            check("change.key", key, where)
            check("change.value", val, where)
            counts[f"change op {val.get('op')} snapshot "
                   f"{val.get('source', {}).get('snapshot')}"] += 1
    elif kind == "dlq":
        check("dlq.value", val, where)
        counts["dlq"] += 1
    else:
        check(f"{kind}.key", key, where)
        check(f"{kind}.value", val, where)
        counts[kind] += 1
c.close()
for k in sorted(counts):
    print(f"{counts[k]:8d}  {k}")
if left:
    failures.append(f"not read to the end: {sorted(str(t) for t in left)[:5]}")
if failures:
    print(f"{len(failures)} message(s) do not validate; the first:", file=sys.stderr)
    for f in failures[:10]:
        print("  " + f, file=sys.stderr)
    sys.exit(1)
print(f"{sum(counts.values())} messages of {len(topics)} topics validate")
