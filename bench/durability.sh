#!/usr/bin/env bash
# What durability costs and how fast it recovers, on this machine:
#
# 1. Commit throughput (`boltd bench commits`, auto-commit `CREATE (:C {i: $i})`) at 1 and 16
#    sessions for three servers: WAL off (--storage-wal-enabled=false), WAL synced before every
#    acknowledgement (the default), and WAL synced every 1000 commits
#    (--storage-wal-file-flush-every-n-tx=1000). Each measurement starts a server on a fresh data
#    directory; the contenders alternate within each round (the order reverses every other round)
#    so that drift on a shared machine hits all alike.
# 2. A bulk load (`boltd bench bulk`: NODES nodes, an index, RELS relationships in transactions of
#    100,000) with the WAL off and on; then, with the WAL on, kill -9 and recovery from the WAL
#    alone (no snapshot exists yet); then CREATE SNAPSHOT (`boltd bench snapshot`: seconds, bytes),
#    kill -9 and recovery from the snapshot (with the WAL off too). Recovery is timed from the
#    server's "recovered the graph" log line (reading and applying the files) and from process
#    start to the Bolt port accepting connections (which adds building the indexes); peak memory
#    is VmHWM of the recovering process, compared with the RSS of the server that loaded the graph.
#
# The server runs with one Bolt worker pinned to CPU 0 and the load generator on CPU 1 (when there
# are two CPUs), as in bench/compare.sh. Data directories are made under $TMPDIR (default /tmp):
# point it at the disk to measure. Prints a Markdown table and writes bench/results-durability.md
# (and the raw figures, one JSON object a line, to bench/results-durability.jsonl).
#
# Usage: bench/durability.sh [ROUNDS] [SECONDS]      (defaults: 2 rounds of 3 s per measurement)
#        NODES=100000 RELS=400000 bench/durability.sh 1 2      (a quick check)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
secs=${2:-3}
nodes=${NODES:-1000000}
rels=${RELS:-4000000}

cargo build --release --quiet
bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/boltd")

server_cpu=""; client_cpu=""
if [ "$(nproc)" -ge 2 ]; then server_cpu="taskset -c 0"; client_cpu="taskset -c 1"; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/boltd-durability.XXXXXX")
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; sleep 0.2; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Polls every 20 ms, for up to 10 minutes (recovering a large graph takes a while).
wait_port() { for _ in $(seq 30000); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.02; done; echo "port $1 never opened" >&2; return 1; }
now() { date +%s.%N; }
status() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; } # status PID VmRSS -> KiB

# start LOG DIR [server flags]: a server on DIR, logging to LOG; sets pid, port and opened (the
# seconds from process start to the port accepting connections).
start() {
  local log=$1 dir=$2; shift 2
  port=$(free_port)
  local t0; t0=$(now)
  $server_cpu "$bin" --bolt-address 127.0.0.1 --bolt-port "$port" --bolt-num-workers 1 \
    --log-level info --data-directory "$dir" --storage-snapshot-interval-sec 0 "$@" >"$log" 2>&1 &
  pid=$!
  wait_port "$port"
  opened=$(python3 -c "print($(now) - $t0)")
}
stop() { kill "$1" "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

# bench CONTENDER MODE [bench flags]: one `boltd bench` run, its JSON tagged and kept.
bench() {
  local label=$1 mode=$2; shift 2
  $client_cpu "$bin" bench "$mode" --addr "127.0.0.1:$port" --json "$@" \
    | sed "s|^{|{\"contender\":\"$label\",|" | tee -a "$work/results.jsonl"
}

wal_flags() {
  case $1 in
    wal-off) echo --storage-wal-enabled=false ;;
    wal-every-commit) echo --storage-wal-enabled=true ;;
    wal-every-1000) echo --storage-wal-enabled=true --storage-wal-file-flush-every-n-tx=1000 ;;
  esac
}

# 1. Commits per second.
contenders=(wal-off wal-every-commit wal-every-1000)
for round in $(seq "$rounds"); do
  order=("${contenders[@]}")
  if [ $((round % 2)) -eq 0 ]; then order=(wal-every-1000 wal-every-commit wal-off); fi
  for c in "${order[@]}"; do
    for n in 1 16; do
      rm -rf "$work/data"
      # shellcheck disable=SC2046
      start "$work/commits.log" "$work/data" $(wal_flags "$c") --storage-snapshot-on-exit=false
      bench "$c" commits --concurrency "$n" --duration "$secs" --warmup 1
      stop -TERM
    done
  done
