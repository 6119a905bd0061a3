#!/usr/bin/env python3
"""Server CPU per full TLS handshake: boltd's native TLS against nginx (stream) and HAProxy with
the same certificate, for RSA 2048 and ECDSA P-256.

Throughput does not answer this question here: with two cores, the load generator's own half of
each handshake (key exchange, signature checks) is the bottleneck, so every server looks alike.
What differs is how much CPU each server burns per handshake, which is read from the kernel's
per-thread run time (`/proc/PID/task/*/schedstat`, nanoseconds) of every process of the server,
before and after a run of `boltd bench handshake`.

Every server is pinned to CPU 0 and the load generator to CPU 1. Contenders alternate within each
round, so that drift on a shared machine hits all alike; the table shows medians over rounds and
ratios against boltd.

nginx runs twice: proxying to a plaintext boltd (`nginx`, as in bench/compare.sh: after the
handshake it also connects upstream) and terminating only (`nginx-return`: the stream `return`
directive, no upstream), which is the least work a TLS server can do per connection.

Usage: BOLTD_BIN=target/release/boltd python3 bench/handshake_cpu.py [--rounds N] [--seconds S]
           [--concurrency C] [--versions 1.3,1.2] [--keys rsa2048,p256] [--only boltd,nginx]
           [--also before=/path/to/older/boltd]
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ports import free_port, wait_for  # noqa: E402
from procstat import cpu_ns, pinned, switches  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = {
    "rsa2048": ("fixtures/ssl/server.pem", "fixtures/ssl/server.key"),
    "p256": ("fixtures/ssl/ec.pem", "fixtures/ssl/ec.key"),
}
class Contender:
    def __init__(self, name, port, procs):
        self.name, self.port, self.procs = name, port, procs

    def pids(self):
        return [p.pid for p in self.procs]


def start(work, key, boltd, log_level, also):
    cert, keyf = KEYS[key]
    d = os.path.join(work, key)
    os.makedirs(d)
    shutil.copy(os.path.join(ROOT, cert), f"{d}/cert.pem")
    shutil.copy(os.path.join(ROOT, keyf), f"{d}/key.pem")
    os.chmod(f"{d}/key.pem", 0o600)
    with open(f"{d}/combined.pem", "w") as out:
        out.write(open(f"{d}/cert.pem").read() + open(f"{d}/key.pem").read())
    log = open(f"{d}/servers.log", "w")
    out = []
    plain, native = free_port(), free_port()
    common = ["--bolt-address", "127.0.0.1", "--bolt-num-workers", "1", "--log-level", log_level]
    upstream = subprocess.Popen(
        pinned(0, [boltd, "--bolt-port", str(plain), *common, "--data-directory", f"{d}/plain"]),
        stdout=log, stderr=log)
    server = subprocess.Popen(
        pinned(0, [boltd, "--bolt-port", str(native), *common, "--data-directory", f"{d}/native",
                   "--bolt-cert-file", f"{d}/cert.pem", "--bolt-key-file", f"{d}/key.pem"]),
        stdout=log, stderr=log)
    out.append(Contender("boltd", native, [server]))
    procs_to_stop = [upstream, server]
    for name, binary in also:
        port = free_port()
        p = subprocess.Popen(
            pinned(0, [binary, "--bolt-port", str(port), *common, "--data-directory", f"{d}/{name}",
                       "--bolt-cert-file", f"{d}/cert.pem", "--bolt-key-file", f"{d}/key.pem"]),
            stdout=log, stderr=log)
        out.append(Contender(name, port, [p]))
        procs_to_stop.append(p)

    if shutil.which("nginx"):
        for name, body in (("nginx", f"proxy_pass 127.0.0.1:{plain};"), ("nginx-return", 'return "";')):
            port = free_port()
            conf = f"{d}/{name}.conf"
            with open(conf, "w") as f:
                f.write(f"""load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
pid {d}/{name}.pid;
error_log {d}/{name}.err;
events {{ worker_connections 20000; }}
stream {{
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {d}/cert.pem;
    ssl_certificate_key {d}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    {body}
  }}
}}
""")
            p = subprocess.Popen(pinned(0, ["nginx", "-c", conf, "-g", "daemon off;"]), stdout=log, stderr=log)
            out.append(Contender(name, port, [p]))
            procs_to_stop.append(p)
    if shutil.which("haproxy"):
        port = free_port()
        conf = f"{d}/haproxy.cfg"
        with open(conf, "w") as f:
            f.write(f"""global
  nbthread 1
  maxconn 9000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend bolt
  bind 127.0.0.1:{port} ssl crt {d}/combined.pem
  default_backend boltd
