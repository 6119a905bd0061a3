"""The graph survives restarts of the real process: pymgclient and the neo4j driver write, boltd is
stopped (SIGTERM, then SIGKILL) and started again on the same data directory, and everything
comes back: values of every kind, relationships and the indexes."""

import datetime
from zoneinfo import ZoneInfo

import mgclient
import neo4j
import pytest
import pytz
from neo4j.time import DateTime

from conftest import Boltd

PROPS = {
    "int": -(2**62),
    "float": 2.5,
    "text": "žabe 🐸 'quoted'",
    "flag": True,
    "list": [1, "two", [3.0], None],
    "map": {"a": 1, "nested": {"b": [True, "x"]}},
    "date": datetime.date(2024, 2, 29),
    "localdatetime": datetime.datetime(2024, 2, 29, 13, 14, 15, 123456),
    "offset_datetime": datetime.datetime(
        2024, 6, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=-3, minutes=-30))
    ),
    "zoned_datetime": datetime.datetime(2024, 6, 1, 12, 0, tzinfo=ZoneInfo("Europe/Zagreb")),
    "duration": datetime.timedelta(days=3, seconds=7, microseconds=11),
}


@pytest.fixture
def server(tmp_path):
    # No periodic snapshot: a SIGKILL leaves the WAL alone to recover from.
    server = Boltd(tmp_path, tls=False, extra=["--storage-snapshot-interval-sec=0"])
    yield server
    assert server.stop() == 0, "boltd did not exit cleanly"


def mg(server):
    conn = mgclient.connect(host="127.0.0.1", port=server.port, sslmode=mgclient.MG_SSLMODE_DISABLE)
    conn.autocommit = True
    return conn, conn.cursor()


def driver(server):
    return neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{server.port}", auth=None)


def rows(cur, query):
    cur.execute(query)
    return cur.fetchall()


def everything(server):
    """The graph and its schema as pymgclient reads them, in a stable order."""
    conn, cur = mg(server)
    try:
        return {
            "holders": rows(cur, "MATCH (h:Holder) RETURN h.kind, h.v ORDER BY h.kind"),
            "items": rows(cur, "MATCH (i:Item) RETURN i.key, i.name, i.when ORDER BY i.key"),
            "rels": rows(
                cur,
                "MATCH (a:Item)-[r:NEXT]->(b:Item) RETURN a.key, r.w, r.tags, b.key ORDER BY a.key",
            ),
            "indexes": sorted(rows(cur, "SHOW INDEX INFO"), key=repr),
        }
    finally:
        conn.close()


def test_writes_of_both_clients_survive_sigterm_and_sigkill(server):
    conn, cur = mg(server)
    cur.execute("CREATE INDEX ON :Item(key)")
    cur.execute("CREATE INDEX ON :Holder")
    for kind, value in PROPS.items():
        cur.execute("CREATE (:Holder {kind: $k, v: $v})", {"k": kind, "v": value})
    conn.close()

    zagreb = pytz.timezone("Europe/Zagreb")
    with driver(server) as d:
        def write(tx, keys):
            for k in keys:
                when = DateTime.from_native(zagreb.localize(datetime.datetime(2024, 1, 1, 8, 0) + datetime.timedelta(days=k)))
                tx.run("CREATE (:Item {key: $k, name: $n, when: $w})", k=k, n=f"item {k}", w=when)
            for k in keys[:-1]:
                tx.run(
                    "MATCH (a:Item {key: $a}), (b:Item {key: $b}) CREATE (a)-[:NEXT {w: $w, tags: $t}]->(b)",
                    a=k, b=k + 1, w=k / 2, t=["t", k],
                )

        with d.session() as session:
            session.execute_write(write, list(range(1, 21)))

    before = everything(server)
    assert [k for k, _ in before["holders"]] == sorted(PROPS)
    for kind, value in before["holders"]:
        assert value == PROPS[kind], kind
    assert len(before["items"]) == 20 and len(before["rels"]) == 19
    assert ("label+property", "Item", "key", 20) in before["indexes"]
    assert ("label", "Holder", None, len(PROPS)) in before["indexes"]

    assert server.restart() == 0, "SIGTERM: a clean exit"
    after_term = everything(server)
    assert after_term == before

    # The zone survived by name, not only as an offset.
    conn, cur = mg(server)
    assert rows(cur, "MATCH (h:Holder {kind: 'zoned_datetime'}) RETURN h.v.hour, h.v.timezone") == [
        (12, "Europe/Zagreb")
    ]
    conn.close()

    # More writes, through the neo4j driver, each acknowledged before the kill.
    with driver(server) as d:
        for k in range(21, 31):
            d.execute_query("CREATE (:Item {key: $k, name: $n, when: $w})", k=k, n=f"item {k}",
                            w=DateTime.from_native(zagreb.localize(datetime.datetime(2024, 3, 1, 8, 0))))
        records, _, _ = d.execute_query("MATCH (i:Item {key: 25}) RETURN i.when AS w")
        when_25 = records[0]["w"]
    assert server.restart(kill=True) == -9, "SIGKILL"

    after_kill = everything(server)
    assert after_kill["holders"] == before["holders"]
    assert after_kill["rels"] == before["rels"]
    assert [i[0] for i in after_kill["items"]] == list(range(1, 31))
    assert after_kill["items"][:20] == before["items"]
    assert ("label+property", "Item", "key", 30) in after_kill["indexes"]
    with driver(server) as d:
        records, _, _ = d.execute_query("MATCH (i:Item {key: 25}) RETURN i.when AS w, i.name AS n")
        assert records[0]["w"] == when_25
        assert records[0]["w"].utcoffset().total_seconds() == 3600
        assert records[0]["n"] == "item 25"
