//! neo4rs 0.8 (a Rust Bolt driver, Bolt 4.0/4.1, TLS on rustls) against the embedded engine,
//! plaintext and TLS, through its own connection pool, parameters, results and transactions.

mod common;

use common::{fixture, TestServer};
use neo4rs::{query, ConfigBuilder, Graph, Node, Path, Relation};

async fn graph(uri: String, tls: bool) -> Graph {
    let mut config = ConfigBuilder::new()
        .uri(uri)
        .user("")
        .password("")
        .db("neo4j")
        .max_connections(2);
    if tls {
        // neo4rs calls the trusted CA a "client certificate".
        config = config.with_client_certificate(fixture("ca.pem"));
    }
    Graph::connect(config.build().unwrap()).await.unwrap()
}

async fn count(g: &Graph, q: &str) -> i64 {
    let mut rows = g.execute(query(q)).await.unwrap();
    let row = rows.next().await.unwrap().expect("one row");
    row.get::<i64>("c").unwrap()
}

async fn exercise(g: Graph) {
    g.run(
        query("CREATE (a:Person {name: $a, born: $born})-[:KNOWS {since: 2020}]->(b:Person {name: 'Bob'})")
            .param("a", "Ann")
            .param("born", 1990),
    )
    .await
    .unwrap();

    let mut rows = g
        .execute(
            query("MATCH p = (a:Person {name: $a})-[r:KNOWS]->(b) RETURN a, r, b, p")
                .param("a", "Ann"),
        )
        .await
        .unwrap();
    let row = rows.next().await.unwrap().expect("a row");
    let a: Node = row.get("a").unwrap();
    let r: Relation = row.get("r").unwrap();
    let b: Node = row.get("b").unwrap();
    let p: Path = row.get("p").unwrap();
    assert_eq!(a.labels(), vec!["Person"]);
    assert_eq!(a.get::<String>("name").unwrap(), "Ann");
    assert_eq!(a.get::<i64>("born").unwrap(), 1990);
    assert_eq!(r.typ(), "KNOWS");
    assert_eq!((r.start_node_id(), r.end_node_id()), (a.id(), b.id()));
    assert_eq!(r.get::<i64>("since").unwrap(), 2020);
    assert_eq!(p.nodes().len(), 2);
    assert!(rows.next().await.unwrap().is_none());

    // A rolled-back transaction leaves nothing; a committed one is seen by the pool's other
    // connections.
    let mut tx = g.start_txn().await.unwrap();
    tx.run(query("CREATE (:Temp)")).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&g, "MATCH (t:Temp) RETURN count(t) AS c").await, 0);
    let mut tx = g.start_txn().await.unwrap();
    tx.run(query("UNWIND range(1, 5) AS i CREATE (:Temp {i: i})"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(&g, "MATCH (t:Temp) RETURN count(t) AS c").await, 5);

    // Errors come back as errors, and the pool keeps working.
    assert!(g.run(query("MATCH (n RETURN n")).await.is_err());
    assert_eq!(count(&g, "MATCH (n:Person) RETURN count(n) AS c").await, 2);
}

#[tokio::test]
async fn plaintext() {
    let server = TestServer::plain().await;
    exercise(graph(format!("127.0.0.1:{}", server.addr().port()), false).await).await;
}

#[tokio::test]
async fn tls_with_the_test_ca() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let uri = format!("bolt+s://localhost:{}", server.addr().port());
    exercise(graph(uri, true).await).await;
}
