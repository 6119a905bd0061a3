//! `RELOAD BOLT_SERVER TLS` over real TLS sockets, checked by the SHA-256 fingerprint a fresh
//! TLS client sees.

mod common;

use std::time::Duration;

use boltd::value::{Map, Value};
use common::{
    fixture_fingerprint, served_fingerprint, Client, Response, ResponseExt, TestServer, STEP,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const RELOAD_IN_TX: &str = "Reloading SSL is not allowed in multicommand transactions. A multicommand transaction, also known as an explicit transaction, groups multiple commands into a single atomic operation. Instead, please use an implicit transaction, also known as an auto committing transaction, in order to execute this particularquery. For more details, visit https://memgraph.com/docs";
const MEMGRAPH_CODE: &str = "Memgraph.ClientError.MemgraphError.MemgraphError";

/// Runs the reload on `client`; Ok(summary) or Err(FAILURE message).
async fn reload(client: &mut Client) -> Result<Map, String> {
    match client.query("RELOAD BOLT_SERVER TLS;").await {
        Ok((fields, records, summary)) => {
            assert!(fields.is_empty(), "reload has no columns");
            assert!(records.is_empty(), "reload has no records");
            Ok(summary)
        }
        Err(failure) => {
            assert_eq!(failure.failure_code(), MEMGRAPH_CODE);
            let message = failure.failure_message();
            client.reset().await;
            Err(message)
        }
    }
}

#[tokio::test]
async fn reload_serves_new_certificate_to_new_connections_only() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let old = fixture_fingerprint("server.pem");
    let new = fixture_fingerprint("server2.pem");
    let (mut before, fp) = Client::tls(server.addr()).await;
    assert_eq!(fp, old);

    server.install("server2.pem", "server2.key");
    assert_eq!(
        served_fingerprint(server.addr()).await,
        old,
        "no change before RELOAD"
    );
    let summary = reload(&mut before).await.expect("reload succeeds");

    assert_eq!(summary.get("has_more"), Some(&Value::Bool(false)));
    assert_eq!(summary.get("type"), Some(&Value::String("rw".into())));
    let Some(Value::List(notes)) = summary.get("notifications") else {
        panic!("no notifications in {summary:?}");
    };
    let Value::Map(note) = &notes[0] else {
        panic!("{notes:?}")
    };
    assert_eq!(note.get("code"), Some(&Value::String("ReloadSSL".into())));
    assert_eq!(note.get("severity"), Some(&Value::String("INFO".into())));
    assert_eq!(
        note.get("title"),
        Some(&Value::String("Reloaded TLS on Bolt server".into()))
    );

    assert_eq!(served_fingerprint(server.addr()).await, new);
    // The connection opened before the reload keeps working.
    before.ping().await;
    let (mut after, fp) = Client::tls(server.addr()).await;
    assert_eq!(fp, new);
    after.ping().await;
}

#[tokio::test]
async fn five_open_connections_survive_a_reload() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(Client::tls(server.addr()).await.0);
    }
    server.install("ec.pem", "ec.key");
    reload(&mut clients[0]).await.expect("reload");
    for c in &mut clients {
        c.ping().await;
    }
    assert_eq!(
        served_fingerprint(server.addr()).await,
        fixture_fingerprint("ec.pem")
    );
}

#[tokio::test]
async fn failed_reloads_keep_the_old_certificate_and_a_valid_one_recovers() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let old = fixture_fingerprint("server.pem");
    let (mut c, _) = Client::tls(server.addr()).await;
    let cert = server.cert_path().display().to_string();
    let key = server.key_path().display().to_string();

    // Garbage certificate.
    server.write_cert(b"garbage");
    let err = reload(&mut c).await.unwrap_err();
    assert!(
        err.starts_with(&format!(
            "Couldn't load server certificate from file {cert}. Error: "
        )),
        "{err}"
    );
    assert_eq!(served_fingerprint(server.addr()).await, old);

    // Garbage key (with a valid certificate).
    server.install("server.pem", "server.key");
    server.write_key(b"garbage");
    let err = reload(&mut c).await.unwrap_err();
    assert!(
        err.starts_with(&format!(
            "Couldn't load server private key from file {key}. Error: "
        )),
        "{err}"
    );
    assert_eq!(served_fingerprint(server.addr()).await, old);

    // Missing certificate file.
    std::fs::remove_file(server.cert_path()).unwrap();
    let err = reload(&mut c).await.unwrap_err();
    assert!(
        err.contains(&cert) && err.contains("No such file or directory"),
        "{err}"
    );
    assert_eq!(served_fingerprint(server.addr()).await, old);

    // Mismatched pair: a new certificate with the old key (a half-finished rotation).
    server.install("server2.pem", "server.key");
    let err = reload(&mut c).await.unwrap_err();
    assert!(
        err.contains(&key) && err.contains("key values mismatch"),
        "{err}"
    );
    assert_eq!(served_fingerprint(server.addr()).await, old);

    // The same connection is still usable, and a valid pair recovers.
    c.ping().await;
    server.install("server2.pem", "server2.key");
    reload(&mut c).await.expect("valid reload");
    assert_eq!(
        served_fingerprint(server.addr()).await,
        fixture_fingerprint("server2.pem")
    );

    let status = server.server.tls().unwrap().status().await.unwrap();
    assert_eq!(status.reloads_failed, 4);
    assert_eq!(status.generation, 2);
    assert_eq!(status.last_error, None);
}

