"""The embedded graph engine through the official neo4j Python driver 6.x, plaintext and TLS."""

import datetime
import threading

import neo4j
import pytest
import pytz
from neo4j.graph import Node, Path, Relationship
from neo4j.spatial import CartesianPoint, WGS84Point
from neo4j.time import Date, DateTime, Duration, Time


def driver_for(server):
    scheme = "bolt+ssc" if server.tls else "bolt"
    return neo4j.GraphDatabase.driver(f"{scheme}://localhost:{server.port}", auth=None)


def test_session_run_graph_queries(boltd_any):
    with driver_for(boltd_any) as driver, driver.session() as session:
        summary = session.run(
            "CREATE (a:Person {name: $a})-[:KNOWS {since: 2020}]->(b:Person {name: $b})",
            a="Ann",
            b="Bob",
        ).consume()
        assert summary.counters.nodes_created == 2
        assert summary.result_available_after is not None
        assert summary.result_consumed_after is not None
        assert summary.counters.relationships_created == 1
        assert summary.counters.properties_set == 3
        record = session.run(
            "MATCH p = (a:Person)-[r:KNOWS]->(b) RETURN a, r, b, p"
        ).single()
        a, r, b, p = record["a"], record["r"], record["b"], record["p"]
        assert isinstance(a, Node) and a["name"] == "Ann" and set(a.labels) == {"Person"}
        assert isinstance(r, Relationship) and r.type == "KNOWS" and r["since"] == 2020
        assert r.start_node.element_id == a.element_id and r.end_node.element_id == b.element_id
        assert isinstance(p, Path) and [n["name"] for n in p.nodes] == ["Ann", "Bob"]
        names = session.run(
            "MATCH (n:Person) RETURN n.name AS name ORDER BY name DESC"
        ).value("name")
        assert names == ["Bob", "Ann"]


def test_execute_write_and_explicit_transactions(boltd_any):
    with driver_for(boltd_any) as driver:
        with driver.session() as session:
            def create(tx, n):
                return tx.run("UNWIND range(1, $n) AS i CREATE (:Row {i: i}) RETURN count(*) AS c", n=n).single()["c"]

            assert session.execute_write(create, 10) == 10
            tx = session.begin_transaction()
            tx.run("MATCH (r:Row) WHERE r.i > 5 DETACH DELETE r")
            assert tx.run("MATCH (r:Row) RETURN count(r) AS c").single()["c"] == 5
            tx.rollback()
            assert session.run("MATCH (r:Row) RETURN count(r) AS c").single()["c"] == 10
            with session.begin_transaction() as tx:
                tx.run("MATCH (r:Row {i: 1}) SET r.first = true")
                tx.commit()
            assert session.run("MATCH (r:Row) WHERE r.first RETURN r.i").single()[0] == 1


def test_conflicting_writers_are_retried(boltd_any):
    with driver_for(boltd_any) as driver:
        driver.execute_query("CREATE (:Counter {v: 0})")
        errors = []

        def bump():
            try:
                with driver.session() as session:
                    for _ in range(15):
                        session.execute_write(
                            lambda tx: tx.run("MATCH (c:Counter) SET c.v = c.v + 1").consume()
                        )
            except Exception as e:  # surfaced below
                errors.append(e)

        threads = [threading.Thread(target=bump) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        records, _, _ = driver.execute_query("MATCH (c:Counter) RETURN c.v AS v")
        assert records[0]["v"] == 45


def test_temporal_values_round_trip(boltd_any):
    values = [
        Date(2024, 2, 29),
        Time(13, 14, 15, 123456789),
        DateTime(2024, 2, 29, 13, 14, 15, 123456789),
        # Named zones via pytz: the driver's own dependency. (With a zoneinfo.ZoneInfo the driver
        # itself crashes the Python process while packing the parameter, before sending anything.)
        DateTime.from_native(pytz.timezone("Europe/Zagreb").localize(datetime.datetime(2024, 6, 1, 12, 0))),
        DateTime.from_native(
            datetime.datetime(2024, 6, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=-3)))
        ),
        Duration(months=14, days=3, seconds=7, nanoseconds=11),
        Time(13, 14, 15, 500, tzinfo=pytz.FixedOffset(90)),
        CartesianPoint((1.5, -2.5)),
        WGS84Point((15.97, 45.81, 120.0)),
    ]
    with driver_for(boltd_any) as driver, driver.session() as session:
        for v in values:
            got = session.run("RETURN $v AS v", v=v).single()["v"]
            assert got == v, (v, got)
            stored = session.run("CREATE (n:Holder {v: $v}) RETURN n.v AS v", v=v).single()["v"]
            assert stored == v, (v, stored)
        record = session.run(
            "RETURN date('2024-03-01') AS d, datetime({year: 2024, month: 6, day: 1, hour: 12, "
            "timezone: 'Europe/Zagreb'}) AS dt, duration('P1DT2H') AS du"
        ).single()
        assert record["d"] == Date(2024, 3, 1)
        assert record["dt"].hour == 12 and record["dt"].tzinfo is not None
        assert record["dt"].utcoffset().total_seconds() == 7200
        assert record["du"] == Duration(days=1, hours=2)


def test_errors_and_one_megabyte_query(boltd_any):
    with driver_for(boltd_any) as driver, driver.session() as session:
        with pytest.raises(neo4j.exceptions.ClientError) as info:
            session.run("MATCH (n RETURN n").consume()
        assert "line 1" in info.value.message
        big = "y" * (1024 * 1024)
        assert session.run(f"RETURN size('{big}') AS n").single()["n"] == 1024 * 1024
