#!/usr/bin/env python3
"""openCypher TCK conformance runner for boltd: pass rates per area, and why scenarios fail.

The TCK feature files are not part of this repository. Extract them once from the openCypher
repository (here from the local mirror), outside the work tree:

    mkdir -p /work/tck
    git -C /work/.mirror/opencypher+openCypher/repo archive HEAD tck | tar -x -C /work/tck

Then build boltd and run (the neo4j Python driver is the only dependency):

    cargo build --release
    python bench/tck.py --bin target/release/boltd --features /work/tck/tck/features \\
        --json tck.json --failures tck-failures.txt [--filter clauses/match] [--jobs 2]

The named graphs (`Given the binary-tree-1 graph`) are read from `--graphs`, by default the
`graphs` directory beside `--features`. Each worker starts its own boltd on a free loopback port
with a temporary data directory and durability off, clears the graph (and any index or constraint)
between scenarios, and restarts the server when it dies or a query exceeds `--timeout` seconds.

What counts as a pass follows the TCK's README: rows compare as a multiset unless the step says
"in order"; nodes and relationships compare by labels/type and properties, never by id; side
effects are differences of observable graph state (node and relationship ids, distinct label
names, (entity, key, value) property triples) before and after the query; an expected error
passes with any error (a raise in the other phase, RUN versus PULL, is only counted). Temporal
values are compared in their Cypher `toString()` text, which is how the TCK writes them.

The unit tests of the parser and comparison are in bench/test_tck.py (`pytest bench/test_tck.py`).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import datetime as pydt
import json
import math
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import neo4j
import neo4j.time as ntime
from neo4j import graph

# ---------------------------------------------------------------------------------------------
# Value model: what the TCK writes and what the driver returns are both brought to these types.
# Scalars are Python's None/bool/int/float/str, containers list/dict; temporals become strings.


@dataclass(frozen=True)
class Node:
    labels: frozenset[str]
    props: dict[str, Any]


@dataclass(frozen=True)
class Rel:
    type: str
    props: dict[str, Any]


@dataclass(frozen=True)
class Path_:
    """A path as its sequence: node, (rel, '->' or '<-'), node, ..."""

    start: Node
    hops: tuple[tuple[Rel, str, Node], ...]


class ParseError(ValueError):
    pass


class ValueParser:
    """Recursive-descent parser for the TCK's expected-value syntax (README "Format of the expected
    results"), also used for `parameters are:` values."""

    _NUMBER = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
    _IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
    _ESCAPES: ClassVar[dict[str, str]] = {
        "n": "\n",
        "t": "\t",
        "r": "\r",
        "b": "\b",
        "f": "\f",
        "'": "'",
        '"': '"',
        "\\": "\\",
    }

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    @classmethod
    def parse(cls, text: str) -> Any:
        parser = cls(text)
        value = parser.value()
        parser.skip_ws()
        if parser.pos != len(text):
            raise ParseError(f"trailing text at {parser.pos} in {text!r}")
        return value

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self, n: int = 1) -> str:
        self.skip_ws()
        return self.text[self.pos : self.pos + n]

    def expect(self, token: str) -> None:
        if self.peek(len(token)) != token:
            raise ParseError(f"expected {token!r} at {self.pos} in {self.text!r}")
        self.pos += len(token)

    def value(self) -> Any:
        c = self.peek()
        if c == "'":
            return self.string()
        if c == "[":
            return self.relationship() if self._after("[") == ":" else self.list_()
        if c == "{":
            return self.map_()
        if c == "(":
            return self.node()
        if c == "<":
            return self.path()
        return self.word()

    def _after(self, token: str) -> str:
        """The next non-space character after `token` at the current position."""
        i = self.pos + len(token)
        while i < len(self.text) and self.text[i].isspace():
            i += 1
        return self.text[i : i + 1]

    def word(self) -> Any:
        for word, value in (("null", None), ("true", True), ("false", False), ("NaN", math.nan)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return value
        for word, value in (("-Inf", -math.inf), ("Inf", math.inf), ("-Infinity", -math.inf)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return value
        m = self._NUMBER.match(self.text, self.pos)
        if not m:
            raise ParseError(f"unexpected value at {self.pos} in {self.text!r}")
        self.pos = m.end()
        lit = m.group()
        return float(lit) if any(ch in lit for ch in ".eE") else int(lit)

    def string(self) -> str:
        self.expect("'")
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            if ch == "'":
                return "".join(out)
            if ch == "\\" and self.pos < len(self.text):
                out.append(self._escape())
            else:
                out.append(ch)
        raise ParseError(f"unterminated string in {self.text!r}")

    def _escape(self) -> str:
        ch = self.text[self.pos]
        self.pos += 1
        if ch in ("u", "U"):
            width = 4 if ch == "u" else 8
            code = self.text[self.pos : self.pos + width]
            self.pos += width
            return chr(int(code, 16))
        return self._ESCAPES.get(ch, "\\" + ch)

    def list_(self) -> list[Any]:
        self.expect("[")
        items: list[Any] = []
        if self.peek() == "]":
            self.pos += 1
            return items
        while True:
            items.append(self.value())
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("]")
            return items

    def key(self) -> str:
        self.skip_ws()
        if self.peek() == "`":
            end = self.text.index("`", self.pos + 1)
            name = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return name
        m = self._IDENT.match(self.text, self.pos)
        if not m:
            raise ParseError(f"expected a name at {self.pos} in {self.text!r}")
        self.pos = m.end()
        return m.group()

    def map_(self) -> dict[str, Any]:
        self.expect("{")
        out: dict[str, Any] = {}
        if self.peek() == "}":
            self.pos += 1
            return out
        while True:
            k = self.key()
            self.expect(":")
            out[k] = self.value()
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("}")
            return out

    def _props(self) -> dict[str, Any]:
        return self.map_() if self.peek() == "{" else {}

    def node(self) -> Node:
        self.expect("(")
        labels: set[str] = set()
        while self.peek() == ":":
            self.pos += 1
            labels.add(self.key())
        props = self._props()
        self.expect(")")
        return Node(frozenset(labels), props)

    def relationship(self) -> Rel:
        self.expect("[")
        self.expect(":")
        rel_type = self.key()
        props = self._props()
        self.expect("]")
        return Rel(rel_type, props)

    def path(self) -> Path_:
        self.expect("<")
        start = self.node()
        hops: list[tuple[Rel, str, Node]] = []
        while self.peek() != ">":
            if self.peek(2) == "<-":
                self.pos += 2
                rel = self.relationship()
                self.expect("-")
                direction = "<-"
            else:
                self.expect("-")
                rel = self.relationship()
                self.expect("->")
                direction = "->"
            hops.append((rel, direction, self.node()))
        self.expect(">")
        return Path_(start, tuple(hops))


def parse_value(text: str) -> Any:
    return ValueParser.parse(text)


# ---------------------------------------------------------------------------------------------
# Canonical form: hashable, type-tagged (so 1, 1.0 and true differ), NaN equal to itself.


def canon(value: Any, unordered_lists: bool = False) -> tuple:
    def c(v: Any) -> tuple:
        return canon(v, unordered_lists)

    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", "NaN") if math.isnan(value) else ("float", value)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, list):
        items = [c(v) for v in value]
        return ("list", tuple(sorted(items, key=repr) if unordered_lists else items))
    if isinstance(value, dict):
        return ("map", tuple(sorted((k, c(v)) for k, v in value.items())))
    if isinstance(value, Node):
        return ("node", tuple(sorted(value.labels)), c(value.props))
    if isinstance(value, Rel):
        return ("rel", value.type, c(value.props))
    if isinstance(value, Path_):
        return ("path", c(value.start), tuple((c(r), d, c(n)) for r, d, n in value.hops))
    return ("other", repr(value))


def render(value: Any) -> str:
    """A value in the TCK's syntax, for the failures file."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Inf" if value > 0 else "-Inf"
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Node):
        labels = "".join(f":{label}" for label in sorted(value.labels))
        props = (" " if labels else "") + render(value.props) if value.props else ""
        return f"({labels}{props})"
    if isinstance(value, Rel):
        return f"[:{value.type}{' ' + render(value.props) if value.props else ''}]"
    if isinstance(value, Path_):
        parts = [render(value.start)]
        for rel, direction, node in value.hops:
            parts.append(f"-{render(rel)}->" if direction == "->" else f"<-{render(rel)}-")
            parts.append(render(node))
        return "<" + "".join(parts) + ">"
    return str(value)


# ---------------------------------------------------------------------------------------------
# Driver values → value model. Temporals become Neo4j's toString() text (java.time formats).


def _fraction(nanos: int) -> str:
    """Java LocalTime style: milli, micro or nano digits, whichever is the shortest exact one."""
    if nanos == 0:
        return ""
    if nanos % 1_000_000 == 0:
        return f".{nanos // 1_000_000:03d}"
    if nanos % 1_000 == 0:
        return f".{nanos // 1_000:06d}"
    return f".{nanos:09d}"


def _time_text(hour: int, minute: int, second: int, nanos: int) -> str:
    text = f"{hour:02d}:{minute:02d}"
    if second or nanos:
        text += f":{second:02d}{_fraction(nanos)}"
    return text


def _year_text(year: int) -> str:
    if year > 9999:
        return f"+{year}"
    return f"-{-year:04d}" if year < 0 else f"{year:04d}"


def _offset_text(seconds: int) -> str:
    if seconds == 0:
        return "Z"
    sign = "+" if seconds > 0 else "-"
    h, rest = divmod(abs(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")


def _zone_name(tzinfo: Any) -> str | None:
    """The zone id of a named time zone; None for a fixed offset. The driver hydrates offset 0 as
    pytz's UTC, so a bare "UTC" is taken as the offset Z (the TCK never expects `[UTC]`)."""
    name = getattr(tzinfo, "zone", None) or getattr(tzinfo, "key", None)
    return name if isinstance(name, str) and name != "UTC" else None


def _date_text(d: Any) -> str:
    return f"{_year_text(d.year)}-{d.month:02d}-{d.day:02d}"


def _datetime_text(dt: Any) -> str:
    nanos = getattr(dt, "nanosecond", getattr(dt, "microsecond", 0) * 1000)
    text = f"{_date_text(dt)}T{_time_text(dt.hour, dt.minute, dt.second, nanos)}"
    if dt.tzinfo is None:
        return text
    offset = dt.utcoffset()
    text += _offset_text(int(offset.total_seconds())) if offset is not None else ""
    zone = _zone_name(dt.tzinfo)
    return text + (f"[{zone}]" if zone else "")


def _clock_text(t: Any) -> str:
    nanos = getattr(t, "nanosecond", getattr(t, "microsecond", 0) * 1000)
    text = _time_text(t.hour, t.minute, t.second, nanos)
    if t.tzinfo is None:
        return text
    offset = t.utcoffset() if hasattr(t, "utcoffset") else None
    if offset is None:
        offset = t.tzinfo.utcoffset(None)
    return text + _offset_text(int(offset.total_seconds()))


def duration_text(months: int, days: int, seconds: int, nanoseconds: int) -> str:
    """Neo4j's Duration.toString(): each unit carries its own sign, seconds with trimmed fraction."""
    years, months = int(months / 12), months - 12 * int(months / 12)
    total_ns = seconds * 1_000_000_000 + nanoseconds
    sign = "-" if total_ns < 0 else ""
    whole, frac = divmod(abs(total_ns), 1_000_000_000)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    date = "".join(f"{n}{u}" for n, u in ((years, "Y"), (months, "M"), (days, "D")) if n)
    clock = "".join(f"{sign}{n}{u}" for n, u in ((hours, "H"), (minutes, "M")) if n)
    if secs or frac:
        clock += f"{sign}{secs}" + (f".{frac:09d}".rstrip("0") if frac else "") + "S"
    if not date and not clock:
        return "PT0S"
    return "P" + date + ("T" + clock if clock else "")


def from_driver(value: Any) -> Any:
    """The value model of something the neo4j driver returned."""
    if isinstance(value, graph.Node):
        return Node(frozenset(value.labels), {k: from_driver(v) for k, v in value.items()})
    if isinstance(value, graph.Relationship):
        return Rel(value.type, {k: from_driver(v) for k, v in value.items()})
    if isinstance(value, graph.Path):
        return _path_from_driver(value)
    if isinstance(value, list):
        return [from_driver(v) for v in value]
    if isinstance(value, dict):
        return {k: from_driver(v) for k, v in value.items()}
    if isinstance(value, ntime.Duration):
        return duration_text(value.months, value.days, value.seconds, value.nanoseconds)
    if isinstance(value, pydt.timedelta):
        return duration_text(0, value.days, value.seconds, value.microseconds * 1000)
    if isinstance(value, (ntime.DateTime, pydt.datetime)):
        return _datetime_text(value)
    if isinstance(value, (ntime.Date, pydt.date)):
        return _date_text(value)
    if isinstance(value, (ntime.Time, pydt.time)):
        return _clock_text(value)
    return value


def _path_from_driver(path: Any) -> Path_:
    nodes = [from_driver(n) for n in path.nodes]
    hops = []
    for i, rel in enumerate(path.relationships):
        forward = rel.start_node.element_id == path.nodes[i].element_id
        hops.append((from_driver(rel), "->" if forward else "<-", nodes[i + 1]))
    return Path_(nodes[0], tuple(hops))


# ---------------------------------------------------------------------------------------------
# Gherkin: just what the TCK uses (Feature, Background, Scenario, Scenario Outline + Examples,
# tags, comments, docstrings, tables).

STEP_WORDS = ("Given ", "When ", "Then ", "And ", "But ")


@dataclass
class Step:
    text: str
    docstring: str | None = None
    table: list[list[str]] | None = None


@dataclass
class Scenario:
    feature: str  # path below features/
    name: str
    steps: list[Step]

    @property
    def area(self) -> str:
        return str(Path(self.feature).parent)


def split_cells(line: str) -> list[str]:
    """Cells of a `| a | b |` row, with Gherkin's escapes (\\|, \\\\, \\n) undone."""
    cells: list[str] = []
    cur: list[str] = []
    body = line.strip()[1:]
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in "|\\n":
            nxt = body[i + 1]
            cur.append("\n" if nxt == "n" else nxt)
            i += 2
            continue
        if ch == "|":
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    return cells


def _substitute(text: str, row: dict[str, str]) -> str:
    for k, v in row.items():
        text = text.replace(f"<{k}>", v)
    return text


def _expand(step: Step, row: dict[str, str]) -> Step:
    return Step(
        _substitute(step.text, row),
        _substitute(step.docstring, row) if step.docstring is not None else None,
        [[_substitute(c, row) for c in r] for r in step.table] if step.table is not None else None,
    )


class FeatureParser:
    """Line-oriented parser; a Scenario Outline is expanded once per Examples row."""

    def __init__(self, text: str, feature: str) -> None:
        self.lines = text.splitlines()
        self.feature = feature
        self.i = 0
        self.background: list[Step] = []
        self.scenarios: list[Scenario] = []

    def parse(self) -> list[Scenario]:
        kind, name = "", ""  # the block being read
        steps: list[Step] = []
        examples: list[list[list[str]]] = []
        while self.i < len(self.lines):
            line = self.lines[self.i].strip()
            self.i += 1
            if not line or line.startswith(("#", "@")):
                continue
            head, _, rest = line.partition(":")
            if head in ("Background", "Scenario", "Scenario Outline", "Feature"):
                self._finish(kind, name, steps, examples)
                kind, name, steps, examples = head, rest.strip(), [], []
            elif head in ("Examples", "Scenarios"):
                examples.append(self._table())
            elif line.startswith(STEP_WORDS):
                steps.append(self._step(line.split(" ", 1)[1]))
        self._finish(kind, name, steps, examples)
        return self.scenarios

    def _step(self, text: str) -> Step:
        step = Step(text.strip())
        nxt = self._peek()
        if nxt.startswith('"""'):
            step.docstring = self._docstring()
        elif nxt.startswith("|"):
            step.table = self._table()
        return step

    def _peek(self) -> str:
        while self.i < len(self.lines) and (
            not self.lines[self.i].strip() or self.lines[self.i].strip().startswith("#")
        ):
            self.i += 1
        return self.lines[self.i].strip() if self.i < len(self.lines) else ""

    def _docstring(self) -> str:
        self._peek()
        indent = len(self.lines[self.i]) - len(self.lines[self.i].lstrip())
        self.i += 1
        body: list[str] = []
        while self.i < len(self.lines) and self.lines[self.i].strip() != '"""':
            raw = self.lines[self.i]
            body.append(raw[indent:] if raw[:indent].strip() == "" else raw.lstrip())
            self.i += 1
        self.i += 1
        return "\n".join(body)

    def _table(self) -> list[list[str]]:
        rows: list[list[str]] = []
        while self._peek().startswith("|"):
            rows.append(split_cells(self.lines[self.i]))
            self.i += 1
        return rows

    def _finish(self, kind: str, name: str, steps: list[Step], examples: list) -> None:
        if kind == "Background":
            self.background = steps
        elif kind == "Scenario":
            self.scenarios.append(Scenario(self.feature, name, self.background + steps))
        elif kind == "Scenario Outline":
            for table in examples:
                for values in table[1:]:
                    row = dict(zip(table[0], values))
                    expanded = [_expand(s, row) for s in self.background + steps]
                    self.scenarios.append(Scenario(self.feature, _substitute(name, row), expanded))


def load_scenarios(features: Path) -> list[Scenario]:
    out: list[Scenario] = []
    for path in sorted(features.rglob("*.feature")):
        rel = str(path.relative_to(features))
        out.extend(FeatureParser(path.read_text(encoding="utf-8"), rel).parse())
    return out


# ---------------------------------------------------------------------------------------------
# The server under test.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One boltd process with a throw-away data directory, and a driver connected to it."""

    def __init__(self, binary: str, timeout: float) -> None:
        self.binary = binary
        self.timeout = timeout
        self.dir = Path(tempfile.mkdtemp(prefix="boltd-tck-"))
        self.proc: subprocess.Popen | None = None
        self.driver: Any = None
        self.restarts = 0
        self.start()

    def start(self) -> None:
        self.port = free_port()
        args = [
            self.binary,
            "--bolt-address=127.0.0.1",
            f"--bolt-port={self.port}",
            f"--data-directory={self.dir / 'data'}",
            f"--log-file={self.dir / 'boltd.log'}",
            "--log-level=warning",
            "--storage-wal-enabled=false",
            "--storage-snapshot-on-exit=false",
            "--storage-snapshot-interval-sec=0",
            "--data-recovery-on-startup=false",
            f"--query-execution-timeout-sec={max(1, int(self.timeout))}",
        ]
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_listening()
        self.driver = neo4j.GraphDatabase.driver(
            f"bolt://127.0.0.1:{self.port}", auth=None, max_connection_pool_size=2
        )

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"boltd exited at start with code {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("boltd did not start listening")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.driver is not None:
            try:
                self.driver.close()
            except (OSError, neo4j.exceptions.DriverError):
                pass  # the server is gone already; nothing is left to close cleanly
        self.driver = None

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class QueryTimeout(Exception):
    pass


class ServerDied(Exception):
    pass


@dataclass
class Outcome:
    """What one query did: its columns and rows, or the error and the phase it came in."""

    keys: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    error: str | None = None
    phase: str | None = None  # "compile time" (at RUN) or "runtime" (while pulling)


def _run_query(server: Server, query: str, params: dict[str, Any]) -> Outcome:
    with server.driver.session() as session:
        try:
            result = session.run(query, params)
        except Exception as exc:  # noqa: BLE001 - every failure is an outcome
            return Outcome(error=_error_text(exc), phase="compile time")
        try:
            keys = list(result.keys())
            rows = [[from_driver(v) for v in record.values()] for record in result]
            return Outcome(keys=keys, rows=rows)
        except Exception as exc:  # noqa: BLE001
            return Outcome(error=_error_text(exc), phase="runtime")


def _error_text(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}".strip()


def execute(server: Server, query: str, params: dict[str, Any] | None = None) -> Outcome:
    """Runs one auto-commit query on a helper thread so that a hung server can be killed."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(_run_query, server, query, params or {})
    try:
        outcome = future.result(timeout=server.timeout)
    except concurrent.futures.TimeoutError:
        server.stop()  # unblocks the helper thread
        raise QueryTimeout(f"no answer within {server.timeout:g} s") from None
    finally:
        pool.shutdown(wait=True)
    if outcome.error and not server.alive():
        raise ServerDied(outcome.error)  # a crash must not pass as an expected error
    return outcome


def must(server: Server, query: str) -> Outcome:
    outcome = execute(server, query)
    if outcome.error:
        raise SetupError(f"{outcome.error} in: {query}")
    return outcome


class SetupError(Exception):
    pass


def reset(server: Server) -> None:
    """Empties the graph and drops every index and constraint (Memgraph's DROP syntax)."""
    must(server, "MATCH (n) DETACH DELETE n")
    for stmt in _schema_drops(server):
        execute(server, stmt)


def _schema_drops(server: Server) -> Iterable[str]:
    indexes = execute(server, "SHOW INDEX INFO")
    for row in indexes.rows if not indexes.error else []:
        info = dict(zip(indexes.keys, row))
        label, prop = info.get("label"), info.get("property")
        if isinstance(prop, list):
            prop = ", ".join(prop)
        if label:
            yield f"DROP INDEX ON :{label}({prop})" if prop else f"DROP INDEX ON :{label}"
    constraints = execute(server, "SHOW CONSTRAINT INFO")
    for row in constraints.rows if not constraints.error else []:
        info = dict(zip(constraints.keys, row))
        kind, label = info.get("constraint type"), info.get("label")
        props = info.get("properties")
        names = props if isinstance(props, list) else [props]
        refs = ", ".join(f"n.{p}" for p in names)
        if kind == "exists":
            yield f"DROP CONSTRAINT ON (n:{label}) ASSERT EXISTS ({refs})"
        elif kind == "unique":
            yield f"DROP CONSTRAINT ON (n:{label}) ASSERT {refs} IS UNIQUE"


# ---------------------------------------------------------------------------------------------
# Side effects: differences of observable graph state, as the TCK README defines them.

EFFECT_KINDS = ("nodes", "relationships", "labels", "properties")


@dataclass
class GraphState:
    nodes: set
    relationships: set
    labels: set
    properties: set


def graph_state(server: Server) -> GraphState:
    nodes = must(server, "MATCH (n) RETURN id(n), labels(n), properties(n)")
    rels = must(server, "MATCH ()-[r]->() RETURN id(r), properties(r)")
    props = {("n", i, k, canon(v)) for i, _, p in nodes.rows for k, v in p.items()}
    props |= {("r", i, k, canon(v)) for i, p in rels.rows for k, v in p.items()}
    return GraphState(
        nodes={i for i, _, _ in nodes.rows},
        relationships={i for i, _ in rels.rows},
        labels={label for _, labels, _ in nodes.rows for label in labels},
        properties=props,
    )


def side_effects(before: GraphState, after: GraphState) -> dict[str, int]:
    out: dict[str, int] = {}
    for kind in EFFECT_KINDS:
        b, a = getattr(before, kind), getattr(after, kind)
        out[f"+{kind}"] = len(a - b)
        out[f"-{kind}"] = len(b - a)
    return out


# ---------------------------------------------------------------------------------------------
# Scenario execution.


class Failure(Exception):
    """A scenario's failure: `cause` groups failures for the summary, `detail` is for humans."""

    def __init__(self, cause: str, detail: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.detail = detail


@dataclass
class Result:
    scenario: Scenario
    passed: bool
    cause: str = ""
    detail: str = ""
    query: str = ""
    wrong_phase: bool = False
    unknown_steps: list[str] = field(default_factory=list)


RESULT_STEP = re.compile(
    r"the result should be(?:, in (any order|order))?(?: \(ignoring element order for lists\))?:$"
)
ERROR_STEP = re.compile(r"an? (\w+) should be raised at (compile time|runtime|any time): ?(.*)$")


class ScenarioRun:
    """The state of one scenario while its steps run."""

    def __init__(self, server: Server, scenario: Scenario, graphs: Path) -> None:
        self.server = server
        self.scenario = scenario
        self.graphs = graphs
        self.params: dict[str, Any] = {}
        self.query = ""
        self.outcome: Outcome | None = None
        self.before: GraphState | None = None
        self.wrong_phase = False
        self.needs_state = any("side effects" in s.text for s in scenario.steps)

    def run(self) -> Result:
        unknown = [s.text for s in self.scenario.steps if not self._known(s)]
        if unknown:
            cause = "unsupported step: " + unknown[0].split("(")[0].strip()
            return Result(self.scenario, False, cause, "\n".join(unknown), unknown_steps=unknown)
        try:
            for step in self.scenario.steps:
                self.step(step)
        except Failure as f:
            return Result(self.scenario, False, f.cause, f.detail, self.query, self.wrong_phase)
        except (QueryTimeout, ServerDied) as exc:  # the caller restarts the server
            cause = f"timeout: {exc}" if isinstance(exc, QueryTimeout) else "server died"
            return Result(self.scenario, False, cause, str(exc), self.query)
        return Result(self.scenario, True, query=self.query, wrong_phase=self.wrong_phase)

    @staticmethod
    def _known(step: Step) -> bool:
        t = step.text
        return (
            t
            in (
                "an empty graph",
                "any graph",
                "having executed:",
                "parameters are:",
                "executing query:",
                "executing control query:",
                "the result should be empty",
                "the side effects should be:",
                "no side effects",
            )
            or bool(re.fullmatch(r"the [\w-]+ graph", t))
            or bool(RESULT_STEP.match(t))
            or bool(ERROR_STEP.match(t))
        )

    def step(self, step: Step) -> None:
        t = step.text
        if t in ("an empty graph", "any graph"):
            return  # every scenario starts from an empty graph
        if m := re.fullmatch(r"the ([\w-]+) graph", t):
            return self._load_graph(m.group(1))
        if t == "having executed:":
            return self._setup(step.docstring or "")
        if t == "parameters are:":
            self.params = {row[0]: parse_value(row[1]) for row in step.table or []}
            return
        if t in ("executing query:", "executing control query:"):
            return self._execute(step.docstring or "")
        if t == "the result should be empty":
            return self._check_rows(Step(t, table=[[]]), ordered=False, unordered_lists=False)
        if m := RESULT_STEP.match(t):
            return self._check_rows(step, ordered=m.group(1) == "order", unordered_lists="ignoring" in t)
        if m := ERROR_STEP.match(t):
            return self._check_error(m.group(1), m.group(2), m.group(3))
        if t == "the side effects should be:":
            return self._check_effects({row[0]: int(row[1]) for row in step.table or []})
        if t == "no side effects":
            return self._check_effects({})

    def _load_graph(self, name: str) -> None:
        script = (self.graphs / name / f"{name}.cypher").read_text(encoding="utf-8")
        for stmt in (s.strip() for s in script.split(";")):
            if stmt:
                self._setup(stmt)

    def _setup(self, query: str) -> None:
        outcome = execute(self.server, query)
        if outcome.error:
            raise Failure(f"setup failed: {outcome.error}", f"setup query:\n{indent(query)}")

    def _execute(self, query: str) -> None:
        self.query = query
        self.before = graph_state(self.server) if self.needs_state else None
        self.outcome = execute(self.server, query, self.params)

    def _ok_outcome(self) -> Outcome:
        assert self.outcome is not None
        if self.outcome.error:
            raise Failure(self.outcome.error, f"unexpected error: {self.outcome.error}")
        return self.outcome

    def _check_rows(self, step: Step, ordered: bool, unordered_lists: bool) -> None:
        outcome = self._ok_outcome()
        table = step.table or [[]]
        header, expected_rows = table[0], table[1:]
        try:
            expected = [[parse_value(c) for c in row] for row in expected_rows]
        except ParseError as exc:
            raise Failure("runner could not parse the expected value", str(exc)) from None
        if expected_rows and sorted(header) != sorted(outcome.keys):
            raise Failure("wrong columns", f"expected columns {header}\n     got columns {outcome.keys}")
        got = _reorder(outcome, header) if expected_rows else outcome.rows
        if not _rows_equal(expected, got, ordered, unordered_lists):
            raise Failure(f"wrong result in {self.scenario.area}", _rows_detail(header, expected, got))

    def _check_error(self, kind: str, phase: str, detail: str) -> None:
        assert self.outcome is not None
        if not self.outcome.error:
            raise Failure(
                f"expected {kind} ({detail or phase}) was not raised",
                f"expected {kind} at {phase}: {detail}\n"
                f"got {len(self.outcome.rows)} row(s): {_render_rows(self.outcome.rows[:5])}",
            )
        if phase != "any time" and self.outcome.phase != phase:
            self.wrong_phase = True

    def _check_effects(self, expected: dict[str, int]) -> None:
        self._ok_outcome()
        assert self.before is not None
        got = side_effects(self.before, graph_state(self.server))
        want = {k: expected.get(k, 0) for k in got}
        if want != got:
            diff = {k: (want[k], got[k]) for k in got if want[k] != got[k]}
            text = ", ".join(f"{k}: expected {w} got {g}" for k, (w, g) in diff.items())
            raise Failure("wrong side effects", text)


def _reorder(outcome: Outcome, header: list[str]) -> list[list[Any]]:
    index = [outcome.keys.index(h) for h in header]
    return [[row[i] for i in index] for row in outcome.rows]


def _rows_equal(expected: list[list[Any]], got: list[list[Any]], ordered: bool, unordered: bool) -> bool:
    def key(row: list[Any]) -> tuple:
        return tuple(canon(v, unordered) for v in row)

    e, g = [key(r) for r in expected], [key(r) for r in got]
    return e == g if ordered else collections.Counter(e) == collections.Counter(g)


def _render_rows(rows: list[list[Any]]) -> str:
    return "; ".join("| " + " | ".join(render(v) for v in row) + " |" for row in rows) or "(none)"


def _rows_detail(header: list[str], expected: list[list[Any]], got: list[list[Any]]) -> str:
    def block(rows: list[list[Any]]) -> str:
        shown = [f"      | {' | '.join(render(v) for v in row)} |" for row in rows[:20]]
        more = [f"      ... {len(rows) - 20} more"] if len(rows) > 20 else []
        return "\n".join(shown + more) or "      (no rows)"

    return f"columns | {' | '.join(header)} |\n  expected:\n{block(expected)}\n  got:\n{block(got)}"


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def run_scenario(server: Server, scenario: Scenario, graphs: Path) -> Result:
    try:
        if not server.alive():
            server.restart()
        reset(server)
        return ScenarioRun(server, scenario, graphs).run()
    except QueryTimeout as exc:
        server.restart()
        return Result(scenario, False, f"timeout: {exc}")
    except ServerDied as exc:
        server.restart()
        return Result(scenario, False, "server died", str(exc))
    except SetupError as exc:
        server.restart()
        return Result(scenario, False, f"runner setup failed: {_first_line(str(exc))}", str(exc))
    except Exception as exc:  # noqa: BLE001 - a crash of the server or the runner fails one scenario
        crashed = not server.alive()
        server.restart()
        cause = "server died" if crashed else f"runner error: {type(exc).__name__}: {exc}"
        return Result(scenario, False, _first_line(cause), "")


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else text


# ---------------------------------------------------------------------------------------------
# Reporting.


def _mask_quoted(m: re.Match) -> str:
    """Keeps quoted names and operators (they tell which feature is missing), masks data."""
    inner = m.group()[1:-1]
    return m.group() if re.fullmatch(r"[A-Za-z_][\w.]*|[^\w\s]{1,2}", inner) else "'…'"


def normalise_cause(cause: str) -> str:
    """Groups failures whose messages differ only in names, numbers or quoted text."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", _mask_quoted, cause)
    text = re.sub(r"\b\d+\b", "N", text)
    text = re.sub(r"\{code: [^}]*\}", "", text)
    return text[:200]


def summarise(results: list[Result]) -> dict[str, Any]:
    areas: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for r in results:
        areas[r.scenario.area][1] += 1
        areas[r.scenario.area][0] += int(r.passed)
    causes = collections.Counter(normalise_cause(r.cause) for r in results if not r.passed)
    passed = sum(int(r.passed) for r in results)
    return {
        "overall": {"passed": passed, "total": len(results), "percent": _pct(passed, len(results))},
        "areas": {a: {"passed": p, "total": t, "percent": _pct(p, t)} for a, (p, t) in sorted(areas.items())},
        "wrong_phase_errors": sum(int(r.wrong_phase) for r in results),
        "timeouts_or_crashes": sum(int(r.cause.startswith(("timeout", "server died"))) for r in results),
        "unknown_steps": sum(len(r.unknown_steps) for r in results),
        "top_causes": [{"count": n, "cause": c} for c, n in causes.most_common(30)],
    }


def _pct(p: int, t: int) -> float:
    return round(100.0 * p / t, 1) if t else 0.0


def print_summary(summary: dict[str, Any], out: Any = sys.stdout) -> None:
    width = max([len(a) for a in summary["areas"]] + [7])
    print(f"{'area':<{width}}  {'pass':>5} {'total':>5} {'%':>6}", file=out)
    for area, s in summary["areas"].items():
        print(f"{area:<{width}}  {s['passed']:>5} {s['total']:>5} {s['percent']:>6.1f}", file=out)
    o = summary["overall"]
    print(f"{'overall':<{width}}  {o['passed']:>5} {o['total']:>5} {o['percent']:>6.1f}", file=out)
    print(
        f"\nexpected errors raised in the other phase (not failed): {summary['wrong_phase_errors']}", file=out
    )
    print(f"timeouts or server crashes (server restarted): {summary['timeouts_or_crashes']}", file=out)
    print(f"warning: unknown steps: {summary['unknown_steps']}", file=out)
    print("\ntop failure causes:", file=out)
    for c in summary["top_causes"][:15]:
        print(f"  {c['count']:>5}  {c['cause']}", file=out)


def write_failures(results: list[Result], path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in results:
            if r.passed:
                continue
            f.write(f"=== {r.scenario.feature} :: {r.scenario.name}\n")
            f.write(f"cause: {r.cause}\n")
            if r.query:
                f.write(f"query:\n{indent(r.query)}\n")
            if r.detail:
                f.write(f"{r.detail}\n")
            f.write("\n")


# ---------------------------------------------------------------------------------------------
# Driving the run.


def run_all(
    scenarios: list[Scenario],
    binary: str,
    graphs: Path,
    jobs: int,
    timeout: float,
    progress: Callable[[int, int], None],
) -> list[Result]:
    results: list[Result | None] = [None] * len(scenarios)
    lock = threading.Lock()
    done = [0]

    def worker(indices: list[int]) -> None:
        server = Server(binary, timeout)
        try:
            for i in indices:
                results[i] = run_scenario(server, scenarios[i], graphs)
                if not server.alive():
                    server.restart()
                with lock:
                    done[0] += 1
                    progress(done[0], len(scenarios))
        finally:
            server.close()

    shards = [list(range(j, len(scenarios), jobs)) for j in range(jobs)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for fut in [pool.submit(worker, s) for s in shards if s]:
            fut.result()
    return [r for r in results if r is not None]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Run the openCypher TCK against boltd.")
    p.add_argument("--bin", required=True, help="the boltd binary to start")
    p.add_argument("--features", required=True, type=Path, help="the TCK's features directory")
    p.add_argument("--graphs", type=Path, help="named graphs (default: ../graphs beside --features)")
    p.add_argument("--filter", default="", help="run only scenarios whose path or name contains this")
    p.add_argument("--jobs", type=int, default=1, help="servers run in parallel (default 1)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds one query may take (default 10)")
    p.add_argument("--json", type=Path, help="write the summary as JSON here")
    p.add_argument("--failures", type=Path, help="write every failed scenario's details here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    graphs = args.graphs or args.features.parent / "graphs"
    needle = args.filter.lower()
    scenarios = [
        s for s in load_scenarios(args.features) if needle in s.feature.lower() or needle in s.name.lower()
    ]
    if not scenarios:
        print("no scenarios matched", file=sys.stderr)
        return 2

    def progress(done: int, total: int) -> None:
        if done % 200 == 0 or done == total:
            print(f"  {done}/{total}", file=sys.stderr, flush=True)

    started = time.monotonic()
    results = run_all(scenarios, args.bin, graphs, max(1, args.jobs), args.timeout, progress)
    summary = summarise(results)
    summary["seconds"] = round(time.monotonic() - started, 1)
    print_summary(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if args.failures:
        write_failures(results, args.failures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
