#!/usr/bin/env python3
"""TLS round trips against plaintext ones on the same boltd binary: `boltd bench roundtrip`
(RUN "RETURN 1" + PULL) at 16 sessions, with the server on CPU 0 (one Bolt worker) and the load
on CPU 1, the two servers alternating within each round. Prints the median throughput of each,
their ratio, and the server's CPU time per round trip read from /proc (the load generator's own
TLS work shows in the throughput, not in that figure).

`--also NAME=BIN` adds another binary's pair (before and after a change, in one run).

Usage: BOLTD_BIN=target/release/boltd python3 bench/tls_roundtrip.py [--rounds N] [--seconds S]
           [--concurrency C] [--also before=/path/to/older/boltd]
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
from procstat import cpu_ns, pinned  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(work, name, binary, tls):
    port = free_port()
    argv = [binary, "--bolt-address", "127.0.0.1", "--bolt-port", str(port), "--bolt-num-workers", "1",
            "--log-level", "error", "--data-directory", os.path.join(work, f"{name}-{tls}")]
    if tls:
        argv += ["--bolt-cert-file", f"{work}/cert.pem", "--bolt-key-file", f"{work}/key.pem"]
    proc = subprocess.Popen(pinned(0, argv))
    wait_for(port)
    return proc, port


def measure(client, proc, port, tls, seconds, concurrency):
    before = cpu_ns([proc.pid])
    argv = [client, "bench", "roundtrip", "--addr", f"127.0.0.1:{port}", "--concurrency", str(concurrency),
            "--duration", str(seconds), "--warmup", "0", "--json"] + (["--tls"] if tls else [])
    run = subprocess.run(pinned(1, argv), capture_output=True, text=True, check=True)
    spent = cpu_ns([proc.pid]) - before
    report = json.loads(run.stdout.strip().splitlines()[-1])
    return {"per_second": report["ops_per_second"], "p99_us": report["p99_us"],
            "cpu_us": spent / 1000 / max(report["operations"], 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--also", action="append", default=[], metavar="NAME=BIN")
    args = ap.parse_args()
    boltd = os.environ.get("BOLTD_BIN", os.path.join(ROOT, "target/release/boltd"))
    binaries = [("boltd", boltd)] + [tuple(a.split("=", 1)) for a in args.also]
    results = {}
    with tempfile.TemporaryDirectory() as work:
        shutil.copy(os.path.join(ROOT, "fixtures/ssl/server.pem"), f"{work}/cert.pem")
        shutil.copy(os.path.join(ROOT, "fixtures/ssl/server.key"), f"{work}/key.pem")
        os.chmod(f"{work}/key.pem", 0o600)
        servers = {(name, tls): start(work, name, binary, tls) for name, binary in binaries for tls in (False, True)}
        try:
            order = list(servers)
            for name, tls in order:  # warm-up
                measure(boltd, *servers[(name, tls)], tls, 1, args.concurrency)
            for r in range(args.rounds):
                for key in (order if r % 2 == 0 else order[::-1]):
                    m = measure(boltd, *servers[key], key[1], args.seconds, args.concurrency)
                    results.setdefault(key, []).append(m)
                    print(json.dumps({"binary": key[0], "tls": key[1], "round": r, **m}), file=sys.stderr)
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=10)
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; server on CPU 0 "
          f"(one Bolt worker), load on CPU 1; {args.rounds} rounds of {args.seconds:g} s at "
          f"{args.concurrency} sessions; RSA 2048; load average {os.getloadavg()[0]:.1f} at the end.")
    print()
    print("| binary | plaintext | TLS | TLS / plaintext (per round) | server CPU per round trip, plaintext / TLS |")
    print("|---|---|---|---|---|")
    for name, _ in binaries:
        plain, tls = results[(name, False)], results[(name, True)]
        med = lambda ms, k: statistics.median(m[k] for m in ms)  # noqa: E731
        ratios = [t["per_second"] / p["per_second"] for p, t in zip(plain, tls)]
        print(f"| {name} | {med(plain, 'per_second'):,.0f}/s, p99 {med(plain, 'p99_us') / 1000:.2f} ms "
              f"| {med(tls, 'per_second'):,.0f}/s, p99 {med(tls, 'p99_us') / 1000:.2f} ms "
              f"| {med(tls, 'per_second') / med(plain, 'per_second'):.2f}× ({min(ratios):.2f}–{max(ratios):.2f}) "
              f"| {med(plain, 'cpu_us'):.1f} / {med(tls, 'cpu_us'):.1f} µs |")


if __name__ == "__main__":
    main()
