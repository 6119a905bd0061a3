"""DUMP DATABASE through pymgclient: the dump of one server, replayed on a fresh one, rebuilds it."""

import datetime
from zoneinfo import ZoneInfo

import mgclient

from conftest import Boltd


def autocommit(server):
    conn = mgclient.connect(host="127.0.0.1", port=server.port, sslmode=mgclient.MG_SSLMODE_DISABLE)
    conn.autocommit = True
    return conn, conn.cursor()


def shape(cur):
    """The graph and its schema, independent of node ids."""
    out = []
    for query in [
        "MATCH (n) RETURN n.key, labels(n), properties(n) ORDER BY n.key",
        "MATCH (a)-[r]->(b) RETURN a.key, type(r), properties(r), b.key ORDER BY a.key, b.key",
        "SHOW INDEX INFO",
        "SHOW CONSTRAINT INFO",
    ]:
        cur.execute(query)
        out.append(sorted(cur.fetchall(), key=repr))
    return out


def test_dump_replayed_on_a_fresh_server_rebuilds_graph_and_schema(boltd_plain, tmp_path):
    conn, cur = autocommit(boltd_plain)
    for statement in [
        "CREATE INDEX ON :Person",
        "CREATE INDEX ON :Person(name)",
        "CREATE CONSTRAINT ON (p:Person) ASSERT p.key IS UNIQUE",
        "CREATE CONSTRAINT ON (p:Person) ASSERT EXISTS (p.name)",
    ]:
        cur.execute(statement)
    props = {
        "int": -7,
        "float": 2.0,
        "text": 'it\'s "quoted"\n\\ ✓',
        "flag": True,
        "list": [1, [2.5, "x"], {"k": None}],
        "map": {"a b": 1, "nested": {"c": [True]}},
        "date": datetime.date(2024, 2, 29),
        "localtime": datetime.time(13, 14, 15, 123456),
        "localdatetime": datetime.datetime(2024, 2, 29, 13, 14, 15, 123456),
        "offset_datetime": datetime.datetime(
            2024, 6, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=-3, minutes=-30))
        ),
        "zoned_datetime": datetime.datetime(2024, 6, 1, 12, 0, tzinfo=ZoneInfo("Europe/Zagreb")),
        "duration": datetime.timedelta(days=3, seconds=7, microseconds=11),
    }
    cur.execute(
        "CREATE (a:Person {key: 1, name: 'Ann'}), (b:Person:`Odd Label` {key: 2, name: 'Bob'}),"
        " (c:Thing $props), (a)-[:KNOWS {since: 2020}]->(b), (b)-[:`HAS IT`]->(c),"
        " (c)-[:SELF $props]->(c) SET c.key = 3",
        {"props": props},
    )
    cur.execute("DUMP DATABASE")
    assert [column.name for column in cur.description] == ["QUERY"]
    statements = [row[0] for row in cur.fetchall()]
    assert statements[-1] == "MATCH (u) REMOVE u:__mg_vertex__, u.__mg_id__;"
    original = shape(cur)
    conn.close()

    (tmp_path / "second").mkdir()
    second = Boltd(tmp_path / "second", tls=False)
    try:
        conn2, cur2 = autocommit(second)
        for statement in statements:
            cur2.execute(statement)
        rebuilt = shape(cur2)
        conn2.close()
    finally:
        assert second.stop() == 0, "the second boltd did not exit cleanly"
    assert rebuilt == original
    nodes = original[0]
    assert len(nodes) == 3 and len(original[1]) == 3
    # The awkward values survived as themselves, not as strings or integers.
    thing = nodes[2][2]
    assert thing["float"] == 2.0 and isinstance(thing["float"], float)
    assert thing["zoned_datetime"] == props["zoned_datetime"]
