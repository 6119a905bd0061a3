"""The embedded graph engine through pymgclient 1.6.0, over plaintext and TLS."""

import datetime
from zoneinfo import ZoneInfo

import mgclient
import pytest


def connect(server, **kwargs):
    mode = mgclient.MG_SSLMODE_REQUIRE if server.tls else mgclient.MG_SSLMODE_DISABLE
    return mgclient.connect(host="127.0.0.1", port=server.port, sslmode=mode, **kwargs)


def autocommit(server):
    """A connection in autocommit mode and a cursor on it."""
    conn = connect(server)
    conn.autocommit = True
    return conn, conn.cursor()


def count(server, query):
    conn, cur = autocommit(server)
    cur.execute(query)
    (n,) = cur.fetchone()
    conn.close()
    return n


def test_autocommit_off_commit_rollback_and_isolation(boltd_any):
    writer = connect(boltd_any)
    assert writer.autocommit is False
    cur = writer.cursor()
    cur.execute("CREATE (:Person {name: 'Ann'})")
    cur.execute("MATCH (p:Person) RETURN count(p)")
    assert cur.fetchall() == [(1,)]
    # Uncommitted: another connection does not see it.
    assert count(boltd_any, "MATCH (p:Person) RETURN count(p)") == 0
    writer.commit()
    assert count(boltd_any, "MATCH (p:Person) RETURN count(p)") == 1

    cur.execute("CREATE (:Person {name: 'Bob'})")
    writer.rollback()
    assert count(boltd_any, "MATCH (p:Person) RETURN count(p)") == 1
    writer.close()


def test_autocommit_on_and_lazy(boltd_any):
    conn, cur = autocommit(boltd_any)
    cur.execute("UNWIND range(1, 50) AS i CREATE (:Item {i: i})")
    assert cur.fetchall() == []
    conn.close()

    lazy = connect(boltd_any, lazy=True)
    cur = lazy.cursor()
    cur.execute("MATCH (n:Item) RETURN n.i AS i ORDER BY i")
    assert cur.fetchone() == (1,)
    assert cur.fetchmany(3) == [(2,), (3,), (4,)]
    assert len(cur.fetchall()) == 46
    lazy.close()


def test_rollback_on_disconnect(boltd_any):
    conn = connect(boltd_any)
    cur = conn.cursor()
    cur.execute("CREATE (:Ghost)")
    conn.close()
    assert count(boltd_any, "MATCH (g:Ghost) RETURN count(g)") == 0


def test_every_value_type_round_trips_as_a_parameter(boltd_any):
    conn, cur = autocommit(boltd_any)
    values = {
        "null": None,
        "bool": True,
        "int": -(2**62),
        "float": 2.5,
        "string": "žabe 🐸",
        "list": [1, "two", [3.0], None],
        "map": {"a": 1, "b": {"c": [True]}},
        "date": datetime.date(2024, 2, 29),
        "localtime": datetime.time(13, 14, 15, 123456),
        "localdatetime": datetime.datetime(2024, 2, 29, 13, 14, 15, 123456),
        "offset_datetime": datetime.datetime(
            2024, 6, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
        ),
        "zoned_datetime": datetime.datetime(2024, 6, 1, 12, 0, tzinfo=ZoneInfo("Europe/Zagreb")),
        "duration": datetime.timedelta(days=3, seconds=7, microseconds=11),
    }
    for name, value in values.items():
        cur.execute("RETURN $v AS v", {"v": value})
        (got,) = cur.fetchone()
        assert got == value, name
        assert type(got) is type(value), name
        # Stored as a property and read back, too (nodes cannot hold null).
        if value is not None:
            cur.execute("CREATE (n:Holder {kind: $k, v: $v}) RETURN n.v", {"k": name, "v": value})
            assert cur.fetchone() == (value,), name
    cur.execute("MATCH (n:Holder {kind: 'zoned_datetime'}) RETURN n.v.hour, n.v.timezone")
    assert cur.fetchone() == (12, "Europe/Zagreb")
    conn.close()


