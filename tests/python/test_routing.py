"""The neo4j 6.x driver over neo4j:// and neo4j+ssc://: routing on one server.

The driver sends ROUTE before its first query and then connects to the addresses in the table,
so every query here only works if the table names a reachable READ and WRITE member.
"""

import neo4j
import pytest
from neo4j import RoutingControl
from neo4j.exceptions import ClientError


def _exercise(driver):
    driver.verify_connectivity()
    driver.execute_query("CREATE (:Routed {n: $n})", n=1, routing_=RoutingControl.WRITE)
    records, _, _ = driver.execute_query(
        "MATCH (r:Routed) RETURN count(r) AS c", routing_=RoutingControl.READ
    )
    assert records[0]["c"] == 1
    with driver.session(database="memgraph") as session:
        session.execute_write(lambda tx: tx.run("CREATE (:Routed {n: 2})").consume())
        total = session.execute_read(
            lambda tx: tx.run("MATCH (r:Routed) RETURN sum(r.n) AS s").single()["s"]
        )
        assert total == 3


def test_neo4j_scheme_plain(boltd_plain):
    with neo4j.GraphDatabase.driver(f"neo4j://127.0.0.1:{boltd_plain.port}", auth=None) as driver:
        _exercise(driver)


def test_neo4j_ssc_scheme_tls(boltd_tls):
    with neo4j.GraphDatabase.driver(f"neo4j+ssc://localhost:{boltd_tls.port}", auth=None) as driver:
        _exercise(driver)


def test_unknown_database_is_refused(boltd_plain):
    with neo4j.GraphDatabase.driver(f"neo4j://127.0.0.1:{boltd_plain.port}", auth=None) as driver:
        with pytest.raises(ClientError):
            with driver.session(database="other") as session:
                session.run("RETURN 1").consume()