done

# recovered LABEL LOG LOADED_RSS: the recovery figures of the server just started.
recovered() {
  local line hwm rss
  # The log is written by a background thread: give it a moment after the port opened.
  for _ in $(seq 50); do grep -q 'recovered the graph' "$2" && break; sleep 0.02; done
  line=$(grep -m1 'recovered the graph' "$2" || true)
  hwm=$(status "$pid" VmHWM); rss=$(status "$pid" VmRSS)
  python3 - "$1" "$line" "$opened" "$hwm" "$rss" "$3" "$nodes" "$rels" <<'PY' | tee -a "$work/results.jsonl"
import json, re, sys
label, line, opened, hwm, rss, loaded, nodes, rels = sys.argv[1:]
field = lambda k: (re.search(rf"\b{k}: ([0-9.e+-]+)", line) or [None, "nan"])[1]
print(json.dumps({"contender": label, "mode": "recovery", "log_seconds": float(field("seconds")),
                  "wal_records": float(field("wal_records")), "open_seconds": float(opened),
                  "hwm_kib": int(hwm), "rss_kib": int(rss), "loaded_rss_kib": int(loaded),
                  "graph_records": int(nodes) + int(rels)}))
PY
}

# 2. Bulk load, snapshot, recovery.
for c in wal-off wal-every-commit; do
  dir="$work/bulk-$c"
  rm -rf "$dir"
  # shellcheck disable=SC2046
  flags=($(wal_flags "$c") --storage-snapshot-on-exit=false)
  start "$work/$c-load.log" "$dir" "${flags[@]}"
  empty=$(status "$pid" VmRSS)
  echo "{\"contender\":\"$c\",\"mode\":\"empty\",\"rss_kib\":$empty}" >>"$work/results.jsonl"
  bench "$c" bulk --rows "$nodes" --rels "$rels" --batch 100000
  loaded=$(status "$pid" VmRSS)
  echo "{\"contender\":\"$c\",\"mode\":\"loaded\",\"rss_kib\":$loaded}" >>"$work/results.jsonl"
  if [ "$c" != wal-off ]; then
    stop -9
    start "$work/$c-wal.log" "$dir" "${flags[@]}"
    recovered "$c/wal" "$work/$c-wal.log" "$loaded"
  fi
  bench "$c" snapshot
  stop -9
  start "$work/$c-snap.log" "$dir" "${flags[@]}"
  recovered "$c/snapshot" "$work/$c-snap.log" "$loaded"
  stop -9
done

# The raw figures too, so that a failed report loses nothing.
cp "$work/results.jsonl" bench/results-durability.jsonl
python3 - "$work/results.jsonl" "$rounds" "$secs" "${TMPDIR:-/tmp}" <<'PY' | tee bench/results-durability.md
import json, os, platform, statistics, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rounds, secs, tmp = sys.argv[2], sys.argv[3], sys.argv[4]
def cpu():
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            return l.split(":", 1)[1].strip()
    return platform.machine()
fs = (subprocess.run(["df", "--output=fstype", tmp], capture_output=True, text=True).stdout.split() or ["?"])[-1]
mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
print(f"Machine: {cpu()}, {os.cpu_count()} CPUs, {mem:.0f} GiB, {platform.platform()}; data directories on {fs}; "
      f"server (one Bolt worker) on CPU 0, load on CPU 1; {rounds} rounds of {secs} s per commit measurement (medians).")
print()
names = {"wal-off": "WAL off", "wal-every-commit": "WAL, sync every commit (default)",
         "wal-every-1000": "WAL, sync every 1000 commits"}
commits = {}
for r in rows:
    if r.get("mode") == "commits":
        commits.setdefault((r["contender"], r["concurrency"]), []).append(r)
