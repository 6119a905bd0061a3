"""Bolt over WebSocket on the Bolt port, spoken raw with the `websockets` client: the Bolt handshake,
HELLO, RUN and PULL in PackStream, carried in binary messages over ws:// and wss://. Large messages
(a 1.5 MiB parameter in one fragmented message and back, a Bolt message split over many small
WebSocket messages), ping/pong, the close handshake both ways, a text message refused, and ws:// on
a TLS port refused like plaintext Bolt. The browser test is test_browser.py."""

import asyncio
import socket
import struct

import pytest
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidMessage
from websockets.asyncio.client import connect as asyncio_connect
from websockets.sync.client import connect

from conftest import Boltd, no_verify, threaded_client_tls

MAGIC = b"\x60\x60\xb0\x17"
OFFER_4_4 = bytes([0, 0, 4, 4]) + bytes(12)

HELLO, GOODBYE, RUN, PULL = 0x01, 0x02, 0x10, 0x3F
SUCCESS, RECORD, FAILURE = 0x70, 0x71, 0x7F


# --- PackStream, as much as these tests send and read ----------------------------------------


def pack(value):
    if value is None:
        return b"\xc0"
    if value is True:
        return b"\xc3"
    if value is False:
        return b"\xc2"
    if isinstance(value, int):
        if -16 <= value < 128:
            return struct.pack(">b", value)
        return b"\xcb" + struct.pack(">q", value)
    if isinstance(value, str):
        data = value.encode()
        n = len(data)
        if n < 16:
            return bytes([0x80 | n]) + data
        if n < 256:
            return b"\xd0" + bytes([n]) + data
        if n < 65536:
            return b"\xd1" + struct.pack(">H", n) + data
        return b"\xd2" + struct.pack(">I", n) + data
    if isinstance(value, dict):
        assert len(value) < 16
        return bytes([0xA0 | len(value)]) + b"".join(pack(k) + pack(v) for k, v in value.items())
    if isinstance(value, list):
        assert len(value) < 16
        return bytes([0x90 | len(value)]) + b"".join(pack(v) for v in value)
    raise TypeError(value)


class Unpacker:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        out = self.data[self.at : self.at + n]
        assert len(out) == n, "short PackStream value"
        self.at += n
        return out

    def size(self, marker, tiny_base, u8, u16, u32):
        if tiny_base <= marker < tiny_base + 16:
            return marker - tiny_base
        return {u8: lambda: self.take(1)[0],
                u16: lambda: struct.unpack(">H", self.take(2))[0],
                u32: lambda: struct.unpack(">I", self.take(4))[0]}[marker]()

    def value(self):
        m = self.take(1)[0]
        if m < 0x80:
            return m
        if m >= 0xF0:
            return m - 0x100
        if m == 0xC0:
            return None
        if m in (0xC2, 0xC3):
            return m == 0xC3
        if m == 0xC1:
            return struct.unpack(">d", self.take(8))[0]
        if m in (0xC8, 0xC9, 0xCA, 0xCB):
            n = {0xC8: 1, 0xC9: 2, 0xCA: 4, 0xCB: 8}[m]
            return int.from_bytes(self.take(n), "big", signed=True)
        if 0x80 <= m < 0x90 or m in (0xD0, 0xD1, 0xD2):
            return self.take(self.size(m, 0x80, 0xD0, 0xD1, 0xD2)).decode()
        if 0x90 <= m < 0xA0 or m in (0xD4, 0xD5, 0xD6):
            return [self.value() for _ in range(self.size(m, 0x90, 0xD4, 0xD5, 0xD6))]
        if 0xA0 <= m < 0xB0 or m in (0xD8, 0xD9, 0xDA):
            n = self.size(m, 0xA0, 0xD8, 0xD9, 0xDA)
            return {self.value(): self.value() for _ in range(n)}
        if 0xB0 <= m < 0xC0:
            tag = self.take(1)[0]
            return ("struct", tag, [self.value() for _ in range(m - 0xB0)])
        raise AssertionError(f"unexpected PackStream marker {m:#x}")


def message(tag, *fields):
    """One Bolt message, chunked (chunks of at most 65535 bytes, then 00 00)."""
    body = bytes([0xB0 | len(fields), tag]) + b"".join(pack(f) for f in fields)
    out = b""
    for i in range(0, len(body), 65535):
        piece = body[i : i + 65535]
        out += struct.pack(">H", len(piece)) + piece
    return out + b"\x00\x00"


# --- Bolt over a websockets connection -------------------------------------------------------


class WsBolt:
    """Bolt on a `websockets` connection: a byte stream over binary messages, both ways."""

    def __init__(self, ws):
        self.ws = ws
        self.buf = b""

    def read(self, n):
        while len(self.buf) < n:
            data = self.ws.recv(timeout=15)
            assert isinstance(data, bytes), f"a text message from the server: {data!r}"
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def handshake(self):
        self.ws.send(MAGIC + OFFER_4_4)
        assert self.read(4) == b"\x00\x00\x04\x04"

    def recv(self):
        """The next response as (tag, fields)."""
        body = b""
        while True:
            (size,) = struct.unpack(">H", self.read(2))
            if size == 0:
                if body:
                    break
                continue
            body += self.read(size)
        value = Unpacker(body).value()
        assert value[0] == "struct", value
        return value[1], value[2]

    def hello(self):
        self.ws.send(message(HELLO, {"user_agent": "boltd-tests/ws", "scheme": "none"}))
        tag, fields = self.recv()
        assert tag == SUCCESS, fields

    def query(self, text, params=None):
        """RUN + PULL in one WebSocket message; the records."""
        self.ws.send(message(RUN, text, params or {}, {}) + message(PULL, {"n": -1}))
        tag, fields = self.recv()
        assert tag == SUCCESS, fields
        rows = []
        while True:
            tag, fields = self.recv()
            if tag == RECORD:
                rows.append(fields[0])
            else:
                assert tag == SUCCESS, fields
                return rows


