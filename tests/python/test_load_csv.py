"""LOAD CSV and FOREACH over a real socket: the neo4j driver loads a CSV file into nodes and reads
them back, and pymgclient shows that LOAD CSV needs the READ_FILE privilege once users exist."""

import gzip

import mgclient
import neo4j
import pytest
from neo4j.exceptions import ClientError

from conftest import pymg, run

NOT_AUTHORIZED = "You are not authorized to execute this query on database"


def write_people(path, n, compress=False):
    text = "id,name,team\n" + "".join(f"{i},person {i},{'' if i % 10 == 0 else i % 3}\n" for i in range(n))
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_neo4j_driver_loads_a_csv_into_nodes(boltd_plain, tmp_path, compress):
    csv = write_people(tmp_path / "people.csv", 1000, compress)
    with neo4j.GraphDatabase.driver(f"bolt://localhost:{boltd_plain.port}", auth=None) as driver:
        with driver.session() as session:
            summary = session.run(
                "LOAD CSV FROM $file WITH HEADER NULLIF '' AS row "
                "CREATE (:Person {id: toInteger(row.id), name: row.name, team: row.team})",
                file=str(csv),
            ).consume()
            assert summary.counters.nodes_created == 1000
            # 100 rows have an empty team, which NULLIF made null and CREATE left out.
            assert summary.counters.properties_set == 1000 * 3 - 100
            record = session.run(
                "MATCH (p:Person) RETURN count(p) AS n, min(p.id) AS lo, max(p.id) AS hi, "
                "count(p.team) AS teams"
            ).single()
            assert (record["n"], record["lo"], record["hi"], record["teams"]) == (1000, 0, 999, 900)
            names = session.run(
                "MATCH (p:Person) WHERE p.id IN [3, 7] RETURN p.name AS name ORDER BY name"
            ).value()
            assert names == ["person 3", "person 7"]
            # Reading without writing streams the rows to the client.
            rows = session.run(
                "LOAD CSV FROM $file NO HEADER AS r RETURN r[0] AS id LIMIT 3", file=str(csv)
            ).value()
            assert rows == ["id", "0", "1"]
            session.run(
                "MATCH (p:Person) WHERE p.id < 3 WITH collect(p) AS ps "
                "FOREACH (p IN ps | SET p:First)"
            ).consume()
            assert session.run("MATCH (p:First) RETURN count(p)").single()[0] == 3


def test_a_bad_file_is_a_client_error_naming_it(boltd_plain, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3\n")
    with neo4j.GraphDatabase.driver(f"bolt://localhost:{boltd_plain.port}", auth=None) as driver:
        with driver.session() as session:
            with pytest.raises(ClientError, match=r"line 3 of CSV file .*bad\.csv") as e:
                session.run("LOAD CSV FROM $f WITH HEADER AS r CREATE (:X)", f=str(bad)).consume()
            assert e.value.code == "Memgraph.ClientError.MemgraphError.MemgraphError"
            with pytest.raises(ClientError, match="not found"):
                session.run("LOAD CSV FROM $f NO HEADER AS r RETURN r", f=str(tmp_path / "no.csv")).consume()
            assert session.run("MATCH (x:X) RETURN count(x)").single()[0] == 0


def test_load_csv_needs_read_file_once_users_exist(boltd_plain, tmp_path):
    csv = write_people(tmp_path / "people.csv", 5)
    query = "LOAD CSV FROM $file WITH HEADER AS row RETURN row.name AS name"
    anon = pymg(boltd_plain)
    assert len(run(anon, query, {"file": str(csv)})) == 5  # no users: nothing is checked
    run(anon, "CREATE USER admin IDENTIFIED BY 'admin-pw'")  # the first user gets every privilege
    anon.close()
    admin = pymg(boltd_plain, "admin", "admin-pw")
    assert run(admin, query, {"file": str(csv)})[0] == ("person 0",)
    run(admin, "CREATE USER reader IDENTIFIED BY 'r'")
    run(admin, "GRANT MATCH, CREATE TO reader")
    reader = pymg(boltd_plain, "reader", "r")
    with pytest.raises(mgclient.DatabaseError, match=NOT_AUTHORIZED):
        run(reader, query, {"file": str(csv)})
    run(admin, "GRANT READ_FILE TO reader")
    assert len(run(reader, query, {"file": str(csv)})) == 5
    # FOREACH needs what its inner clauses need.
    with pytest.raises(mgclient.DatabaseError, match=NOT_AUTHORIZED):
        run(reader, "FOREACH (x IN [1] | MERGE (:M))")
    assert run(reader, "FOREACH (x IN [1, 2] | CREATE (:C)) RETURN 1") == [(1,)]
