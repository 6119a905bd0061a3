"""The monitoring WebSocket (--monitoring-port): the server's log as Memgraph's JSON events, read with
the `websockets` client; wss:// with the Bolt certificate (rotated by RELOAD BOLT_SERVER TLS);
Memgraph's credentials message and replies once users exist; and a client that stops reading,
which loses records (counted in a metric) without slowing queries."""

import base64
import hashlib
import json
import os
import socket
import struct
import time
import urllib.request

import mgclient
import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidMessage
from websockets.sync.client import connect

from conftest import Boltd, fingerprint_of_pem, free_port, no_verify, pymg, run, threaded_client_tls

AUTHENTICATED = '{"message":"User has been successfully authenticated!","success":true}'
AUTHENTICATION_FAILED = '{"message":"Authentication failed!","success":false}'
AUTHORIZATION_FAILED = '{"message":"Authorization failed!","success":false}'


def monitored(tmp_path, tls, extra=()):
    server = Boltd(
        tmp_path,
        tls=tls,
        extra=[
            "--monitoring-address=127.0.0.1",
            f"--monitoring-port={free_port()}",
            "--metrics-address=127.0.0.1",
            f"--metrics-port={free_port()}",
            *extra,
        ],
    )
    flag = next(a for a in server._args if a.startswith("--monitoring-port="))
    server.monitoring_port = int(flag.split("=", 1)[1])
    flag = next(a for a in server._args if a.startswith("--metrics-port="))
    server.metrics_port = int(flag.split("=", 1)[1])
    # The side ports are bound just after the Bolt port, which is what Boltd waits for.
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", server.monitoring_port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "the monitoring port never opened"
            time.sleep(0.05)
    return server


@pytest.fixture
def plain(tmp_path):
    server = monitored(tmp_path, tls=False)
    yield server
    assert server.stop() == 0, "boltd did not exit cleanly"


@pytest.fixture
def tls(tmp_path):
    server = monitored(tmp_path, tls=True)
    yield server
    assert server.stop() == 0, "boltd did not exit cleanly"


@pytest.fixture
def short_auth(tmp_path):
    """Plaintext, with a 2 s deadline for credentials (--bolt-auth-timeout covers both ports)."""
    server = monitored(tmp_path, tls=False, extra=["--bolt-auth-timeout=2"])
    yield server
    assert server.stop() == 0, "boltd did not exit cleanly"


def open_ws(server, scheme=None):
    scheme = scheme or ("wss" if server.tls else "ws")
    url = f"{scheme}://127.0.0.1:{server.monitoring_port}/"
    ctx = threaded_client_tls() if scheme == "wss" else None
    return connect(url, ssl=ctx, open_timeout=10, close_timeout=5)


