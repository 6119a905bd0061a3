//! `DUMP DATABASE` over real sockets: its column and rows, replaying them on a second server,
//! streaming in PULL batches, the transaction guard and the DUMP privilege.

mod common;

use boltd::value::{Map, Value};
use common::{Client, Response, ResponseExt, TestServer, OFFER_4_4};

const NOT_AUTHORIZED: &str = "You are not authorized to execute this query on database \"memgraph\"! Please contact your database administrator. This issue comes from the user having not enough role-based access privileges to execute this query. If you want this issue to be resolved, ask your database administrator to grant you a specific privilege for query execution.";

async fn ok(c: &mut Client, q: &str) -> Vec<Vec<Value>> {
    c.query(q).await.unwrap_or_else(|f| panic!("{q}: {f:?}")).1
}

/// The dump's statements, checking the column name on the way.
async fn dump(c: &mut Client) -> Vec<String> {
    let (fields, rows, _) = c.query("DUMP DATABASE").await.expect("DUMP DATABASE");
    assert_eq!(fields, vec![Value::from("QUERY")]);
    rows.into_iter()
        .map(|row| match row.as_slice() {
            [Value::String(s)] => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

/// What a graph looks like, independent of node ids.
async fn shape(c: &mut Client) -> Vec<Vec<Vec<Value>>> {
    vec![
        ok(
            c,
            "MATCH (n) RETURN n.key, labels(n), properties(n) ORDER BY n.key",
        )
        .await,
        ok(
            c,
            "MATCH (a)-[r]->(b) RETURN a.key, type(r), properties(r), b.key ORDER BY a.key, b.key",
        )
        .await,
        ok(c, "SHOW INDEX INFO").await,
        ok(c, "SHOW CONSTRAINT INFO").await,
    ]
}

#[tokio::test]
async fn a_dump_replayed_on_another_server_rebuilds_the_graph() {
    let source = TestServer::plain().await;
    let mut c = Client::plain(source.addr()).await;
    ok(&mut c, "CREATE INDEX ON :Person(key)").await;
    ok(
        &mut c,
        "CREATE CONSTRAINT ON (p:Person) ASSERT p.key IS UNIQUE",
    )
    .await;
    ok(
        &mut c,
        "CREATE (a:Person {key: 1, name: 'Ann', born: date('1990-05-17'), tags: ['x', 'y']}),
                (b:Person:`Two Words` {key: 2, score: 1.0, at: datetime('2024-03-01T10:00:00[Europe/Zagreb]')}),
                (a)-[:KNOWS {since: duration('P1Y2M'), w: 0.25}]->(b), (b)-[:KNOWS]->(b)",
    )
    .await;
    let statements = dump(&mut c).await;
    assert_eq!(
        statements.first().map(String::as_str),
        Some("CREATE INDEX ON :`Person`(`key`);")
    );
    assert_eq!(
        statements.last().map(String::as_str),
        Some("MATCH (u) REMOVE u:__mg_vertex__, u.__mg_id__;")
    );

    let target = TestServer::plain().await;
    let mut t = Client::plain(target.addr()).await;
    for statement in &statements {
        ok(&mut t, statement).await;
    }
    assert_eq!(shape(&mut c).await, shape(&mut t).await);
}

#[tokio::test]
async fn the_dump_streams_in_pull_batches() {
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    ok(&mut c, "UNWIND range(1, 10) AS i CREATE (:N {i: i})").await;
    c.run_msg("DUMP DATABASE").await;
    c.recv().await.success();
    let mut pulls = 0;
    let mut rows = 0;
    loop {
        let mut n = Map::new();
        n.insert("n".into(), Value::Int(4));
        c.send(0x3F, &[Value::Map(n)]).await;
        pulls += 1;
        loop {
            match c.recv().await {
                Response::Record(_) => rows += 1,
                Response::Success(summary) => {
                    if summary.get("has_more") == Some(&Value::Bool(true)) {
                        break;
                    }
                    // The temporary index, ten nodes, and the two cleanup statements.
                    assert_eq!(rows, 13);
                    assert_eq!(pulls, 4);
                    return;
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn refused_inside_an_explicit_transaction() {
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    ok(&mut c, "BEGIN").await;
    let failure = c
        .query("DUMP DATABASE")
        .await
        .expect_err("in a transaction");
    assert_eq!(
        failure.failure_message(),
        "Dump database not allowed in multicommand transactions."
    );
    c.reset().await;
    assert!(dump(&mut c).await.is_empty());
}

#[tokio::test]
async fn with_users_it_needs_the_dump_privilege() {
    let server = TestServer::plain().await;
    let mut anon = Client::plain(server.addr()).await;
    ok(&mut anon, "CREATE USER admin IDENTIFIED BY 'a'").await;
    drop(anon);
    let mut admin = Client::plain_as(server.addr(), OFFER_4_4, "admin", "a")
        .await
        .unwrap();
    ok(&mut admin, "CREATE (:N {i: 1})").await;
    // The first user has every privilege, DUMP among them.
    assert_eq!(dump(&mut admin).await.len(), 4);
    ok(&mut admin, "CREATE USER bob IDENTIFIED BY 'b'").await;
    ok(&mut admin, "GRANT MATCH, STATS TO bob").await;
    let mut bob = Client::plain_as(server.addr(), OFFER_4_4, "bob", "b")
        .await
        .unwrap();
    let failure = bob.query("DUMP DATABASE").await.expect_err("no DUMP");
    assert_eq!(failure.failure_message(), NOT_AUTHORIZED);
    bob.reset().await;
    ok(&mut admin, "GRANT DUMP TO bob").await;
    assert_eq!(dump(&mut bob).await.len(), 4);
}
