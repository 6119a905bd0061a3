//! Procedures and server statements over a real socket: CALL with YIELD/WHERE, standalone
//! CALL, unknown procedures, SHOW CONFIG/VERSION/DATABASES, USE DATABASE, and a transaction
//! terminated from a second connection.

mod common;

use std::time::Duration;

use boltd::value::Value;
use common::{Client, Response, ResponseExt, TestServer};

fn strings(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn procedures_in_queries_and_standalone() {
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    c.query("CREATE (:A {x: 1})-[:R]->(:B), (:C)")
        .await
        .unwrap();
    let (fields, rows, _) = c.query("CALL db.labels()").await.unwrap();
    assert_eq!(strings(&fields), vec!["label"]);
    assert_eq!(rows.len(), 3);
    let (fields, rows, _) = c
        .query("CALL db.labels() YIELD label AS l WHERE l <> 'B' RETURN collect(l) AS ls")
        .await
        .unwrap();
    assert_eq!(strings(&fields), vec!["ls"]);
    assert_eq!(rows, vec![vec![Value::List(vec!["A".into(), "C".into()])]]);
    let (_, rows, _) = c
        .query("CALL mg.procedures() YIELD name RETURN count(name) > 5 AS many")
        .await
        .unwrap();
    assert_eq!(rows, vec![vec![Value::Bool(true)]]);
    let failure = c.query("CALL nope.nothing()").await.unwrap_err();
    assert_eq!(
        failure.failure_message(),
        "There is no procedure named 'nope.nothing'."
    );
    assert_eq!(
        failure.failure_code(),
        "Memgraph.ClientError.MemgraphError.MemgraphError"
    );
    c.reset().await;
    c.ping().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_statements_answer_with_memgraphs_columns() {
    let server = TestServer::start_plain_with(|c| c.query_execution_timeout_sec = 0).await;
    let mut c = Client::plain(server.addr()).await;
    let (fields, rows, _) = c.query("SHOW CONFIG").await.unwrap();
    assert_eq!(
        strings(&fields),
        vec!["name", "default_value", "current_value", "description"]
    );
    let port = rows
        .iter()
        .find(|r| r[0] == Value::from("bolt_port"))
        .expect("bolt_port is listed");
    assert_eq!(port[1], Value::from("7687"));
    let (fields, rows, _) = c.query("SHOW VERSION").await.unwrap();
    assert_eq!(strings(&fields), vec!["version"]);
    assert_eq!(rows.len(), 1);
    let (fields, rows, _) = c.query("SHOW DATABASES").await.unwrap();
    assert_eq!(fields[0], Value::from("Name"));
    assert_eq!(rows[0][0], Value::from("memgraph"));
    c.query("USE DATABASE memgraph").await.unwrap();
    let failure = c.query("USE DATABASE other").await.unwrap_err();
    assert!(
        failure
            .failure_message()
            .contains("unknown database \"other\""),
        "{failure:?}"
    );
    c.reset().await;
    c.query("CREATE (:L)-[:T]->(:M)").await.unwrap();
    let (fields, rows, _) = c.query("SHOW NODE_LABELS INFO").await.unwrap();
    assert_eq!(strings(&fields), vec!["label"]);
    assert_eq!(rows.len(), 2);
    let (fields, rows, _) = c.query("SHOW EDGE_TYPES INFO").await.unwrap();
    assert_eq!(strings(&fields), vec!["edge_type"]);
    assert_eq!(rows, vec![vec![Value::from("T")]]);
    // Inside an explicit transaction Memgraph refuses SHOW VERSION.
    c.query("BEGIN").await.unwrap();
    let failure = c.query("SHOW VERSION").await.unwrap_err();
    assert!(
        failure
            .failure_message()
            .starts_with("Version information query is not allowed in multicommand"),
        "{failure:?}"
    );
    c.reset().await;
    c.ping().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_terminated_from_another_connection_stops() {
    let server = TestServer::start_plain_with(|c| c.query_execution_timeout_sec = 0).await;
    let mut a = Client::plain(server.addr()).await;
    let mut b = Client::plain(server.addr()).await;
    let long = "UNWIND range(1, 100000000) AS x WITH x WHERE x < 0 RETURN x";
    a.query("BEGIN").await.unwrap();
    a.run_msg(long).await;
    a.recv().await.success();
    a.pull_msg().await;
    // Find a's transaction by its query and terminate it.
    let (fields, rows, _) = b.query("SHOW TRANSACTIONS").await.unwrap();
    assert_eq!(
        strings(&fields),
        vec![
            "username",
            "transaction_id",
            "query",
            "status",
            "metadata",
            "start_time",
            "elapsed_ms"
        ]
    );
    let row = rows
        .iter()
        .find(|r| r[2] == Value::List(vec![long.into()]))
        .expect("a's transaction is listed with its query");
    let Value::String(id) = &row[1] else {
        panic!("{row:?}")
    };
    let (fields, rows, _) = b
        .query(&format!("TERMINATE TRANSACTIONS '{id}'"))
        .await
        .unwrap();
    assert_eq!(strings(&fields), vec!["transaction_id", "killed"]);
    assert_eq!(
        rows,
        vec![vec![Value::from(id.as_str()), Value::Bool(true)]]
    );
    let (_, rows, _) = b.query("TERMINATE TRANSACTIONS '999999'").await.unwrap();
    assert_eq!(rows[0][1], Value::Bool(false));
    let failure = tokio::time::timeout(Duration::from_secs(20), a.recv())
        .await
        .expect("the terminated query stops");
    assert!(matches!(failure, Response::Failure(_)), "{failure:?}");
    assert_eq!(
        failure.failure_message(),
        "Transaction was asked to abort by another user."
    );
    assert_eq!(
        failure.failure_code(),
        "Memgraph.TransientError.MemgraphError.MemgraphError"
    );
    a.reset().await;
    a.ping().await;
    // Once rolled back, it is no longer listed.
    let (_, rows, _) = b.query("SHOW TRANSACTIONS").await.unwrap();
    assert!(rows.iter().all(|r| r[1] != Value::from(id.as_str())));
}