def test_nodes_relationships_and_paths_decode(boltd_any):
    conn, cur = autocommit(boltd_any)
    cur.execute(
        "CREATE p = (a:City {name: 'Zagreb'})-[r:ROAD {km: 280}]->(b:City:Coastal {name: 'Split'}) "
        "RETURN a, r, b, p"
    )
    a, r, b, p = cur.fetchone()
    assert isinstance(a, mgclient.Node) and isinstance(b, mgclient.Node)
    assert a.labels == {"City"} and b.labels == {"City", "Coastal"}
    assert a.properties == {"name": "Zagreb"}
    assert isinstance(r, mgclient.Relationship)
    assert (r.start_id, r.end_id, r.type, r.properties) == (a.id, b.id, "ROAD", {"km": 280})
    assert isinstance(p, mgclient.Path)
    assert [n.id for n in p.nodes] == [a.id, b.id]
    assert [rel.id for rel in p.relationships] == [r.id]

    cur.execute("MATCH p = (x)<-[:ROAD]-(y) RETURN p")
    (back,) = cur.fetchone()
    assert [n.properties["name"] for n in back.nodes] == ["Split", "Zagreb"]
    conn.close()


def test_assert_fails_mid_stream(boltd_any):
    conn = connect(boltd_any, lazy=True)
    cur = conn.cursor()
    cur.execute("UNWIND [1, 2, 3] AS x RETURN assert(x < 3, 'x too big') AS ok")
    assert cur.fetchone() == (True,)
    assert cur.fetchone() == (True,)
    with pytest.raises(mgclient.DatabaseError, match="x too big"):
        cur.fetchone()
    # The connection is usable afterwards.
    cur.execute("RETURN 1 AS one")
    assert cur.fetchall() == [(1,)]
    conn.close()


def test_failed_query_in_transaction_is_rolled_back(boltd_any):
    conn = connect(boltd_any)
    cur = conn.cursor()
    cur.execute("CREATE (:Partial)")
    with pytest.raises(mgclient.DatabaseError, match="Division by zero"):
        cur.execute("CREATE (:Partial {v: 1 / 0})")
    conn.commit()
    assert count(boltd_any, "MATCH (n:Partial) RETURN count(n)") == 0
    conn.close()


def test_one_megabyte_query(boltd_any):
    conn, cur = autocommit(boltd_any)
    big = "x" * (1024 * 1024)
    cur.execute(f"CREATE (n:Big {{s: '{big}'}}) RETURN size(n.s)")
    assert cur.fetchall() == [(1024 * 1024,)]
    conn.close()


def test_indexes_and_constraints(boltd_any):
    conn, cur = autocommit(boltd_any)
    cur.execute("CREATE INDEX ON :User(email)")
    cur.execute("CREATE CONSTRAINT ON (u:User) ASSERT u.email IS UNIQUE")
    cur.execute("CREATE (:User {email: 'a@example.com'})")
    with pytest.raises(mgclient.DatabaseError, match="unique constraint"):
        cur.execute("CREATE (:User {email: 'a@example.com'})")
    cur.execute("SHOW INDEX INFO")
    assert ("label+property", "User", "email", 1) in cur.fetchall()
    cur.execute("MATCH (u:User {email: $e}) RETURN count(u)", {"e": "a@example.com"})
    assert cur.fetchall() == [(1,)]
    conn.close()

    tx = connect(boltd_any)
    with pytest.raises(mgclient.DatabaseError, match="multicommand"):
        tx.cursor().execute("CREATE INDEX ON :User(name)")
    tx.close()


def test_timeout_and_memory_limit_flags(tmp_path):
    from conftest import Boltd

    server = Boltd(
        tmp_path, tls=False, extra=["--query-execution-timeout-sec=3", "--memory-limit=64"]
    )
    server.tls = False
    try:
        conn, cur = autocommit(server)
        cur.execute(
            "UNWIND range(1, 12) AS i CREATE (:K {i: i}) WITH count(*) AS c "
            "MATCH (a:K), (b:K) CREATE (a)-[:E]->(b)"
        )
        # Every path through a complete graph, none of them kept: far more than 3 s of work.
        with pytest.raises(mgclient.DatabaseError, match="--query-execution-timeout-sec"):
            cur.execute("MATCH (a:K {i: 1})-[*]->(b) WHERE b.i < 0 RETURN count(b)")
        with pytest.raises(mgclient.DatabaseError, match="--memory-limit"):
            cur.execute("UNWIND range(1, 100000000) AS x RETURN collect(x)")
        # The server and the connection carry on.
        cur.execute("MATCH (k:K) RETURN count(k)")
        assert cur.fetchall() == [(12,)]
        conn.close()
    finally:
        assert server.stop() == 0
