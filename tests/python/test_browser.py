"""Bolt over WebSocket from a real browser: headless Chromium (Debian's `chromium`) opens
tests/browser/index.html, where the neo4j JavaScript driver's browser bundle (npm neo4j-driver,
pinned in tests/browser/package.json) connects to boltd over ws:// and, on a TLS port, wss://, logs
in, runs queries and writes what it got into the page. The test reads the page's DOM through the
DevTools protocol (driven with the `websockets` client). scripts/test.sh installs chromium and runs
`npm ci` in tests/browser."""

import json
import re
import shutil
import subprocess
import time

import pytest
from websockets.sync.client import connect

from conftest import ROOT, Boltd

PAGE = ROOT / "tests" / "browser" / "index.html"
BUNDLE = ROOT / "tests" / "browser" / "node_modules" / "neo4j-driver" / "lib" / "browser" / "neo4j-web.min.js"
USER, PASSWORD = "browser", "s3cret-in-the-page"


class DevTools:
    """The DevTools protocol over Chromium's browser WebSocket, with one page attached."""

    def __init__(self, url):
        self.ws = connect(url, max_size=None, open_timeout=10)
        self.next_id = 0

    def call(self, method, session=None, **params):
        self.next_id += 1
        request = {"id": self.next_id, "method": method, "params": params}
        if session:
            request["sessionId"] = session
        self.ws.send(json.dumps(request))
        while True:
            reply = json.loads(self.ws.recv(timeout=30))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def text_of(self, session, element_id):
        """The text of #element_id, or None while the page has no such element."""
        expression = f"(document.getElementById({element_id!r}) || {{}}).textContent || null"
        try:
            result = self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        except RuntimeError:
            return None  # the page is between documents
        return result["result"].get("value")


@pytest.fixture
def chromium(tmp_path):
    """A headless Chromium with its DevTools endpoint; yields a DevTools client."""
    binary = shutil.which("chromium")
    assert binary, "Debian's chromium is needed (scripts/test.sh installs it: apt-get install chromium)"
    assert BUNDLE.exists(), "the neo4j driver's browser bundle is missing: run `npm ci` in tests/browser"
    proc = subprocess.Popen(
        [
            binary,
            "--headless",
            # Tests run as root in containers, where Chromium's sandbox cannot start.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            # The TLS fixture certificate is self-signed.
            "--ignore-certificate-errors",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = None
        deadline = time.monotonic() + 60
        while endpoint is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            endpoint = m and m.group(1)
        assert endpoint, f"Chromium did not start (exit {proc.poll()})"
        devtools = DevTools(endpoint)
        yield devtools
        devtools.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_page(devtools, server, encrypted):
    """Opens the page against `server` and returns what it wrote once it has finished."""
    query = f"url=bolt://127.0.0.1:{server.port}&encrypted={int(encrypted)}&user={USER}&password={PASSWORD}"
    target = devtools.call("Target.createTarget", url=f"{PAGE.as_uri()}?{query}")["targetId"]
    session = devtools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    deadline = time.monotonic() + 60
    status = None
    while status not in ("done", "failed"):
        assert time.monotonic() < deadline, f"the page did not finish (status {status!r})"
        time.sleep(0.1)
        status = devtools.text_of(session, "status")
    result = json.loads(devtools.text_of(session, "result"))
    devtools.call("Target.closeTarget", targetId=target)
    return status, result


@pytest.fixture(params=["ws", "wss"])
def server(request, tmp_path, monkeypatch):
    # A user from the environment, so the page logs in (LOGON on Bolt 5).
    monkeypatch.setenv("BOLTD_USER", USER)
    monkeypatch.setenv("BOLTD_PASSWORD", PASSWORD)
    s = Boltd(tmp_path, tls=request.param == "wss")
    s.scheme = request.param
    yield s
    assert s.stop() == 0, "boltd did not exit cleanly"


def test_the_neo4j_browser_driver_over_websocket(chromium, server):
    status, result = run_page(chromium, server, encrypted=server.scheme == "wss")
    assert status == "done", result
    assert result["protocolVersion"] == {"major": 5, "minor": 4}
    assert result["one"] == 1
    assert result["visits"] == ["executeQuery", "transaction"]
    assert result["bigSize"] == 300000
    assert result["rows"] == 2000
    assert result["wrongPassword"] == "Memgraph.ClientError.Security.Unauthenticated"
    log = server.log_text("connection upgraded to WebSocket")
    assert "connection upgraded to WebSocket" in log
    if server.scheme == "wss":
        assert "TLS established" in log