#[tokio::test]
async fn five_rapid_reloads_give_five_distinct_fingerprints() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let (mut c, _) = Client::tls(server.addr()).await;
    let mut seen = Vec::new();
    for (cert, key) in [
        ("server2.pem", "server2.key"),
        ("ec.pem", "ec.key"),
        ("chain.pem", "chain.key"),
        ("rsa4096-v1.pem", "rsa4096-v1.key"),
        ("server.pem", "server.key"),
    ] {
        server.install(cert, key);
        reload(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{cert}: {e}"));
        let fp = served_fingerprint(server.addr()).await;
        assert_eq!(fp, fixture_fingerprint(cert));
        seen.push(fp);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5);
}

#[tokio::test]
async fn reload_inside_cypher_begin_is_refused_and_changes_nothing() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let (mut c, _) = Client::tls(server.addr()).await;
    server.install("server2.pem", "server2.key");
    c.query("BEGIN").await.expect("BEGIN");
    let err = reload(&mut c).await.unwrap_err();
    assert_eq!(err, RELOAD_IN_TX);
    assert_eq!(
        served_fingerprint(server.addr()).await,
        fixture_fingerprint("server.pem")
    );
    // RESET ended the transaction; outside one the reload works.
    reload(&mut c).await.expect("reload after the transaction");
    assert_eq!(
        served_fingerprint(server.addr()).await,
        fixture_fingerprint("server2.pem")
    );
}

#[tokio::test]
async fn reload_inside_bolt_begin_is_refused_and_the_pipelined_pull_is_ignored() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let (mut c, _) = Client::tls(server.addr()).await;
    server.install("server2.pem", "server2.key");
    c.send(0x11, &[Value::Map(Map::new())]).await;
    c.recv().await.success();
    // Drivers pipeline RUN and PULL.
    c.run_msg("RELOAD BOLT_SERVER TLS").await;
    c.pull_msg().await;
    let failure = c.recv().await;
    assert_eq!(failure.failure_message(), RELOAD_IN_TX);
    assert_eq!(failure.failure_code(), MEMGRAPH_CODE);
    assert_eq!(c.recv().await, Response::Ignored);
    c.reset().await;
    assert_eq!(
        served_fingerprint(server.addr()).await,
        fixture_fingerprint("server.pem")
    );
    c.ping().await;
}

#[tokio::test]
async fn reload_on_a_plaintext_server_errors_and_the_server_keeps_working() {
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    let err = reload(&mut c).await.unwrap_err();
    assert_eq!(
        err,
        "Unable to reload SSL configuration because key or certificate file aren't set."
    );
    c.ping().await;
    Client::plain(server.addr()).await.ping().await;
}

#[tokio::test]
async fn incomplete_reload_statements_are_syntax_errors() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let (mut c, _) = Client::tls(server.addr()).await;
    for q in ["RELOAD BOLT_SERVER", "RELOAD TLS", "RELOAD TLS BOLT_SERVER"] {
        let failure = c.query(q).await.expect_err(q);
        assert_eq!(failure.failure_code(), MEMGRAPH_CODE);
        c.reset().await;
    }
    c.ping().await;
}

#[tokio::test]
async fn concurrent_reloads_from_many_sessions_all_succeed() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let addr = server.addr();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        tasks.push(tokio::spawn(async move {
            let (mut c, _) = Client::tls(addr).await;
            for _ in 0..3 {
                reload(&mut c).await.expect("reload");
                c.ping().await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let status = server.server.tls().unwrap().status().await.unwrap();
    assert_eq!(status.generation, 13);
}

#[tokio::test]
async fn plaintext_bolt_client_on_the_tls_port_fails_fast() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(&[
        0x60, 0x60, 0xB0, 0x17, 0, 0, 4, 4, 0, 0, 3, 4, 0, 0, 1, 4, 0, 0, 0, 1,
    ])
    .await
    .unwrap();
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    // The server must close promptly (well before the 3 s handshake deadline used in tests)
    // and must never answer with a Bolt version.
    let outcome = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        outcome.is_ok(),
        "the TLS port kept a plaintext client waiting"
    );
    assert!(
        !got.starts_with(&[0, 0, 4, 4]),
        "plaintext Bolt was answered: {got:?}"
    );
}

#[tokio::test]
async fn tls_client_on_the_plaintext_port_fails_fast() {
    let server = TestServer::plain().await;
    let result =
        tokio::time::timeout(Duration::from_secs(2), common::tls_connect(server.addr())).await;
    match result {
        Ok(Err(_)) => {}
        Ok(Ok(_)) => panic!("a TLS handshake succeeded on the plaintext port"),
        Err(_) => panic!("the TLS client was kept waiting"),
    }
    Client::plain(server.addr()).await.ping().await;
}

#[tokio::test]
async fn a_silent_tls_peer_is_dropped_after_the_deadline() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    let mut buf = [0u8; 16];
    let r = tokio::time::timeout(STEP, s.read(&mut buf)).await;
    assert!(
        matches!(r, Ok(Ok(0)) | Ok(Err(_))),
        "server kept a silent peer: {r:?}"
    );
    // And the server is still serving others.
    Client::tls(server.addr()).await.0.ping().await;
}
