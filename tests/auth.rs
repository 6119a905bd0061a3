//! Users, passwords and privileges over real sockets.

mod common;

use common::{Client, ResponseExt, TestServer, OFFER_4_4, OFFER_5_4};

const NOT_AUTHORIZED: &str = "You are not authorized to execute this query on database \"memgraph\"! Please contact your database administrator. This issue comes from the user having not enough role-based access privileges to execute this query. If you want this issue to be resolved, ask your database administrator to grant you a specific privilege for query execution.";

async fn ok(c: &mut Client, q: &str) {
    c.query(q).await.unwrap_or_else(|f| panic!("{q}: {f:?}"));
}

#[tokio::test]
async fn open_until_a_user_exists_then_closed() {
    let server = TestServer::plain().await;
    let mut anon = Client::plain(server.addr()).await;
    // The first user gets every privilege; from then on the anonymous session has none.
    ok(&mut anon, "CREATE USER admin IDENTIFIED BY 'admin-pw'").await;
    let failure = anon.query("SHOW USERS").await.expect_err("anonymous now");
    assert_eq!(failure.failure_message(), NOT_AUTHORIZED);

    // Anonymous and wrong passwords are refused with Memgraph's code, and disconnected.
    for (user, password) in [("admin", "wrong"), ("nobody", "admin-pw"), ("", "")] {
        let failure = match Client::plain_as(server.addr(), OFFER_4_4, user, password).await {
            Ok(_) => panic!("{user}/{password} got in"),
            Err(f) => f,
        };
        assert_eq!(
            failure.failure_code(),
            "Memgraph.ClientError.Security.Unauthenticated"
        );
        assert_eq!(failure.failure_message(), "Authentication failure");
    }
    let mut admin = Client::plain_as(server.addr(), OFFER_4_4, "admin", "admin-pw")
        .await
        .unwrap();
    admin.ping().await;
    let (_, rows, _) = admin.query("SHOW USERS").await.unwrap();
    assert_eq!(rows, vec![vec!["admin".into()]]);
    let failures = server.server.metrics().encode();
    assert!(
        failures.contains("boltd_logins_total{result=\"failed\"} 3"),
        "{failures}"
    );
}

#[tokio::test]
async fn reload_needs_reload_tls_and_show_needs_stats() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let (mut anon, _) = Client::tls(server.addr()).await;
    ok(&mut anon, "CREATE USER admin IDENTIFIED BY 'a'").await;
    drop(anon);

    let login = |user: &'static str, password: &'static str| {
        let addr = server.addr();
        async move {
            let (stream, _) = common::tls_connect(addr).await.unwrap();
            Client::over_as(Box::new(stream), OFFER_5_4, Some((user, password)))
                .await
                .unwrap()
        }
    };
    let mut admin = login("admin", "a").await;
    ok(&mut admin, "CREATE USER bob IDENTIFIED BY 'b'").await;
    let mut bob = login("bob", "b").await;
    let failure = bob
        .query("RELOAD BOLT_SERVER TLS")
        .await
        .expect_err("no privilege");
    assert_eq!(failure.failure_message(), NOT_AUTHORIZED);
    assert_eq!(
        failure.failure_code(),
        "Memgraph.ClientError.MemgraphError.MemgraphError"
    );
    bob.reset().await;
    let failure = bob
        .query("SHOW BOLT_SERVER TLS INFO")
        .await
        .expect_err("no privilege");
    assert_eq!(failure.failure_message(), NOT_AUTHORIZED);
    bob.reset().await;
    let failure = bob.query("CREATE USER eve").await.expect_err("no AUTH");
    assert_eq!(failure.failure_message(), NOT_AUTHORIZED);
    bob.reset().await;

    ok(&mut admin, "GRANT RELOAD_TLS TO bob").await;
    ok(&mut bob, "RELOAD BOLT_SERVER TLS").await;
    ok(&mut bob, "SHOW BOLT_SERVER TLS INFO").await;
    let (_, rows, _) = admin.query("SHOW PRIVILEGES FOR bob").await.unwrap();
    assert_eq!(rows[0][0], "RELOAD_TLS".into());

    // LOGOFF/LOGON switches the session's user and with it the privileges.
    bob.relogin("admin", "a").await.unwrap();
    ok(&mut bob, "SHOW USERS").await;
    bob.relogin("bob", "b").await.unwrap();
    assert!(bob.query("SHOW USERS").await.is_err());
    bob.reset().await;
    let failure = bob
        .relogin("bob", "wrong")
        .await
        .expect_err("wrong password");
    assert_eq!(failure.failure_message(), "Authentication failure");

    // Roles and denies.
    ok(&mut admin, "CREATE ROLE auditors").await;
    ok(&mut admin, "GRANT STATS TO auditors").await;
    ok(&mut admin, "CREATE USER carol IDENTIFIED BY 'c'").await;
    ok(&mut admin, "SET ROLE FOR carol TO auditors").await;
    let mut carol = login("carol", "c").await;
    ok(&mut carol, "SHOW BOLT_SERVER TLS INFO").await;
    ok(&mut admin, "DENY STATS TO carol").await;
    assert!(carol.query("SHOW BOLT_SERVER TLS INFO").await.is_err());
}

