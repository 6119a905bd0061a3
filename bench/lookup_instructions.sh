#!/usr/bin/env bash
# Server instructions per indexed point lookup, counted by callgrind: the figure behind the
# README's "per-request work" claims. Instruction counts do not move with the machine's load, so
# they show small changes that throughput on a shared VM hides.
#
# Usage: bench/lookup_instructions.sh [BINARY ...]
#   BINARY defaults to target/release/boltd; give several to compare them in one run.
# Environment: LOOKUPS_SECONDS (default 8) of lookups under callgrind, SESSIONS (default 8),
# NODES (default 20000).
#
# Each binary is started under `valgrind --tool=callgrind` with instrumentation off, with the WAL off
# and a fresh data directory. `boltd bench seed` (run by the first binary, natively) loads NODES
# :Person nodes with an index on id. Then instrumentation is switched on and `boltd bench query`
# runs `MATCH (p:Person {id: $id}) RETURN p.name` from SESSIONS sessions for LOOKUPS_SECONDS, and the
# counts are dumped. The figure is all instructions counted, divided by the lookups the load
# generator completed. That includes the Bolt framing, parsing (or the parse cache),
# execution and the reply.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
command -v callgrind_control >/dev/null || { echo "callgrind_control is needed (valgrind)" >&2; exit 1; }

bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=(target/release/boltd)
seconds=${LOOKUPS_SECONDS:-8}
nodes=${NODES:-20000}
sessions=${SESSIONS:-8}
load=${bins[0]}
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

for bin in "${bins[@]}"; do
  port=$(free_port)
  data="$work/data-$port"
  out="$work/callgrind-$port.out"
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
    "$bin" --bolt-address 127.0.0.1 --bolt-port "$port" --data-directory "$data" \
    --storage-wal-enabled=false --storage-snapshot-on-exit=false --bolt-num-workers 1 \
    >"$work/server-$port.log" 2>&1 &
  server=$!
  for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server-$port.log" >&2; exit 1; }
    sleep 0.2
  done
  "$load" bench seed --addr "127.0.0.1:$port" --rows "$nodes" --rels 0 --batch 1000 >/dev/null
  callgrind_control -i on "$server" >/dev/null 2>&1
  result=$("$load" bench query --addr "127.0.0.1:$port" --concurrency "$sessions" --warmup 0 \
    --duration "$seconds" --query 'MATCH (p:Person {id: $id}) RETURN p.name' \
    --param "id=rand:0..$nodes" --expect-records 1 | grep ' ops in ')
  # Dumped while still instrumenting: switching instrumentation off first discards the counts.
  callgrind_control -d "$server" >/dev/null 2>&1
  kill "$server"
  wait "$server" 2>/dev/null || true
  ops=$(sed -n 's/^[^:]*: \([0-9]*\) ops.*/\1/p' <<<"$result")
  failures=$(sed -n 's/.*failures \([0-9]*\).*/\1/p' <<<"$result")
  [ -n "$ops" ] && [ "$ops" -gt 0 ] || { echo "no lookups completed: $result" >&2; exit 1; }
  [ "${failures:-1}" = 0 ] || { echo "lookups failed: $result" >&2; exit 1; }
  # Every dump of the run (the explicit one, the one at exit) adds to the total.
  total=0
  for f in "$out"*; do
    n=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$f" | head -1)
    total=$((total + ${n:-0}))
  done
  echo "$bin: $ops lookups, $((total / ops)) instructions per lookup"
done
