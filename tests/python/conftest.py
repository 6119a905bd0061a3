"""Fixtures for the real-client tests: a real boltd process on a free loopback port.

The binary comes from $BOLTD_BIN (scripts/test.sh sets it to the release build). Certificates are
copied from fixtures/ssl into a per-test directory so tests can rotate them in place.
"""

import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "ssl"
BOLTD_BIN = os.environ.get("BOLTD_BIN", str(ROOT / "target" / "release" / "boltd"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def no_verify():
    """A TLS client context that trusts any certificate (the fixtures are self-signed)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def threaded_client_tls():
    """The TLS context for the threaded (sync) client: TLS 1.2 at most.

    That client reads the socket in a thread of its own while the caller writes it, and Python's
    ssl module lets both into OpenSSL at once. Under TLS 1.3 the server's session tickets arrive
    after the handshake, so the reader thread is inside SSL_read for them just as the client
    writes its upgrade request; now and then (about 1 run in 50 on a busy machine) that request
    never reaches the wire (the server's socket shows only the ClientHello and Finished bytes)
    and the client times out waiting for the response. TLS 1.2 sends its ticket inside the
    handshake, so nothing is read while the request is written. wss:// over TLS 1.3 is covered
    by the single-threaded asyncio client (test_websocket.py's close_after_hello) and the browser test."""
    ctx = no_verify()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def fingerprint_of_pem(name):
    """SHA-256 fingerprint of a fixture certificate, uppercase hex with colons."""
    der = ssl.PEM_cert_to_DER_cert((FIXTURES / name).read_text())
    return _fmt(hashlib.sha256(der).hexdigest())


def _fmt(hexdigest):
    return ":".join(hexdigest[i : i + 2] for i in range(0, len(hexdigest), 2)).upper()


class Boltd:
    """A running boltd process."""

    def __init__(self, tmp_path, tls=True, cert="server.pem", key="server.key", extra=()):
        self.dir = tmp_path
        self.tls = tls
        self.port = free_port()
        self.cert_path = tmp_path / "cert.pem"
        self.key_path = tmp_path / "key.pem"
        self.log_path = tmp_path / "boltd.log"
        args = [
            BOLTD_BIN,
            "--bolt-address=127.0.0.1",
            f"--bolt-port={self.port}",
            f"--log-file={self.log_path}",
            f"--data-directory={tmp_path / 'data'}",
            "--log-level=debug",
        ]
        if tls:
            self.install(cert, key)
            args += [f"--bolt-cert-file={self.cert_path}", f"--bolt-key-file={self.key_path}"]
        args += list(extra)
        self._args = args
        self._spawn()

    def _spawn(self):
        self.proc = subprocess.Popen(self._args, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"boltd exited: {self.proc.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("boltd did not start listening")

    def restart(self, kill=False):
        """Stops the process (SIGTERM and a clean exit, or SIGKILL when `kill`) and starts it again
        with the same flags on the same data directory and port; returns the stop's exit code."""
        if kill:
            self.proc.kill()
            self.proc.wait(timeout=10)
            code = self.proc.returncode
        else:
            code = self.stop()
        self._spawn()
        return code

    def install(self, cert, key):
        """Replaces the served files (atomically, as a deploy tool would)."""
        for src, dst in ((cert, self.cert_path), (key, self.key_path)):
            tmp = dst.with_suffix(".tmp")
            shutil.copyfile(FIXTURES / src, tmp)
            os.replace(tmp, dst)

    def log_text(self, *needles, timeout=10):
        """The log once it contains every needle (records are written asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_path.read_text() if self.log_path.exists() else ""
            if all(n in text for n in needles) or time.monotonic() > deadline:
                return text
            time.sleep(0.05)

    def served_fingerprint(self):
        """The certificate fingerprint a fresh TLS client sees now."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
            with ctx.wrap_socket(raw) as tls:
                return _fmt(hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def boltd_tls(tmp_path):
    server = Boltd(tmp_path, tls=True)
    yield server
    assert server.stop() == 0, "boltd did not exit cleanly"


@pytest.fixture
def boltd_metrics(tmp_path):
    """A TLS server with the metrics endpoint on its own free port."""
    port = free_port()
    server = Boltd(tmp_path, tls=True, extra=[f"--metrics-address=127.0.0.1", f"--metrics-port={port}"])
    server.metrics_port = port
    yield server
    assert server.stop() == 0, "boltd did not exit cleanly"


@pytest.fixture
def boltd_mtls(tmp_path):
    """A TLS server that requires client certificates signed by the test CA."""
    server = Boltd(tmp_path, tls=True, extra=[f"--bolt-ca-file={FIXTURES / 'ca.pem'}", "--bolt-client-auth=require"])
    yield server
    assert server.stop() == 0, "boltd did not exit cleanly"


@pytest.fixture
def boltd_plain(tmp_path):
    server = Boltd(tmp_path, tls=False)
    yield server
    assert server.stop() == 0, "boltd did not exit cleanly"


@pytest.fixture(params=["plain", "tls"])
def boltd_any(request, tmp_path):
    """The same tests over a plaintext and a TLS port."""
    server = Boltd(tmp_path, tls=request.param == "tls")
    yield server
    assert server.stop() == 0, "boltd did not exit cleanly"


def pymg(server, user=None, password=None):
    """A pymgclient connection in autocommit mode, over TLS when the server has it."""
    import mgclient  # here, not at the top: the GQLAlchemy venv shares this file

    kwargs = {"username": user, "password": password} if user else {}
    mode = mgclient.MG_SSLMODE_REQUIRE if server.tls else mgclient.MG_SSLMODE_DISABLE
    conn = mgclient.connect(host="127.0.0.1", port=server.port, sslmode=mode, **kwargs)
    conn.autocommit = True
    return conn


def run(conn, query, params=None):
    """Runs one query on a pymgclient connection and returns every row."""
    cur = conn.cursor()
    cur.execute(query, params or {})
    return cur.fetchall()
