#!/usr/bin/python3
"""Progress of a ferry pipeline from its own metrics, for the demo.

deploy/demo-progress.py --sink HOST:PORT [--cdc HOST:PORT] [--expected N]
                        [--until ready|caught-up] [--interval S] [--timeout S]
                        [--pid PID]...

Every --interval seconds (default 2) it reads ferry-sink's /metrics and
/readyz (and ferry-cdc's, when given) and prints one line: rows applied
(out of --expected), the rate, an ETA, parked rows, errors, the lag and
what the sink is doing.  On a terminal the line updates in place; otherwise
it prints a plain line at most every 5 seconds.

--until ready      stops once ferry-sink's /readyz says ready (the
                   snapshot is applied and it streams) and, with
                   --expected, that many rows are applied, parked or
                   errors (or three readings in a row find no message
                   left to read);
--until caught-up  stops once ferry-sink is ready and no message waits;
--once             prints one plain line and stops.
When done it prints what the load cost: rows applied, the peak of parked
rows, rows drained (parked, then applied once their parent came: none when
the snapshot is applied in dependency order) and errors.
Exit status: 0 when the condition held, 1 on --timeout (default 3600) or
when a --pid has exited.  The figures are ferry's own: nothing is counted
in the databases.
"""
import argparse
import os
import sys
import time
import urllib.error
import urllib.request


def scrape(addr):
    """Returns {name: value summed over labels} from /metrics, or None."""
    try:
        with urllib.request.urlopen(f"http://{addr}/metrics", timeout=5) as r:
            text = r.read().decode()
    except (OSError, urllib.error.URLError):
        return None
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        try:
            out[name] = out.get(name, 0.0) + float(value)
        except ValueError:
            pass
    return out


def readyz(addr):
    try:
        with urllib.request.urlopen(f"http://{addr}/readyz", timeout=5) as r:
            return True, r.read().decode().strip()
    except urllib.error.HTTPError as e:
        return False, e.read().decode().strip()
    except (OSError, urllib.error.URLError) as e:
        return False, f"not answering ({e})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sink", required=True)
    ap.add_argument("--cdc")
    ap.add_argument("--expected", type=int, default=0)
    ap.add_argument("--until", choices=("ready", "caught-up"), default="ready")
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--timeout", type=float, default=3600.0)
    ap.add_argument("--pid", type=int, action="append", default=[])
    ap.add_argument("--once", action="store_true")
    a = ap.parse_args()
    tty = sys.stdout.isatty()
    t0 = time.monotonic()
    last_print = 0.0
    first = None
    peak = 0.0
    caught = 0
    while True:
        now = time.monotonic()
        m = scrape(a.sink) or {}
        ok, why = readyz(a.sink)
        rows = m.get("ferry_sink_rows_total", 0.0)
        peak = max(peak, m.get("ferry_sink_parked_rows", 0.0))
        if first is None and m:
            first = (now, rows)
        rate = 0.0
        if first is not None and now > first[0]:
            rate = (rows - first[1]) / (now - first[0])
        eta = ""
        if a.expected and rate > 0 and rows < a.expected:
            eta = f" | ETA {(a.expected - rows) / rate:.0f} s"
        applied = f"{rows:,.0f}" + (f" / {a.expected:,}" if a.expected else "")
        # One reading (--once) has no rate.
        rate_txt = "" if a.once else f" | {rate:,.0f} rows/s{eta}"
        line = (f"   applied {applied} rows{rate_txt} | "
                f"parked {m.get('ferry_sink_parked_rows', 0):,.0f} | "
                f"errors {m.get('ferry_sink_errors_total', 0):,.0f} | "
                f"lag {m.get('ferry_sink_lag_seconds', 0):.1f} s, "
                f"{m.get('ferry_sink_consumer_lag_messages', 0):,.0f} msgs")
        if a.cdc:
            c = scrape(a.cdc) or {}
            line += (f" | cdc snapshot {c.get('ferry_cdc_snapshot_rows_total', 0):,.0f}"
                     f" rows, {c.get('ferry_cdc_events_total', 0):,.0f} events")
        line += " | " + ("streaming" if ok else why)
        # Every expected row accounted for (applied, parked or an error),
        # or nothing left to read three times in a row (rows the mapping
        # leaves out, or stale ones, are never counted).
        held = (rows + m.get("ferry_sink_parked_rows", 0.0) +
                m.get("ferry_sink_errors_total", 0.0))
        caught = caught + 1 if ok and m and m.get(
            "ferry_sink_consumer_lag_messages", 1) == 0 else 0
        done = ok and (not a.expected or held >= a.expected or caught >= 3) and (
            a.until == "ready" or
            m.get("ferry_sink_consumer_lag_messages", 1) == 0)
        if a.once:
            print(line, flush=True)
            return 0
        if tty:
            sys.stdout.write("\r\033[K" + line[:os.get_terminal_size().columns - 1])
            sys.stdout.flush()
        elif done or now - last_print >= 5:
            print(line, flush=True)
            last_print = now
        if done:
            if tty:
                print()
            print(f"   load done: {rows:,.0f} rows applied in {now - t0:.1f} s, "
                  f"peak parked {peak:.0f}, "
                  f"parked now {m.get('ferry_sink_parked_rows', 0):.0f}, "
                  f"drained {m.get('ferry_sink_drained_rows_total', 0):.0f}, "
                  f"errors {m.get('ferry_sink_errors_total', 0):.0f}",
                  flush=True)
            return 0
        for pid in a.pid:
            try:
                os.kill(pid, 0)
            except OSError:
                if tty:
                    print()
                print(f"demo-progress: process {pid} has exited", file=sys.stderr)
                return 1
        if now - t0 > a.timeout:
            if tty:
                print()
            print(f"demo-progress: not done after {a.timeout:.0f} s: {why}",
                  file=sys.stderr)
            return 1
        time.sleep(a.interval)


if __name__ == "__main__":
    sys.exit(main())
