"""Query round trips with and without monitoring WebSocket clients: does a client that stops reading
slow the server down?

Starts boltd (plaintext, --log-level=debug, the monitoring and metrics ports on free loopback ports)
in a temporary directory, then times the same Bolt round trips with pymgclient in three phases:
no monitoring client, one client that reads everything, and one that upgraded and then never reads
(a raw socket with a tiny receive buffer). Each round trip is a failing query (`RETURN 1 +`), which
the server logs at DEBUG ("query failed"), so every one of them goes through the log stream.
Prints latency percentiles, round trips per second, and the records dropped for slow clients.

    BOLTD_BIN=target/release/boltd .venv/bin/python bench/monitoring.py [--queries 5000]

Needs pymgclient and websockets (tests/python/requirements.txt). Talks to 127.0.0.1 only.
"""

import argparse
import base64
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

import mgclient
from websockets.sync.client import connect

from ports import free_port, wait_for


def scrape(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
    return 0.0


def stalled_client(port):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


class Reader(threading.Thread):
    """A monitoring client that reads everything, counting events."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.ws = connect(f"ws://127.0.0.1:{port}/", open_timeout=10)
        self.events = 0

    def run(self):
        try:
            for _ in self.ws:
                self.events += 1
        except Exception:
            pass


def round_trips(conn, n):
    cur = conn.cursor()
    latencies = []
    for _ in range(n):
        t = time.perf_counter()
        try:
            cur.execute("RETURN 1 +")
        except mgclient.DatabaseError:
            pass
        latencies.append(time.perf_counter() - t)
    return latencies


def report(name, latencies, dropped):
    latencies = sorted(latencies)
    q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1e6
    total = sum(latencies)
    print(
        f"{name:<24} {len(latencies):>6} round trips  {len(latencies) / total:>8.0f}/s  "
        f"p50 {q(0.50):>7.0f} us  p90 {q(0.90):>7.0f} us  p99 {q(0.99):>7.0f} us  "
        f"mean {statistics.fmean(latencies) * 1e6:>7.0f} us  dropped so far {dropped:.0f}"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=5000, help="round trips per phase")
    parser.add_argument("--rounds", type=int, default=2, help="times each phase is repeated")
    args = parser.parse_args()
    binary = os.environ.get("BOLTD_BIN", "target/release/boltd")
    work = tempfile.mkdtemp(prefix="boltd-bench-monitoring-")
    bolt, monitoring, metrics = free_port(), free_port(), free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--bolt-address=127.0.0.1",
            f"--bolt-port={bolt}",
            "--monitoring-address=127.0.0.1",
            f"--monitoring-port={monitoring}",
            "--metrics-address=127.0.0.1",
            f"--metrics-port={metrics}",
            f"--data-directory={work}/data",
            f"--log-file={work}/boltd.log",
            "--log-level=debug",
        ],
        stdin=subprocess.DEVNULL,
    )
    try:
        for port in (bolt, monitoring, metrics):
            wait_for(port)
        conn = mgclient.connect(host="127.0.0.1", port=bolt, sslmode=mgclient.MG_SSLMODE_DISABLE)
        conn.autocommit = True
        round_trips(conn, 500)  # warm-up
        dropped = "boltd_monitoring_dropped_log_messages_total"
        print(f"boltd {binary}, {args.queries} logged round trips per phase, {args.rounds} rounds")
        for _ in range(args.rounds):
            report("no monitoring client", round_trips(conn, args.queries), scrape(metrics, dropped))
            reader = Reader(monitoring)
            reader.start()
            report("one reading client", round_trips(conn, args.queries), scrape(metrics, dropped))
            reader.ws.close()
            reader.join(timeout=10)
            stalled = stalled_client(monitoring)
            report("one stalled client", round_trips(conn, args.queries), scrape(metrics, dropped))
            stalled.close()
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
