#!/usr/bin/env bash
# Before/after: measures two boltd binaries on this machine in one run, alternating them within
# each round so that drift on a shared machine hits both alike. Workloads: Bolt round trips at 16
# sessions over TLS and in plaintext, and indexed point lookups from 8 sessions (`boltd bench
# graph`, fresh server each time). The server is pinned to CPU 0 with one worker and the load
# generator to CPU 1 (when there are two CPUs). The load generator is the same for both servers
# (AFTER_BIN's `boltd bench`, or BENCH_BIN if set), so only the server differs. Prints one line
# per measurement and, per workload, the median of each binary with the ratio after/before.
#
# Usage: bench/ab.sh BEFORE_BIN AFTER_BIN [ROUNDS] [SECONDS]   (defaults: 3 rounds, 5 s)
set -euo pipefail
cd "$(dirname "$0")/.."
before=$1 after=$2 rounds=${3:-3} secs=${4:-5}
load=${BENCH_BIN:-$after}

server_cpu=""; client_cpu=""
if [ "$(nproc)" -ge 2 ]; then server_cpu="taskset -c 0"; client_cpu="taskset -c 1"; fi
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 0.2; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

run() { # run LABEL BIN WORKLOAD
  local label=$1 bin=$2 workload=$3 port tls=() bench=()
  port=$(free_port)
  case $workload in
    roundtrip-tls) tls=(--bolt-cert-file fixtures/ssl/server.pem --bolt-key-file fixtures/ssl/server.key)
                   bench=(roundtrip --tls --concurrency 16) ;;
    roundtrip-plain) bench=(roundtrip --concurrency 16) ;;
    lookups) bench=(graph --concurrency 8 --rows 200000 --hop-nodes 10000) ;;
  esac
  rm -rf "$work/data"
  $server_cpu "$bin" --bolt-address 127.0.0.1 --bolt-port "$port" --bolt-num-workers 1 \
    --log-level error --data-directory "$work/data" "${tls[@]}" & pid=$!
  wait_port "$port"
  local line
  line=$($client_cpu "$load" bench "${bench[@]}" --addr "127.0.0.1:$port" --duration "$secs" --warmup 1 | head -1)
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  local rate
  rate=$(sed -n 's/.* = \([0-9]*\)\/s.*/\1/p' <<<"$line")
  echo "$workload $label $rate   ($line)"
  echo "$workload $label $rate" >>"$work/results"
}

for r in $(seq "$rounds"); do
  for w in roundtrip-tls roundtrip-plain lookups; do
    if [ $((r % 2)) -eq 1 ]; then run before "$before" "$w"; run after "$after" "$w"
    else run after "$after" "$w"; run before "$before" "$w"; fi
  done
done

echo
echo "| workload | before (median/s) | after (median/s) | after/before |"
echo "|---|---|---|---|"
for w in roundtrip-tls roundtrip-plain lookups; do
  b=$(awk -v w="$w" '$1==w && $2=="before" {print $3}' "$work/results" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  a=$(awk -v w="$w" '$1==w && $2=="after" {print $3}' "$work/results" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "| $w | $b | $a | $(python3 -c "print(f'{$a/$b:.2f}')") |"
done
