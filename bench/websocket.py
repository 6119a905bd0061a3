"""Bolt round trips over wss:// against plain TLS: what does the WebSocket framing cost?

Starts boltd with TLS (the fixture certificate, one handshake worker) pinned to CPU 0 in a temporary
directory, then runs `boltd bench roundtrip --tls` pinned to CPU 1, with and without `--websocket`,
alternating the order each round so that both see the same background load. Prints each run's
round trips per second and p99, the server's CPU time per round trip (from /proc, which a busy
shared machine disturbs less than throughput), and the medians, with wss:// as a ratio of TLS.

    BOLTD_BIN=target/release/boltd python3 bench/websocket.py [--rounds 8] [--seconds 4] [--sessions 16]

Linux only (taskset, /proc); talks to 127.0.0.1 only.
"""

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from ports import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "ssl"


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--sessions", type=int, default=16)
    args = parser.parse_args()
    binary = os.environ.get("BOLTD_BIN", str(ROOT / "target" / "release" / "boltd"))
    work = Path(tempfile.mkdtemp(prefix="boltd-ws-bench-"))
    port = free_port()
    server = subprocess.Popen(
        ["taskset", "-c", "0", binary, "--bolt-address=127.0.0.1", f"--bolt-port={port}",
         f"--data-directory={work / 'data'}", f"--log-file={work / 'boltd.log'}", "--log-level=warning",
         f"--bolt-cert-file={FIXTURES / 'server.pem'}", f"--bolt-key-file={FIXTURES / 'server.key'}",
         "--bolt-num-workers=1"],
        stdin=subprocess.DEVNULL,
    )
    runs = {"tls": [], "wss": []}
    try:
        wait_for(port)
        print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; "
              f"server on CPU 0, load on CPU 1; {args.sessions} sessions, {args.seconds} s per run")
        for r in range(args.rounds):
            for kind in ("tls", "wss") if r % 2 == 0 else ("wss", "tls"):
                command = ["taskset", "-c", "1", binary, "bench", "roundtrip", f"--addr=127.0.0.1:{port}",
                           "--tls", f"--concurrency={args.sessions}", f"--duration={args.seconds}",
                           f"--warmup={args.warmup}"]
                if kind == "wss":
                    command.append("--websocket")
                before = cpu_seconds(server.pid)
                out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
                used = cpu_seconds(server.pid) - before
                ops = int(re.search(r"(\d+) ops", out).group(1))
                failures = int(re.search(r"failures (\d+)", out).group(1))
                rate = ops / args.seconds
                p99 = int(re.search(r"p99 (\d+) us", out).group(1))
                # The CPU covers warm-up and window; the ops are the window's.
                per_op = used * 1e6 / (ops * (args.seconds + args.warmup) / args.seconds)
                runs[kind].append((rate, p99, per_op))
                print(f"round {r + 1} {kind}: {rate:,.0f}/s, p99 {p99 / 1000:.2f} ms, "
                      f"server CPU {per_op:.1f} us per round trip, failures {failures}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in runs.items()}
    for kind in ("tls", "wss"):
        rate, p99, per_op = med[kind]
        print(f"{kind} median: {rate:,.0f}/s, p99 {p99 / 1000:.2f} ms, server CPU {per_op:.1f} us per round trip")
    print(f"wss/tls: throughput {med['wss'][0] / med['tls'][0]:.2f}x, "
          f"server CPU per round trip {med['wss'][2] / med['tls'][2]:.2f}x")
    # The two runs of a round are adjacent in time, so their ratio shares the background load.
    pairs = [w[0] / t[0] for t, w in zip(runs["tls"], runs["wss"])]
    print(f"wss/tls throughput within each round: median {statistics.median(pairs):.2f}x "
          f"(from {min(pairs):.2f}x to {max(pairs):.2f}x)")


if __name__ == "__main__":
    main()