backend boltd
  server b1 127.0.0.1:{plain}
""")
        p = subprocess.Popen(pinned(0, ["haproxy", "-f", conf]), stdout=log, stderr=log)
        out.append(Contender("haproxy", port, [p]))
        procs_to_stop.append(p)
    for c in [Contender("upstream", plain, [upstream])] + out:
        wait_for(c.port)
    return out, procs_to_stop


def measure(boltd, contender, version, seconds, concurrency):
    before, switched = cpu_ns(contender.pids()), switches(contender.pids())
    run = subprocess.run(
        pinned(1, [boltd, "bench", "handshake", "--addr", f"127.0.0.1:{contender.port}", "--tls",
                   "--tls-version", version, "--concurrency", str(concurrency),
                   "--duration", str(seconds), "--warmup", "0", "--json"]),
        capture_output=True, text=True, check=True)
    after, switched = cpu_ns(contender.pids()), switches(contender.pids()) - switched
    report = json.loads(run.stdout.strip().splitlines()[-1])
    # Tasks still mid-handshake when the window closed finish theirs uncounted: at most one each.
    handshakes = report["operations"] + report["failures"]
    return {
        "handshakes": handshakes,
        "failures": report["failures"],
        "per_second": report["ops_per_second"],
        "cpu_us": (after - before) / 1000 / max(handshakes, 1),
        "switches": switched / max(handshakes, 1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--versions", default="1.3")
    ap.add_argument("--keys", default="rsa2048,p256")
    ap.add_argument("--only", default="", help="comma-separated contender names")
    ap.add_argument("--log-level", default="info", help="boltd's --log-level (its default: info)")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=BIN",
                    help="another boltd binary as a contender (before and after a change, in one run)")
    ap.add_argument("--jsonl", help="append every measurement to this file")
    args = ap.parse_args()
    boltd = os.environ.get("BOLTD_BIN", os.path.join(ROOT, "target/release/boltd"))
    only = set(filter(None, args.only.split(",")))
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for key in args.keys.split(","):
            also = [a.split("=", 1) for a in args.also]
            contenders, procs = start(work, key, boltd, args.log_level, also)
            if only:
                contenders = [c for c in contenders if c.name in only]
            try:
                for version in args.versions.split(","):
                    measure(boltd, contenders[0], version, 1, args.concurrency)  # warm-up
                    for r in range(args.rounds):
                        order = contenders if r % 2 == 0 else contenders[::-1]
                        for c in order:
                            m = measure(boltd, c, version, args.seconds, args.concurrency)
                            m.update(contender=c.name, key=key, version=version, round=r)
                            results.setdefault((key, version), {}).setdefault(c.name, []).append(m)
                            print(json.dumps(m), file=sys.stderr)
                            if args.jsonl:
                                with open(args.jsonl, "a") as f:
                                    f.write(json.dumps(m) + "\n")
            finally:
                for p in procs:
                    p.terminate()
                for p in procs:
                    try:
                        p.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        p.kill()
    names = []
    for by in results.values():
        names += [n for n in by if n not in names]
    load = os.getloadavg()[0]
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; servers on CPU 0, "
          f"load on CPU 1; {args.rounds} rounds of {args.seconds:g} s at {args.concurrency} connections; "
          f"boltd --log-level {args.log_level}; load average {load:.1f} at the end.")
    print()
    print("Server CPU per full handshake, µs (median of rounds, their spread and the ratio against boltd;")
    print("handshakes/s; the server's context switches per handshake):")
    print()
    print("| key | TLS | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for (key, version), by in results.items():
        base = statistics.median(m["cpu_us"] for m in by["boltd"]) if "boltd" in by else None
        cells = []
        for n in names:
            ms = by.get(n)
            if not ms:
                cells.append("–")
                continue
            cpu = statistics.median(m["cpu_us"] for m in ms)
            spread = f"{min(m['cpu_us'] for m in ms):.0f}–{max(m['cpu_us'] for m in ms):.0f}"
            rate = statistics.median(m["per_second"] for m in ms)
            ratio = f", {cpu / base:.2f}×" if base and n != "boltd" else ""
            switched = statistics.median(m["switches"] for m in ms)
            cells.append(f"{cpu:.0f} ({spread}{ratio}), {rate:,.0f}/s, {switched:.1f} sw")
        print(f"| {key} | {version} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