def next_event(ws, needle, timeout=15):
    """Reads log events until one whose message contains `needle`; returns (raw text, parsed)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no log event containing {needle!r} arrived"
        raw = ws.recv(timeout=left)
        event = json.loads(raw)
        assert set(event) == {"event", "level", "message"}, raw
        assert event["event"] == "log", raw
        assert event["level"] in {"trace", "debug", "info", "warning", "error", "critical"}, raw
        if needle in event["message"]:
            return raw, event


def scrape(server):
    url = f"{'https' if server.tls else 'http'}://127.0.0.1:{server.metrics_port}/metrics"
    ctx = no_verify() if server.tls else None
    with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
        body = resp.read().decode()
    values = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_log_events_stream_in_memgraphs_shape_without_users(plain):
    with open_ws(plain) as ws:
        assert ws.response.headers["Server"] == "Memgraph WS"
        conn = pymg(plain)  # every Bolt connection logs "client connected" at INFO
        raw, event = next_event(ws, "client connected user_agent")
        conn.close()
        assert raw.startswith('{"event": "log", "level": "info", "message": "client connected ')
        assert event["level"] == "info"
        # The record's key-values follow the message, and the connection's context after them.
        assert "user_agent=" in event["message"] and "conn=bolt-" in event["message"], raw
        # What a client sends while no user exists is ignored (no reply, the stream goes on).
        ws.send(json.dumps({"username": "x", "password": "y"}))
        conn = pymg(plain)
        run(conn, "RETURN 1")
        next_event(ws, "client connected user_agent")
        conn.close()


def test_wss_with_the_bolt_certificate_plaintext_refused_and_reload_rotates_it(tls):
    with open_ws(tls) as ws:
        der = ws.socket.getpeercert(binary_form=True)
        fp = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
        assert fp == fingerprint_of_pem("server.pem")
        with pytest.raises((InvalidHandshake, InvalidMessage, ConnectionClosed, OSError, EOFError)):
            with open_ws(tls, scheme="ws") as plain_ws:
                plain_ws.recv(timeout=10)

        tls.install("ec.pem", "ec.key")
        conn = pymg(tls)
        run(conn, "RELOAD BOLT_SERVER TLS")
        conn.close()
        # The open stream keeps its certificate and reports the reload.
        next_event(ws, "TLS certificate reloaded")
    with open_ws(tls) as ws:
        der = ws.socket.getpeercert(binary_form=True)
        fp = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
        assert fp == fingerprint_of_pem("ec.pem"), "a new monitoring connection gets the new certificate"
        conn = pymg(tls)
        next_event(ws, "client connected user_agent")
        conn.close()


def test_once_users_exist_credentials_are_required_and_answered_as_memgraph_does(short_auth):
    server = short_auth
    conn = pymg(server)
    run(conn, "CREATE USER ann IDENTIFIED BY 'ann-pw'")  # the first user holds every privilege
    conn.close()
    admin = pymg(server, "ann", "ann-pw")
    run(admin, "CREATE USER bob IDENTIFIED BY 'bob-pw'")  # no privileges, so no WEBSOCKET

    # No credentials: nothing is streamed, and the deadline closes the connection.
    with open_ws(server) as ws:
        pymg(server, "ann", "ann-pw").close()
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=15)
        assert closed.value.rcvd.code == 1008, closed.value

    # A wrong password, a user without WEBSOCKET, and malformed JSON: one reply, then the close.
    for creds, reply in [
        ({"username": "ann", "password": "wrong"}, AUTHENTICATION_FAILED),
        ({"username": "nobody", "password": "x"}, AUTHENTICATION_FAILED),
        ({"username": "bob", "password": "bob-pw"}, AUTHORIZATION_FAILED),
    ]:
        with open_ws(server) as ws:
            ws.send(json.dumps(creds))
            assert ws.recv(timeout=15) == reply
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=15)
    with open_ws(server) as ws:
        ws.send("{not json")
        answer = json.loads(ws.recv(timeout=15))
        assert answer["success"] is False
        assert answer["message"].startswith("Cannot parse JSON for WebSocket authentication: ")
    with open_ws(server) as ws:
        ws.send(json.dumps({"username": "ann"}))
        answer = json.loads(ws.recv(timeout=15))
        assert answer == {"success": False, "message": "Invalid JSON for authentication received: key 'password' not found!"}

    # The right credentials: Memgraph's reply, then the log.
    run(admin, "GRANT WEBSOCKET TO bob")
    for user, password in [("ann", "ann-pw"), ("bob", "bob-pw")]:
        with open_ws(server) as ws:
            ws.send(json.dumps({"username": user, "password": password}))
            assert ws.recv(timeout=15) == AUTHENTICATED
            pymg(server, "ann", "ann-pw").close()
            next_event(ws, "client connected user_agent")
    admin.close()


def ws_frame(text):
    """A masked client text frame (RFC 6455 section 5.2), for the raw-socket client."""
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked


def stalled_client(server, user, password):
    """A monitoring client that upgrades and authenticates over a raw socket with a tiny receive
    buffer, reads the reply, and then never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", server.monitoring_port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(4096)
        assert chunk, "the server closed during the upgrade"
        received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    sock.sendall(ws_frame(json.dumps({"username": user, "password": password})))
    while AUTHENTICATED.encode() not in rest:
        chunk = sock.recv(4096)
        assert chunk, "the server closed before answering the credentials"
        rest += chunk
    return sock  # from here on, nobody reads it


def test_a_client_that_stops_reading_loses_records_not_query_speed(tmp_path):
    server = monitored(tmp_path, tls=False)  # --log-level=debug: every failed query is logged
    try:
        conn = pymg(server)
        run(conn, "CREATE USER ann IDENTIFIED BY 'ann-pw'")
        conn.close()
        stalled = stalled_client(server, "ann", "ann-pw")
        conn = pymg(server, "ann", "ann-pw")
        assert scrape(server)["boltd_monitoring_clients_open"] == 1
        dropped = 0
        failed = 0
        for batch in range(40):  # at most 40 x 250 failing queries, stopping at the first drops
            for _ in range(250):
                with pytest.raises(mgclient.DatabaseError):
                    run(conn, "RETURN 1 +")  # logged at DEBUG as "query failed"
                failed += 1
            dropped = scrape(server).get("boltd_monitoring_dropped_log_messages_total", 0)
            if dropped > 0:
                break
        assert dropped > 0, f"no record dropped after {failed} logged failures"
        # Queries still complete, and the stalled client still holds its place.
        assert run(conn, "RETURN 41 + 1 AS x") == [(42,)]
        assert scrape(server)["boltd_monitoring_clients_open"] == 1
        # A reading client meanwhile gets the stream in full.
        with open_ws(server) as ws:
            ws.send(json.dumps({"username": "ann", "password": "ann-pw"}))
            assert ws.recv(timeout=15) == AUTHENTICATED
            with pytest.raises(mgclient.DatabaseError):
                run(conn, "RETURN 2 +")
            next_event(ws, "query failed")
        conn.close()
        stalled.close()
    finally:
        assert server.stop() == 0, "boltd did not exit cleanly"
