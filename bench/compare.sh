#!/usr/bin/env bash
# Compares boltd's native TLS with terminating TLS in front of a plaintext boltd (nginx stream,
# HAProxy, stunnel) and with boltd in plaintext, on this machine, for RSA 2048 and ECDSA P-256.
# Servers are pinned to CPU 0 and the load generator to CPU 1 (when there are two CPUs); the
# contenders alternate within each round so that drift on a shared machine hits all alike. Prints
# a Markdown table and writes it to bench/results.md. Also runs `openssl speed` for each key type
# as the physical limit of one core.
#
# Usage: bench/compare.sh [ROUNDS] [SECONDS]      (defaults: 2 rounds of 3 s per measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
secs=${2:-3}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

missing=()
for pkg in nginx libnginx-mod-stream haproxy stunnel4; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cargo build --release --quiet
bin=$PWD/target/release/boltd

server_cpu=""; client_cpu=""
if [ "$(nproc)" -ge 2 ]; then server_cpu="taskset -c 0"; client_cpu="taskset -c 1"; fi

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

measure() { # measure LABEL PORT TLS MODE [extra bench args]
  local label=$1 port=$2 tls=$3 mode=$4; shift 4
  local flags=(--addr "127.0.0.1:$port" --duration "$secs" --warmup 1 --json)
  [ "$tls" = yes ] && flags+=(--tls)
  $client_cpu "$bin" bench "$mode" "${flags[@]}" "$@" | sed "s|^{|{\"contender\":\"$label\",|" >>"$work/results.jsonl"
}

for key in rsa2048 p256; do
  case $key in
    rsa2048) cert=fixtures/ssl/server.pem; keyf=fixtures/ssl/server.key ;;
    p256) cert=fixtures/ssl/ec.pem; keyf=fixtures/ssl/ec.key ;;
  esac
  cp "$cert" "$work/cert.pem"; cp "$keyf" "$work/key.pem"; chmod 600 "$work/key.pem"
  cat "$work/cert.pem" "$work/key.pem" >"$work/combined.pem"

  plain=$(free_port); native=$(free_port); ngx=$(free_port); hap=$(free_port); stn=$(free_port)
  $server_cpu "$bin" --bolt-address 127.0.0.1 --bolt-port "$plain" --bolt-num-workers 1 --log-level error \
    --data-directory "$work/data-plain" & pids+=($!)
  $server_cpu "$bin" --bolt-address 127.0.0.1 --bolt-port "$native" --bolt-num-workers 1 --log-level error \
    --data-directory "$work/data-native" --bolt-cert-file "$work/cert.pem" --bolt-key-file "$work/key.pem" & pids+=($!)
  cat >"$work/nginx.conf" <<NGX
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 20000; }
stream {
  server {
    listen 127.0.0.1:$ngx ssl;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    proxy_pass 127.0.0.1:$plain;
  }
}
NGX
  $server_cpu nginx -c "$work/nginx.conf" -g 'daemon off;' & pids+=($!)
  cat >"$work/haproxy.cfg" <<HAP
global
  nbthread 1
  maxconn 9000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend bolt
  bind 127.0.0.1:$hap ssl crt $work/combined.pem
  default_backend boltd
backend boltd
  server b1 127.0.0.1:$plain
HAP
  $server_cpu haproxy -f "$work/haproxy.cfg" & pids+=($!)
  cat >"$work/stunnel.conf" <<STN
foreground = yes
pid =
[bolt]
accept = 127.0.0.1:$stn
connect = 127.0.0.1:$plain
cert = $work/cert.pem
key = $work/key.pem
STN
  $server_cpu stunnel4 "$work/stunnel.conf" 2>/dev/null & pids+=($!)
  for p in $plain $native $ngx $hap $stn; do wait_port "$p"; done

  for round in $(seq "$rounds"); do
    for c in "boltd:$native:yes" "nginx:$ngx:yes" "haproxy:$hap:yes" "stunnel:$stn:yes" "boltd-plain:$plain:no"; do
      IFS=: read -r name port tls <<<"$c"
      label="$name/$key"
      if [ "$tls" = yes ]; then
        measure "$label" "$port" yes handshake --tls-version 1.3 --concurrency 8
        measure "$label" "$port" yes handshake --tls-version 1.2 --concurrency 8
      fi
      for n in 1 16 256; do measure "$label" "$port" "$tls" roundtrip --concurrency "$n"; done
    done
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pids=()
  sleep 0.5
