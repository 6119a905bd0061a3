"""Subqueries, pattern comprehensions, EXPLAIN and PROFILE through the real clients."""

import mgclient
import neo4j


def driver_for(server):
    return neo4j.GraphDatabase.driver(f"bolt://localhost:{server.port}", auth=None)


SETUP = (
    "CREATE (a:P {name: 'a'}), (b:P {name: 'b'}), (c:P {name: 'c'}), "
    "(a)-[:KNOWS]->(b), (a)-[:KNOWS]->(c), (b)-[:KNOWS]->(c)"
)


def test_subqueries_and_comprehensions_with_the_neo4j_driver(boltd_plain):
    with driver_for(boltd_plain) as driver, driver.session() as session:
        session.run(SETUP).consume()
        names = session.run(
            "MATCH (p:P) WHERE EXISTS { MATCH (p)-[:KNOWS]->(:P {name: 'c'}) } "
            "RETURN p.name AS n ORDER BY n"
        ).value("n")
        assert names == ["a", "b"]
        counts = session.run(
            "MATCH (p:P) RETURN p.name AS n, COUNT { (p)-->() } AS out ORDER BY n"
        ).values("n", "out")
        assert counts == [["a", 2], ["b", 1], ["c", 0]]
        friends = session.run(
            "MATCH (p:P {name: 'a'}) RETURN [(p)-->(q) | q.name] AS f"
        ).single()["f"]
        assert sorted(friends) == ["b", "c"]
        summary = session.run(
            "UNWIND [1, 2, 3] AS i CALL { WITH i CREATE (:Made {i: i}) }"
        ).consume()
        assert summary.counters.nodes_created == 3
        total = session.run(
            "CALL { MATCH (m:Made) RETURN sum(m.i) AS s } RETURN s"
        ).single()["s"]
        assert total == 6


def test_explain_and_profile_with_pymgclient(boltd_plain):
    conn = mgclient.connect(host="127.0.0.1", port=boltd_plain.port)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(SETUP)
    cur.execute("CREATE INDEX ON :P(name)")
    cur.execute("EXPLAIN MATCH (n:P {name: 'a'})-[:KNOWS]->(m) RETURN m")
    assert [d.name for d in cur.description] == ["QUERY PLAN"]
    plan = [row[0] for row in cur.fetchall()]
    assert plan[-1] == " * Once"
    assert " * ScanAllByLabelPropertyValue (n :P {name})" in plan
    assert plan[0] == " * Produce {m}"
    cur.execute("PROFILE MATCH (n:P)-[:KNOWS]->(m) RETURN m")
    assert [d.name for d in cur.description] == [
        "OPERATOR",
        "ACTUAL HITS",
        "RELATIVE TIME",
        "ABSOLUTE TIME",
    ]
    rows = cur.fetchall()
    assert rows[0][0] == "* Produce {m}" and rows[0][1] == 3
    assert all(r[2].endswith(" %") and r[3].endswith(" ms") for r in rows)
    conn.close()