med = lambda rs, k: statistics.median(r[k] for r in rs)
print("| commits (`CREATE (:C {i: $i})`, auto-commit) | 1 session | 16 sessions |")
print("|---|---|---|")
for c in ["wal-off", "wal-every-commit", "wal-every-1000"]:
    cells = []
    for n in (1, 16):
        rs = commits.get((c, n), [])
        if not rs:
            cells.append("–"); continue
        ops, base = med(rs, "ops_per_second"), commits.get(("wal-off", n))
        ratio = f" ({ops / med(base, 'ops_per_second'):.2f}× WAL off)" if base and c != "wal-off" else ""
        fails = sum(r["failures"] for r in rs)
        cells.append(f"{ops:,.0f}/s, p50 {med(rs, 'p50_us') / 1000:.2f} ms, p99 {med(rs, 'p99_us') / 1000:.2f} ms{ratio}"
                     + (f", {fails} failed" if fails else ""))
    print(f"| {names[c]} | " + " | ".join(cells) + " |")
print()
by = {(r["contender"], r["mode"]): r for r in rows if r.get("mode") != "commits"}
print("| bulk load and recovery | WAL off | WAL on (sync every commit) |")
print("|---|---|---|")
def line(label, f):
    cells = []
    for c in ["wal-off", "wal-every-commit"]:
        try:
            cells.append(f(c))
        except (KeyError, TypeError, ZeroDivisionError):
            cells.append("–")
    print(f"| {label} | " + " | ".join(cells) + " |")
b = lambda c: by[(c, "bulk")]
line("nodes (one transaction)", lambda c: f"{b(c)['nodes']:,.0f} in {b(c)['node_load_seconds']:.2f} s ({b(c)['nodes_per_second']:,.0f}/s)")
line("index on :N(id)", lambda c: f"{b(c)['index_build_seconds']:.2f} s")
line("relationships (batches of 100,000)", lambda c: f"{b(c)['relationships']:,.0f} in {b(c)['relationship_load_seconds']:.2f} s ({b(c)['relationships_per_second']:,.0f}/s)")
line("server RSS: empty, loaded", lambda c: f"{by[(c, 'empty')]['rss_kib'] / 1024:,.0f} MiB, {by[(c, 'loaded')]['rss_kib'] / 1024:,.0f} MiB")
s = lambda c: by[(c, "snapshot")]
line("CREATE SNAPSHOT", lambda c: f"{s(c)['snapshot_seconds']:.2f} s, {s(c)['snapshot_bytes'] / 2**20:,.0f} MiB")
for kind, label in [("wal", "recovery from the WAL alone (kill -9)"), ("snapshot", "recovery from the snapshot (kill -9)")]:
    def rec(c, kind=kind):
        r = by[(f"{c}/{kind}", "recovery")]
        rate = r["graph_records"] / r["log_seconds"]
        return (f"{r['log_seconds']:.2f} s = {rate:,.0f} nodes+rels/s ({r['wal_records']:.0f} WAL records); "
                f"port open after {r['open_seconds']:.2f} s; peak RSS {r['hwm_kib'] / 1024:,.0f} MiB "
                f"({r['hwm_kib'] / r['loaded_rss_kib']:.2f}× loaded), after {r['rss_kib'] / 1024:,.0f} MiB")
    line(label, rec)
print()
# The goals of the durability work.
def goal(text, ok):
    print(f"- {text}: {'met' if ok else 'NOT met'}")
try:
    off, on = med(commits[("wal-off", 16)], "ops_per_second"), med(commits[("wal-every-commit", 16)], "ops_per_second")
    goal(f"16 sessions, sync every commit ≥ half of WAL off ({on:,.0f}/s vs {off:,.0f}/s = {on / off:.2f})", on >= off / 2)
except KeyError:
    pass
for kind in ["wal", "snapshot"]:
    r = by.get((f"wal-every-commit/{kind}", "recovery"))
    if r:
        rate = r["graph_records"] / r["log_seconds"]
        open_rate = r["graph_records"] / r["open_seconds"]
        goal(f"recovery from the {'WAL' if kind == 'wal' else 'snapshot'} ≥ 1,000,000 records/s "
             f"({rate:,.0f}/s by the log line, {open_rate:,.0f}/s to port open)", rate >= 1e6)
        goal(f"peak memory recovering from the {'WAL' if kind == 'wal' else 'snapshot'} ≤ 2× the loaded graph's "
             f"({r['hwm_kib'] / r['loaded_rss_kib']:.2f}×)", r["hwm_kib"] <= 2 * r["loaded_rss_kib"])
PY
