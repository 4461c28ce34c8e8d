// A monitoring consumer of ferry's topics, with kafkajs.
// deploy/examples/monitor/ts/src/monitor.ts
//
//   node dist/monitor.js --brokers HOST:PORT --prefix PREFIX [--interval S]
//        [--group G] [--from-beginning] [--idle-exit S] [--summary FILE]
//
// Reads every entity topic (<prefix>.<schema>.<table>) and the transaction
// topic; every --interval seconds (default 5) prints the change events per
// table and op, the source transactions completed (END records) and the
// end-to-end delay of the last change (now minus source.ts_ms, its commit
// time).  Snapshot rows (op r) are counted without a delay; tombstones are
// skipped.  SIGINT or SIGTERM disconnects cleanly (leaving the group) and
// prints the totals.  The same as ../monitor.py; the contract is
// docs/consumers.md, the types (envelope.ts) come from docs/schema/.
// kafkajs reads gzip; for lz4 or zstd topics register a codec
// (CompressionCodecs) first.
import { writeFileSync } from "fs";
import { Kafka, logLevel } from "kafkajs";
import type { ChangeEvent, TransactionEvent } from "./envelope";

interface Options {
  brokers: string;
  prefix: string;
  interval: number;
  group: string;
  fromBeginning: boolean;
  idleExit: number;
  summary?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Partial<Options> = { interval: 5, fromBeginning: false, idleExit: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--brokers") o.brokers = next();
    else if (a === "--prefix") o.prefix = next();
    else if (a === "--interval") o.interval = Number(next());
    else if (a === "--group") o.group = next();
    else if (a === "--from-beginning") o.fromBeginning = true;
    else if (a === "--idle-exit") o.idleExit = Number(next());
    else if (a === "--summary") o.summary = next();
    else throw new Error(`unknown option ${a}`);
  }
  if (!o.brokers || !o.prefix) throw new Error("usage: monitor --brokers HOST:PORT --prefix PREFIX");
  return { group: `ferry-monitor-ts-${o.prefix}`, ...o } as Options;
}

const CONTROL = new Set(["transaction", "heartbeat", "snapshot", "schema", "dlq"]);

function report(changes: Map<string, number>, txs: number, delayMs: number | null): void {
  let n = 0;
  for (const v of changes.values()) n += v;
  const d = delayMs === null ? "-" : `${Math.round(delayMs)} ms`;
  console.log(`${new Date().toISOString().slice(11, 19)}  ${n} changes, ${txs} transactions, last delay ${d}`);
  for (const k of [...changes.keys()].sort()) {
    const [table, op] = k.split(" ");
    console.log(`    ${(table ?? "").padEnd(40)} ${op}  ${changes.get(k)}`);
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const kafka = new Kafka({ clientId: "ferry-monitor", brokers: o.brokers.split(","), logLevel: logLevel.WARN });
  const consumer = kafka.consumer({ groupId: o.group, metadataMaxAge: 5000 });
  const changes = new Map<string, number>();
  const total = new Map<string, number>();
  let txs = 0;
  let txsTotal = 0;
  let delayMs: number | null = null;
  let lastNew = Date.now();
  const escaped = o.prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

  await consumer.connect();
  await consumer.subscribe({ topics: [new RegExp(`^${escaped}\\..*`)], fromBeginning: o.fromBeginning });
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      lastNew = Date.now();
      const rest = topic.slice(o.prefix.length + 1);
      if (message.value === null) return; // a tombstone
      if (rest === "transaction") {
        const t = JSON.parse(message.value.toString()) as TransactionEvent;
        if (t.status === "END") {
          txs++;
          txsTotal++;
        }
        return;
      }
      if (CONTROL.has(rest)) return;
      const ev = JSON.parse(message.value.toString()) as ChangeEvent;
      const k = `${ev.source.schema}.${ev.source.table} ${ev.op}`;
      changes.set(k, (changes.get(k) ?? 0) + 1);
      total.set(k, (total.get(k) ?? 0) + 1);
      if (ev.op !== "r") delayMs = Date.now() - ev.source.ts_ms;
    },
  });

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    await consumer.disconnect();
    console.log("totals:");
    report(total, txsTotal, delayMs);
    if (o.summary) {
      const out: Record<string, number> = {};
      for (const k of [...total.keys()].sort()) out[k] = total.get(k) ?? 0;
      writeFileSync(o.summary, JSON.stringify({ changes: out, transactions: txsTotal }, null, 1));
    }
    process.exit(0);
  };
  const timer = setInterval(() => {
    report(changes, txs, delayMs);
    changes.clear();
    txs = 0;
    if (o.idleExit > 0 && Date.now() - lastNew >= o.idleExit * 1000) void stop();
  }, o.interval * 1000);
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}

main().catch((e: unknown) => {
  console.error(`monitor: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