done

speed_rsa=$(openssl speed -seconds 2 rsa2048 2>/dev/null | awk '/^rsa 2048/ {print $6}')
speed_ec=$(openssl speed -seconds 2 ecdsap256 2>/dev/null | awk '/256 bits ecdsa/ {print $7}')

# boltd alone: resumption, a connection storm with memory per connection, 1000 reloads under load
# with RSA 4096, and result streaming.
"$bin" cert generate --out "$work/r1" --key rsa4096 >/dev/null
"$bin" cert generate --out "$work/r2" --key rsa4096 >/dev/null
cp "$work/r1/cert.pem" "$work/cert.pem"; cp "$work/r1/key.pem" "$work/key.pem"
native=$(free_port); plain=$(free_port)
$server_cpu "$bin" --bolt-address 127.0.0.1 --bolt-port "$native" --bolt-num-workers 1 --log-level error \
  --data-directory "$work/data-solo" --bolt-cert-file "$work/cert.pem" --bolt-key-file "$work/key.pem" \
  --bolt-max-connections 20000 & native_pid=$!; pids+=($native_pid)
$server_cpu "$bin" --bolt-address 127.0.0.1 --bolt-port "$plain" --bolt-num-workers 1 --log-level error \
  --data-directory "$work/data-solo-plain" & pids+=($!)
wait_port "$native"; wait_port "$plain"
{
  for v in 1.3 1.2; do
    $client_cpu "$bin" bench resume --addr "127.0.0.1:$native" --tls --tls-version "$v" --concurrency 8 --duration "$secs" --warmup 1
  done
  $client_cpu "$bin" bench stream --addr "127.0.0.1:$native" --tls
  $client_cpu "$bin" bench stream --addr "127.0.0.1:$plain"
  $client_cpu "$bin" bench reload --addr "127.0.0.1:$native" --tls --concurrency 64 --reloads 1000 \
    --target "$work/cert.pem" "$work/key.pem" --pair-a "$work/r1/cert.pem" "$work/r1/key.pem" \
    --pair-b "$work/r2/cert.pem" "$work/r2/key.pem"
  $client_cpu "$bin" bench storm --addr "127.0.0.1:$native" --tls --count 10000 --concurrency 64 --server-pid "$native_pid"
} >"$work/solo.txt" 2>&1 || true

python3 - "$work/results.jsonl" "$speed_rsa" "$speed_ec" <<'PY' | tee bench/results.md
import json, statistics, sys, platform, os
rows = [json.loads(l) for l in open(sys.argv[1])]
speed = {"rsa2048": sys.argv[2], "p256": sys.argv[3]}
groups = {}
for r in rows:
    contender, key = r["contender"].split("/")
    tag = (key, r["mode"], r["tls_version"], r["concurrency"])
    groups.setdefault(tag, {}).setdefault(contender, []).append(r)
print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; servers on CPU 0, load on CPU 1.")
print()
print("| key | measure | boltd | nginx | haproxy | stunnel | boltd plaintext |")
print("|---|---|---|---|---|---|---|")
order = ["boltd", "nginx", "haproxy", "stunnel", "boltd-plain"]
for (key, mode, version, conc), by in sorted(groups.items()):
    def cell(name):
        rs = by.get(name)
        if not rs:
            return "–"
        ops = statistics.median(r["ops_per_second"] for r in rs)
        p99 = statistics.median(r["p99_us"] for r in rs)
        fails = sum(r["failures"] for r in rs)
        base = statistics.median(r["ops_per_second"] for r in by["boltd"]) if "boltd" in by else None
        ratio = f" ({ops / base:.2f}×)" if base and name != "boltd" else ""
        return f"{ops:,.0f}/s p99 {p99/1000:.2f} ms{ratio}" + (f" {fails} failed" if fails else "")
    label = f"full handshakes, TLS {version}" if mode == "handshake" else f"round trips, {conc} sessions"
    print(f"| {key} | {label} | " + " | ".join(cell(n) for n in order) + " |")
print()
print(f"openssl speed (one core): RSA 2048 {speed['rsa2048']} signs/s, ECDSA P-256 {speed['p256']} signs/s.")
PY
{ echo; echo "boltd alone (RSA 4096 for the reloads, RSA 4096 server for the rest):"; echo; echo '```'; cat "$work/solo.txt"; echo '```'; } | tee -a bench/results.md
