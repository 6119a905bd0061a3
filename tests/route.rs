//! ROUTE over real sockets: the one-server routing table on every Bolt version that has ROUTE,
//! the address it names (the one dialled, or `--bolt-advertised-address`), refused databases and
//! impersonation, and ROUTE's place in the state machine.

mod common;

use std::net::SocketAddr;

use boltd::bolt::client::offer;
use boltd::bolt::handshake::Version;
use boltd::value::{Map, Value};
use common::{Client, Response, ResponseExt, TestServer};
use tokio::net::TcpStream;

const ROUTE: u8 = 0x66;
const BEGIN: u8 = 0x11;
const RUN: u8 = 0x10;

fn map(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// A client on `addr` that negotiated exactly `major.minor` and said HELLO (and LOGON).
async fn client(addr: SocketAddr, major: u8, minor: u8) -> Client {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let c = Client::over(Box::new(tcp), offer(Version::new(major, minor))).await;
    assert_eq!(c.version, (major, minor));
    c
}

/// ROUTE's fields for `version`: `{routing} [bookmarks] db` on 4.3, `{routing} [bookmarks]
/// {db, imp_user}` from 4.4 on (`db`/`imp_user` left out when None).
fn route_fields(
    version: (u8, u8),
    address: SocketAddr,
    db: Option<&str>,
    imp_user: Option<&str>,
) -> Vec<Value> {
    let routing = Value::Map(map(&[("address", address.to_string().into())]));
    let bookmarks = Value::List(vec!["bookmark:ignored".into()]);
    let last = if version == (4, 3) {
        assert!(imp_user.is_none(), "4.3 has no imp_user");
        db.map_or(Value::Null, Value::from)
    } else {
        let mut extra = Map::new();
        if let Some(db) = db {
            extra.insert("db".into(), db.into());
        }
        if let Some(user) = imp_user {
            extra.insert("imp_user".into(), user.into());
        }
        Value::Map(extra)
    };
    vec![routing, bookmarks, last]
}

/// The whole table boltd must answer for `db`, naming `address` in every role.
fn expected_table(address: &str, db: &str) -> Value {
    let server = |role: &str| {
        Value::Map(map(&[
            ("addresses", Value::List(vec![address.into()])),
            ("role", role.into()),
        ]))
    };
    Value::Map(map(&[
        ("ttl", Value::Int(300)),
        ("db", db.into()),
        (
            "servers",
            Value::List(vec![server("WRITE"), server("READ"), server("ROUTE")]),
        ),
    ]))
}

/// Sends ROUTE and returns the SUCCESS's `rt` (panics on anything else).
async fn route(c: &mut Client, fields: &[Value]) -> Value {
    c.send(ROUTE, fields).await;
    let mut meta = c.recv().await.success();
    assert_eq!(meta.len(), 1, "{meta:?}");
    meta.remove("rt").expect("rt")
}

#[tokio::test]
async fn every_version_with_route_gets_the_whole_table() {
    let server = TestServer::plain().await;
    let addr = server.addr();
    let want = expected_table(&addr.to_string(), "memgraph");
    for version in [(4, 3), (4, 4), (5, 0), (5, 4)] {
        let mut c = client(addr, version.0, version.1).await;
        let rt = route(&mut c, &route_fields(version, addr, None, None)).await;
        assert_eq!(rt, want, "Bolt {version:?}, no database named");
        let rt = route(&mut c, &route_fields(version, addr, Some("memgraph"), None)).await;
        assert_eq!(rt, want, "Bolt {version:?}, db memgraph");
        // ROUTE leaves the session READY.
        c.ping().await;
    }
}

#[tokio::test]
async fn route_for_another_database_is_refused_with_memgraphs_text() {
    let server = TestServer::plain().await;
    let addr = server.addr();
    for version in [(4, 3), (5, 4)] {
        let mut c = client(addr, version.0, version.1).await;
        c.send(ROUTE, &route_fields(version, addr, Some("other"), None))
            .await;
        let failure = c.recv().await;
        assert_eq!(
            failure.failure_code(),
            "Neo.ClientError.Database.DatabaseNotFound"
        );
        assert_eq!(
            failure.failure_message(),
            "Tried to retrieve an unknown database \"other\". boltd serves one database, \
             memgraph."
        );
        // A failed ROUTE puts the session in FAILED, like any failed request.
        c.run_msg("RETURN 1").await;
        assert_eq!(c.recv().await, Response::Ignored);
        c.reset().await;
        c.ping().await;
    }
}

#[tokio::test]
async fn begin_and_run_check_the_database_and_refuse_impersonation() {
    let server = TestServer::plain().await;
    let addr = server.addr();
    let mut c = client(addr, 4, 4).await;
    let memgraph_client_error = "Memgraph.ClientError.MemgraphError.MemgraphError";

    c.send(BEGIN, &[Value::Map(map(&[("db", "other".into())]))])
        .await;
    let failure = c.recv().await;
    assert_eq!(failure.failure_code(), memgraph_client_error);
    assert!(failure
        .failure_message()
        .starts_with("Tried to retrieve an unknown database \"other\"."));
    c.reset().await;

    let run = |db: &str| -> Vec<Value> {
        vec![
            "RETURN 1 AS x".into(),
            Value::Map(Map::new()),
            Value::Map(map(&[
                ("db", db.into()),
                ("bookmarks", Value::List(vec!["any:thing".into()])),
            ])),
        ]
    };
    c.send(RUN, &run("other")).await;
    assert!(c
        .recv()
        .await
        .failure_message()
        .contains("unknown database \"other\""));
    c.reset().await;

    // The one database, under its name or the one neo4rs sends, with bookmarks, works.
    for db in ["memgraph", "neo4j"] {
        c.send(RUN, &run(db)).await;
        c.recv().await.success();
        c.pull_msg().await;
        assert_eq!(c.recv().await, Response::Record(vec![Value::Int(1)]));
        let summary = c.recv().await.success();
        assert_eq!(summary.get("db"), Some(&Value::from("memgraph")));
    }
    c.send(
        BEGIN,
        &[Value::Map(map(&[
            ("db", "memgraph".into()),
            ("bookmarks", Value::List(vec!["any:thing".into()])),
        ]))],
    )
    .await;
    c.recv().await.success();
    c.send(0x13, &[]).await;
    c.recv().await.success();

    c.send(
        BEGIN,
        &[Value::Map(map(&[
            ("db", "memgraph".into()),
            ("imp_user", "alice".into()),
        ]))],
    )
    .await;
    let failure = c.recv().await;
    assert_eq!(failure.failure_code(), memgraph_client_error);
    assert!(
        failure
            .failure_message()
            .contains("Impersonation is not supported"),
        "{failure:?}"
    );
    c.reset().await;

    c.send(ROUTE, &route_fields((4, 4), addr, None, Some("alice")))
        .await;
    let failure = c.recv().await;
    assert_eq!(
        failure.failure_code(),
        "Neo.ClientError.Statement.ArgumentError"
    );
    assert!(failure.failure_message().contains("imp_user \"alice\""));
    c.reset().await;
    c.ping().await;
}

#[tokio::test]
async fn route_inside_a_transaction_or_open_result_is_a_protocol_violation() {
    let server = TestServer::plain().await;
    let addr = server.addr();
    let violation = "Memgraph.ClientError.Request.Invalid";

    // A Bolt BEGIN.
    let mut c = client(addr, 5, 4).await;
    c.send(BEGIN, &[Value::Map(Map::new())]).await;
    c.recv().await.success();
    c.send(ROUTE, &route_fields((5, 4), addr, None, None)).await;
    let failure = c.recv().await;
    assert_eq!(failure.failure_code(), violation);
    assert!(failure
        .failure_message()
        .contains("ROUTE inside a transaction"));
    assert_eq!(c.try_recv().await, None, "the connection is closed");

    // A Cypher BEGIN (pymgclient's way) is a transaction too.
    let mut c = client(addr, 4, 4).await;
    c.query("BEGIN").await.expect("BEGIN");
    c.send(ROUTE, &route_fields((4, 4), addr, None, None)).await;
    assert_eq!(c.recv().await.failure_code(), violation);
    assert_eq!(c.try_recv().await, None, "the connection is closed");

    // An auto-commit result not yet pulled.
    let mut c = client(addr, 4, 4).await;
    c.run_msg("UNWIND range(1, 3) AS x RETURN x").await;
    c.recv().await.success();
    c.send(ROUTE, &route_fields((4, 4), addr, None, None)).await;
    assert_eq!(c.recv().await.failure_code(), violation);
    assert_eq!(c.try_recv().await, None, "the connection is closed");
}

#[tokio::test]
async fn route_in_failed_is_ignored_until_reset() {
    let server = TestServer::plain().await;
    let addr = server.addr();
    let mut c = client(addr, 4, 4).await;
    c.run_msg("THIS IS NOT CYPHER").await;
    c.recv().await.failure_code();
    c.send(ROUTE, &route_fields((4, 4), addr, None, None)).await;
    assert_eq!(c.recv().await, Response::Ignored);
    // Even a ROUTE that would be refused is only ignored.
    c.send(ROUTE, &route_fields((4, 4), addr, Some("other"), None))
        .await;
    assert_eq!(c.recv().await, Response::Ignored);
    c.reset().await;
    let rt = route(&mut c, &route_fields((4, 4), addr, None, None)).await;
    assert_eq!(rt, expected_table(&addr.to_string(), "memgraph"));
}

#[tokio::test]
async fn a_wildcard_listener_names_the_address_the_client_dialled() {
    let server = TestServer::start_plain_with(|c| c.bolt_address = "0.0.0.0".into()).await;
    assert!(server.addr().ip().is_unspecified(), "{}", server.addr());
    let port = server.addr().port();
    let dialled: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut c = client(dialled, 5, 0).await;
    let rt = route(&mut c, &route_fields((5, 0), dialled, None, None)).await;
    assert_eq!(rt, expected_table(&format!("127.0.0.1:{port}"), "memgraph"));
}

#[tokio::test]
async fn ipv6_addresses_are_written_in_brackets() {
    let server = TestServer::start_plain_with(|c| c.bolt_address = "::1".into()).await;
    let addr = server.addr();
    assert!(addr.is_ipv6(), "{addr}");
    let mut c = client(addr, 4, 4).await;
    let rt = route(&mut c, &route_fields((4, 4), addr, None, None)).await;
    assert_eq!(
        rt,
        expected_table(&format!("[::1]:{}", addr.port()), "memgraph")
    );
}

#[tokio::test]
async fn the_advertised_address_wins() {
    let server = TestServer::start_plain_with(|c| {
        c.bolt_address = "0.0.0.0".into();
        c.bolt_advertised_address = "db.example.com:7000".into();
    })
    .await;
    let dialled: SocketAddr = ([127, 0, 0, 1], server.addr().port()).into();
    for version in [(4, 3), (5, 4)] {
        let mut c = client(dialled, version.0, version.1).await;
        let rt = route(&mut c, &route_fields(version, dialled, None, None)).await;
        assert_eq!(rt, expected_table("db.example.com:7000", "memgraph"));
    }
}

#[tokio::test]
async fn hello_takes_a_routing_context_and_refuses_a_malformed_one() {
    let server = TestServer::plain().await;
    let addr = server.addr();
    for routing in [
        Value::Map(map(&[("address", addr.to_string().into())])),
        Value::Null,
    ] {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut c = Client::over_with_hello(
            Box::new(tcp),
            offer(Version::new(4, 4)),
            None,
            map(&[("routing", routing)]),
        )
        .await
        .expect("HELLO with a routing context");
        c.ping().await;
    }
    let tcp = TcpStream::connect(addr).await.unwrap();
    let refused = Client::over_with_hello(
        Box::new(tcp),
        offer(Version::new(4, 4)),
        None,
        map(&[("routing", "localhost:7687".into())]),
    )
    .await
    .err()
    .expect("a routing string is refused");
    assert!(
        refused
            .failure_message()
            .contains("HELLO's routing must be a map or null"),
        "{refused:?}"
    );
}
