//! The Bolt state machine over real sockets: messages, pipelining, transactions, failures.

mod common;

use boltd::value::{Map, Value};
use common::{Client, Response, ResponseExt, TestServer, OFFER_5_4};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn map(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

async fn raw_hello(server: &TestServer, offer: [u8; 16]) -> TcpStream {
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    let mut hs = vec![0x60, 0x60, 0xB0, 0x17];
    hs.extend_from_slice(&offer);
    s.write_all(&hs).await.unwrap();
    let mut reply = [0u8; 4];
    s.read_exact(&mut reply).await.unwrap();
    s
}

#[tokio::test]
async fn hello_success_carries_server_and_connection_id() {
    let server = TestServer::plain().await;
    let mut s = raw_hello(&server, common::OFFER_4_4).await;
    // HELLO {user_agent: "t", scheme: "none"}
    let mut msg = vec![0xB1, 0x01, 0xA2];
    msg.extend_from_slice(&[0x8A]);
    msg.extend_from_slice(b"user_agent");
    msg.extend_from_slice(&[0x81, b't', 0x86]);
    msg.extend_from_slice(b"scheme");
    msg.extend_from_slice(&[0x84]);
    msg.extend_from_slice(b"none");
    let mut framed = vec![0, msg.len() as u8];
    framed.extend_from_slice(&msg);
    framed.extend_from_slice(&[0, 0]);
    s.write_all(&framed).await.unwrap();
    let mut header = [0u8; 2];
    s.read_exact(&mut header).await.unwrap();
    let mut body = vec![0u8; u16::from_be_bytes(header) as usize];
    s.read_exact(&mut body).await.unwrap();
    let text = String::from_utf8_lossy(&body);
    assert_eq!(&body[..2], &[0xB1, 0x70], "SUCCESS");
    assert!(text.contains("Neo4j/v5.11.0 compatible graph database server - Memgraph"));
    assert!(text.contains("connection_id"));
}

#[tokio::test]
async fn return_expressions_and_parameters() {
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    let params = map(&[("name", "boltd".into()), ("n", Value::Int(41))]);
    c.send(
        0x10,
        &[
            "RETURN $n + 1 AS answer, 'hello ' + $name AS greeting, [1, 2] AS list".into(),
            Value::Map(params),
            Value::Map(Map::new()),
        ],
    )
    .await;
    let fields = c.recv().await.success();
    assert_eq!(
        fields.get("fields"),
        Some(&Value::List(vec![
            "answer".into(),
            "greeting".into(),
            "list".into()
        ]))
    );
    c.pull_msg().await;
    assert_eq!(
        c.recv().await,
        Response::Record(vec![
            Value::Int(42),
            "hello boltd".into(),
            Value::List(vec![Value::Int(1), Value::Int(2)])
        ])
    );
    let summary = c.recv().await.success();
    assert_eq!(summary.get("has_more"), Some(&Value::Bool(false)));
}

#[tokio::test]
async fn unwind_with_partial_pulls_reports_has_more() {
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    c.run_msg("UNWIND range(1, 5) AS x RETURN x * 10 AS y")
        .await;
    c.recv().await.success();
    let mut got = Vec::new();
    loop {
        c.send(0x3F, &[Value::Map(map(&[("n", Value::Int(2))]))])
            .await;
        loop {
            match c.recv().await {
                Response::Record(r) => got.push(r[0].clone()),
                Response::Success(s) => {
                    if s.get("has_more") == Some(&Value::Bool(true)) {
                        break;
                    }
                    assert_eq!(s.get("has_more"), Some(&Value::Bool(false)));
                    let want: Vec<Value> = (1..=5).map(|i| Value::Int(i * 10)).collect();
                    assert_eq!(got, want);
                    return;
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn discard_drops_the_rest() {
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    c.run_msg("UNWIND range(1, 100) AS x RETURN x").await;
    c.recv().await.success();
    c.send(0x2F, &[Value::Map(map(&[("n", Value::Int(-1))]))])
        .await;
    let summary = c.recv().await.success();
    assert_eq!(summary.get("has_more"), Some(&Value::Bool(false)));
    c.ping().await;
}

#[tokio::test]
async fn failure_then_ignored_until_reset() {
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    c.run_msg("RETURN 1 +").await;
    c.pull_msg().await;
    let failure = c.recv().await;
    assert_eq!(
        failure.failure_code(),
        "Memgraph.ClientError.MemgraphError.MemgraphError"
    );
    assert_eq!(c.recv().await, Response::Ignored);
    c.run_msg("RETURN 1").await;
    assert_eq!(c.recv().await, Response::Ignored);
    c.reset().await;
    c.ping().await;
}

#[tokio::test]
async fn unsupported_clauses_get_a_clear_client_error() {
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    let failure = c
        .query("FREE MEMORY")
        .await
        .expect_err("FREE MEMORY is not supported");
    assert_eq!(
        failure.failure_code(),
        "Memgraph.ClientError.MemgraphError.MemgraphError"
    );
    assert!(failure.failure_message().contains("FREE"), "{failure:?}");
}

#[tokio::test]
async fn write_summaries_carry_type_and_stats() {
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    let (fields, rows, summary) = c
        .query("CREATE (a:P {x: 1})-[:R]->(b:P)")
        .await
        .expect("create");
    assert!(fields.is_empty() && rows.is_empty());
    assert_eq!(summary.get("type"), Some(&Value::String("w".into())));
    let Some(Value::Map(stats)) = summary.get("stats") else {
        panic!("{summary:?}")
    };
    assert_eq!(stats.get("nodes-created"), Some(&Value::Int(2)));
    assert_eq!(stats.get("relationships-created"), Some(&Value::Int(1)));
    assert_eq!(stats.get("properties-set"), Some(&Value::Int(1)));
    assert_eq!(stats.get("labels-added"), Some(&Value::Int(2)));
    assert_eq!(stats.get("nodes-deleted"), Some(&Value::Int(0)));
    assert_eq!(stats.len(), 7, "{stats:?}");
    assert_eq!(summary.get("db"), Some(&Value::String("memgraph".into())));
    assert!(
        matches!(summary.get("t_last"), Some(Value::Int(_))),
        "{summary:?}"
    );

    let (_, rows, summary) = c
        .query("MATCH (a:P)-[r:R]->(b) SET b.y = 2 RETURN a, r, b")
        .await
        .expect("match");
    assert_eq!(summary.get("type"), Some(&Value::String("rw".into())));
    assert_eq!(rows.len(), 1);
    let [Value::Node(a), Value::Relationship(r), Value::Node(b)] = rows[0].as_slice() else {
        panic!("{rows:?}")
    };
    assert_eq!((r.start, r.end), (a.id, b.id));
    assert_eq!(b.properties().get("y"), Some(&Value::Int(2)));

    let (_, rows, summary) = c.query("MATCH (n) RETURN count(n)").await.expect("count");
    assert_eq!(summary.get("type"), Some(&Value::String("r".into())));
    assert!(!summary.contains_key("stats"));
    assert_eq!(rows, vec![vec![Value::Int(2)]]);
}

#[tokio::test]
async fn cypher_transaction_words() {
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    for word in ["BEGIN", "COMMIT"] {
        let (fields, rows, summary) = c.query(word).await.expect(word);
        assert!(fields.is_empty() && rows.is_empty());
        assert_eq!(summary.get("has_more"), Some(&Value::Bool(false)));
    }
    let failure = c.query("COMMIT").await.expect_err("no transaction");
    assert_eq!(
        failure.failure_message(),
        "No current transaction to commit."
    );
    c.reset().await;
    let failure = c.query("ROLLBACK").await.expect_err("no transaction");
    assert_eq!(
        failure.failure_message(),
        "No current transaction to rollback."
    );
    c.reset().await;
    c.query("BEGIN").await.unwrap();
    let failure = c.query("BEGIN").await.expect_err("nested");
    assert_eq!(
        failure.failure_message(),
        "Nested transactions are not supported."
    );
    // RESET ended the transaction opened with Cypher BEGIN.
    c.reset().await;
    c.query("BEGIN").await.expect("a fresh BEGIN after RESET");
    c.ping().await;
    c.query("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn explicit_transaction_results_carry_qid() {
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    c.send(0x11, &[Value::Map(Map::new())]).await;
    c.recv().await.success();
    c.run_msg("RETURN 1 AS a").await;
    assert_eq!(c.recv().await.success().get("qid"), Some(&Value::Int(0)));
    c.run_msg("RETURN 2 AS b").await;
    assert_eq!(c.recv().await.success().get("qid"), Some(&Value::Int(1)));
    // Pull the first result by qid.
    c.send(
        0x3F,
        &[Value::Map(map(&[
            ("n", Value::Int(-1)),
            ("qid", Value::Int(0)),
        ]))],
    )
    .await;
    assert_eq!(c.recv().await, Response::Record(vec![Value::Int(1)]));
    c.recv().await.success();
    c.pull_msg().await;
    assert_eq!(c.recv().await, Response::Record(vec![Value::Int(2)]));
    c.recv().await.success();
    c.send(0x12, &[]).await;
    c.recv().await.success();
}

#[tokio::test]
async fn route_and_telemetry_are_answered_on_5_4() {
    let server = TestServer::plain().await;
    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    let mut c = Client::over(Box::new(tcp), OFFER_5_4).await;
    assert_eq!(c.version, (5, 4));
    c.send(0x54, &[Value::Int(2)]).await;
    c.recv().await.success();
    c.send(
        0x66,
        &[
            Value::Map(Map::new()),
            Value::List(vec![]),
            Value::Map(Map::new()),
        ],
    )
    .await;
    // The whole table is checked in tests/route.rs.
    let rt = c.recv().await.success();
    assert!(matches!(rt.get("rt"), Some(Value::Map(_))), "{rt:?}");
    // LOGOFF then LOGON switches back to an authenticated session.
    c.send(0x6B, &[]).await;
    c.recv().await.success();
    c.send(
        0x6A,
        &[Value::Map(map(&[
            ("scheme", "basic".into()),
            ("principal", "".into()),
        ]))],
    )
    .await;
    c.recv().await.success();
    c.ping().await;
}

#[tokio::test]
async fn query_before_logon_is_a_protocol_violation() {
    let server = TestServer::plain().await;
    let mut s = raw_hello(&server, OFFER_5_4).await;
    // RUN "RETURN 1" {} {} without HELLO
    let mut msg = vec![0xB3, 0x10, 0x88];
    msg.extend_from_slice(b"RETURN 1");
    msg.extend_from_slice(&[0xA0, 0xA0]);
    let mut framed = vec![0, msg.len() as u8];
    framed.extend_from_slice(&msg);
    framed.extend_from_slice(&[0, 0]);
    s.write_all(&framed).await.unwrap();
    let mut all = Vec::new();
    let _ = tokio::time::timeout(common::STEP, s.read_to_end(&mut all)).await;
    assert!(
        all.len() > 4 && all[2..4] == [0xB1, 0x7F],
        "a FAILURE then close: {all:?}"
    );
}

#[tokio::test]
async fn large_multi_chunk_query() {
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    let big = "x".repeat(300_000);
    let query = format!("RETURN size('{big}') AS n");
    let (_, rows, _) = c.query(&query).await.expect("big query");
    assert_eq!(rows, vec![vec![Value::Int(300_000)]]);
}

#[tokio::test]
async fn oversized_message_before_authentication_is_refused() {
    let server = TestServer::plain().await;
    let mut s = raw_hello(&server, common::OFFER_4_4).await;
    // 80 KiB of chunks without an end marker, before HELLO.
    let chunk = vec![0u8; 65535];
    let mut framed = vec![0xFF, 0xFF];
    framed.extend_from_slice(&chunk);
    framed.extend_from_slice(&[0x40, 0x00]);
    framed.extend_from_slice(&vec![0u8; 0x4000]);
    let _ = s.write_all(&framed).await;
    let mut all = Vec::new();
    let _ = tokio::time::timeout(common::STEP, s.read_to_end(&mut all)).await;
    assert!(
        all.len() > 4 && all[2..4] == [0xB1, 0x7F],
        "a FAILURE then close: {all:?}"
    );
}

#[tokio::test]
async fn noop_chunks_between_messages_are_ignored() {
    let server = TestServer::plain().await;
    let mut s = raw_hello(&server, common::OFFER_4_4).await;
    // NOOP, then HELLO {user_agent: "t"}, NOOP.
    let msg = [
        0xB1, 0x01, 0xA1, 0x8A, b'u', b's', b'e', b'r', b'_', b'a', b'g', b'e', b'n', b't', 0x81,
        b't',
    ];
    let mut framed = vec![0, 0, 0, msg.len() as u8];
    framed.extend_from_slice(&msg);
    framed.extend_from_slice(&[0, 0, 0, 0]);
    s.write_all(&framed).await.unwrap();
    let mut header = [0u8; 4];
    s.read_exact(&mut header).await.unwrap();
    assert_eq!(&header[2..4], &[0xB1, 0x70]);
}