#[tokio::test]
async fn auth_statements_are_refused_inside_explicit_transactions() {
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    ok(&mut c, "BEGIN").await;
    let failure = c
        .query("CREATE USER x")
        .await
        .expect_err("in a transaction");
    assert!(
        failure.failure_message().contains("multicommand"),
        "{failure:?}"
    );
    c.reset().await;
    let (_, rows, _) = c.query("SHOW USERS").await.unwrap();
    assert!(rows.is_empty());
}

#[tokio::test]
async fn users_survive_a_restart() {
    let first = TestServer::plain().await;
    let data = first.dir.path().join("data");
    let mut c = Client::plain(first.addr()).await;
    ok(&mut c, "CREATE USER alice IDENTIFIED BY 'pw'").await;
    drop(c);
    let mut alice = Client::plain_as(first.addr(), OFFER_4_4, "alice", "pw")
        .await
        .unwrap();
    ok(&mut alice, "CREATE USER bob IDENTIFIED BY 'b'").await;
    ok(&mut alice, "GRANT RELOAD_TLS TO bob").await;
    drop(alice);
    first.server.shutdown().await;

    let second = TestServer::start_plain_with(move |c| c.data_directory = Some(data)).await;
    assert!(Client::plain_as(second.addr(), OFFER_4_4, "alice", "nope")
        .await
        .is_err());
    let mut alice = Client::plain_as(second.addr(), OFFER_4_4, "alice", "pw")
        .await
        .unwrap();
    let (_, rows, _) = alice.query("SHOW PRIVILEGES FOR bob").await.unwrap();
    assert_eq!(
        rows,
        vec![vec![
            "RELOAD_TLS".into(),
            "GRANT".into(),
            "GRANTED TO USER/ROLE".into()
        ]]
    );
}

#[tokio::test]
async fn a_wrong_password_is_answered_and_the_connection_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    ok(&mut c, "CREATE USER admin IDENTIFIED BY 'right'").await;
    let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let mut hs = boltd::bolt::handshake::MAGIC.to_vec();
    hs.extend_from_slice(&OFFER_4_4);
    s.write_all(&hs).await.unwrap();
    let mut reply = [0u8; 4];
    s.read_exact(&mut reply).await.unwrap();
    let mut hello = Vec::new();
    boltd::bolt::packstream::write_struct_header(&mut hello, 1, 0x01);
    let mut token = boltd::value::Map::new();
    token.insert("user_agent".into(), "t".into());
    token.insert("scheme".into(), "basic".into());
    token.insert("principal".into(), "admin".into());
    token.insert("credentials".into(), "wrong".into());
    boltd::bolt::packstream::encode_value(
        &mut hello,
        &boltd::value::Value::Map(token),
        boltd::bolt::packstream::StructLayout::for_version(4, 4, false),
    )
    .unwrap();
    let mut framed = Vec::new();
    boltd::bolt::chunk::write_chunked(&mut framed, &hello);
    s.write_all(&framed).await.unwrap();
    let mut all = Vec::new();
    tokio::time::timeout(common::STEP, s.read_to_end(&mut all))
        .await
        .expect("the server closes the connection")
        .unwrap();
    assert_eq!(&all[2..4], &[0xB1, 0x7F], "a FAILURE before the close");
    assert!(String::from_utf8_lossy(&all).contains("Authentication failure"));
}

#[tokio::test]
async fn graph_clauses_need_their_privileges() {
    let server = TestServer::plain().await;
    let mut admin = Client::plain(server.addr()).await;
    ok(&mut admin, "CREATE USER admin IDENTIFIED BY 'a'").await;
    drop(admin);
    let mut admin = Client::plain_as(server.addr(), OFFER_4_4, "admin", "a")
        .await
        .unwrap();
    ok(&mut admin, "CREATE USER reader IDENTIFIED BY 'r'").await;
    ok(&mut admin, "GRANT MATCH TO reader").await;
    ok(&mut admin, "CREATE (:Doc {n: 1})").await;

    let mut reader = Client::plain_as(server.addr(), OFFER_4_4, "reader", "r")
        .await
        .unwrap();
    let (_, rows, _) = reader.query("MATCH (d:Doc) RETURN d.n").await.unwrap();
    assert_eq!(rows, vec![vec![1.into()]]);
    // Expressions alone need nothing.
    ok(&mut reader, "UNWIND [1, 2] AS x RETURN x").await;
    for q in [
        "CREATE (:Doc {n: 2})",
        "MATCH (d:Doc) SET d.n = 3",
        "MATCH (d:Doc) DETACH DELETE d",
        "MERGE (:Doc {n: 1})",
        "CREATE INDEX ON :Doc(n)",
    ] {
        let failure = reader.query(q).await.expect_err(q);
        assert_eq!(failure.failure_message(), NOT_AUTHORIZED, "{q}");
        reader.reset().await;
    }
    ok(&mut admin, "GRANT SET TO reader").await;
    ok(&mut reader, "MATCH (d:Doc) SET d.n = 3").await;
    let (_, rows, _) = admin.query("MATCH (d:Doc) RETURN d.n").await.unwrap();
    assert_eq!(rows, vec![vec![3.into()]]);
}
