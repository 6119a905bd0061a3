"""GQLAlchemy (Memgraph's OGM, on pymgclient) against boltd's embedded engine, plain and TLS."""

from typing import Optional

from gqlalchemy import Field, Memgraph, Node, Relationship, match
from gqlalchemy.models import MemgraphConstraintExists, MemgraphConstraintUnique, MemgraphIndex


def test_queries_schema_and_object_mapping(boltd_any):
    db = Memgraph(host="127.0.0.1", port=boltd_any.port, encrypted=boltd_any.tls)
    db.drop_database()
    db.execute("CREATE (:Person {name: 'Ann'})-[:KNOWS {since: 2020}]->(:Person {name: 'Bob'})")
    (row,) = list(db.execute_and_fetch("MATCH (a)-[r]->(b) RETURN a, r, b"))
    assert row["a"].name == "Ann" and row["b"].name == "Bob"
    assert row["r"]._type == "KNOWS" and row["r"].since == 2020

    db.create_index(MemgraphIndex("Person", "name"))
    assert MemgraphIndex("Person", "name") in db.get_indexes()
    db.create_constraint(MemgraphConstraintUnique("Person", ("name",)))
    assert MemgraphConstraintUnique("Person", ("name",)) in db.get_constraints()
    db.create_constraint(MemgraphConstraintExists("Person", "name"))
    assert MemgraphConstraintExists("Person", "name") in db.get_exists_constraints()
    db.drop_constraint(MemgraphConstraintExists("Person", "name"))
    assert db.get_exists_constraints() == []

    class User(Node):
        uid: int = Field(index=True, unique=True, db=db)
        name: Optional[str] = Field()

    class Follows(Relationship, type="FOLLOWS"):
        since: Optional[int] = Field()

    a = User(uid=1, name="a").save(db)
    b = User(uid=2, name="b").save(db)
    follows = Follows(_start_node_id=a._id, _end_node_id=b._id, since=2024).save(db)
    assert follows._start_node_id == a._id and follows.since == 2024
    a.name = "renamed"
    a.save(db)
    assert User(uid=1).load(db).name == "renamed"
    users = list(match(connection=db).node("User", variable="u").return_().execute())
    assert sorted(r["u"].uid for r in users) == [1, 2]
    db.drop_database()
    assert list(db.execute_and_fetch("MATCH (n) RETURN count(n) AS c")) == [{"c": 0}]