def open_bolt(server, scheme):
    url = f"{scheme}://127.0.0.1:{server.port}/"
    ws = connect(url, ssl=threaded_client_tls() if scheme == "wss" else None, max_size=None,
                 open_timeout=10, close_timeout=5)
    bolt = WsBolt(ws)
    bolt.handshake()
    bolt.hello()
    return bolt


async def close_after_hello(server):
    """Opens a session with the asyncio client, sends the close frame; the close code it gets."""
    url = f"{server.scheme}://127.0.0.1:{server.port}/"
    tls = no_verify() if server.scheme == "wss" else None
    async with asyncio_connect(url, ssl=tls, open_timeout=10, close_timeout=5) as ws:
        if tls is not None:
            assert ws.transport.get_extra_info("ssl_object").version() == "TLSv1.3"
        await ws.send(MAGIC + OFFER_4_4)
        assert await asyncio.wait_for(ws.recv(), 10) == b"\x00\x00\x04\x04"
        await ws.send(message(HELLO, {"user_agent": "boltd-tests/ws", "scheme": "none"}))
        reply = await asyncio.wait_for(ws.recv(), 10)
        assert reply[2:4] == bytes([0xB1, SUCCESS]), reply
        await ws.close(code=1000, reason="done")
        return ws.close_code


@pytest.fixture
def server(tmp_path, request):
    s = Boltd(tmp_path, tls=request.param == "wss")
    s.scheme = request.param
    yield s
    assert s.stop() == 0, "boltd did not exit cleanly"


@pytest.mark.parametrize("server", ["ws", "wss"], indirect=True)
def test_queries_and_a_large_parameter_in_many_frames(server):
    bolt = open_bolt(server, server.scheme)
    assert bolt.ws.response.headers["Server"] == "Memgraph Bolt WS"
    assert bolt.query("RETURN 1 AS x") == [[1]]
    assert bolt.query("UNWIND range(1, 3) AS x RETURN x * $k", {"k": 10}) == [[10], [20], [30]]

    # 1.5 MiB out as one WebSocket message in 64 KiB fragments, and back in one record.
    big = "b" * (3 << 19)
    run = message(RUN, "RETURN $s AS s, size($s) AS n", {"s": big}, {})
    bolt.ws.send(run[i : i + 65536] for i in range(0, len(run), 65536))
    bolt.ws.send(message(PULL, {"n": -1}))
    assert bolt.recv()[0] == SUCCESS
    tag, fields = bolt.recv()
    assert tag == RECORD and fields[0] == [big, len(big)]
    assert bolt.recv()[0] == SUCCESS

    # One Bolt message split over many small WebSocket messages (as browsers send).
    run = message(RUN, "RETURN $s AS s", {"s": "c" * 5000}, {}) + message(PULL, {"n": -1})
    for i in range(0, len(run), 100):
        bolt.ws.send(run[i : i + 100])
    assert bolt.recv()[0] == SUCCESS
    tag, fields = bolt.recv()
    assert tag == RECORD and fields[0] == ["c" * 5000]
    assert bolt.recv()[0] == SUCCESS
    bolt.ws.close()


@pytest.mark.parametrize("server", ["ws", "wss"], indirect=True)
def test_ping_pong_and_the_close_handshake_both_ways(server):
    bolt = open_bolt(server, server.scheme)
    pong = bolt.ws.ping(b"are you there")
    assert pong.wait(timeout=10), "no pong"
    assert bolt.query("RETURN 2 AS x") == [[2]]

    bolt.ws.close()

    # The client closes: the server answers the close frame, cleanly. (With the asyncio client:
    # the threaded one sends its close frame while its reader thread reads the same TLS socket,
    # and Python's ssl module then now and then fails that read with a time-out before the
    # server's answer is seen.)
    assert asyncio.run(close_after_hello(server)) == 1000

    # GOODBYE: the server closes, with a close frame of its own.
    bolt = open_bolt(server, server.scheme)
    bolt.ws.send(message(GOODBYE))
    with pytest.raises(ConnectionClosedOK):
        bolt.ws.recv(timeout=10)
    assert bolt.ws.close_code == 1000

    # The server still serves.
    assert open_bolt(server, server.scheme).query("RETURN 3 AS x") == [[3]]


@pytest.mark.parametrize("server", ["ws"], indirect=True)
def test_a_text_message_is_refused(server):
    bolt = open_bolt(server, "ws")
    bolt.ws.send("RETURN 1")
    with pytest.raises(ConnectionClosedError) as closed:
        bolt.ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1003
    assert "WebSocket text message refused" in server.log_text("WebSocket text message refused")


@pytest.mark.parametrize("server", ["wss"], indirect=True)
def test_plain_ws_on_a_tls_port_is_refused_like_plaintext_bolt(server):
    with pytest.raises(InvalidMessage, match="did not receive a valid HTTP response"):
        connect(f"ws://127.0.0.1:{server.port}/", open_timeout=10).close()
    log = server.log_text("TLS handshake failed")
    assert "TLS handshake failed; closing (this port only accepts TLS" in log
    assert "wss://" in log
    # Plaintext Bolt gets the same treatment, and wss:// works.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(MAGIC + OFFER_4_4)
        raw.settimeout(10)
        assert raw.recv(4) == b""
    assert open_bolt(server, "wss").query("RETURN 4 AS x") == [[4]]
