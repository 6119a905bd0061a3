//! Where handshakes run, over real sockets: on the Bolt worker when the certificate key and the
//! key exchange the client picked are cheap, on the handshake threads otherwise. Every handshake
//! must succeed and carry Bolt either way; the offload counter tells which way it went.

mod common;

use common::{bolt_handshake, tls_connect_with, TestServer};
use openssl::ssl::{SslConnectorBuilder, SslVersion};

fn offloaded(server: &TestServer) -> f64 {
    let text = server.server.metrics().encode();
    text.lines()
        .find_map(|l| l.strip_prefix("boltd_tls_handshakes_offloaded_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the offload counter is exported")
}

/// Connects with `configure`, speaks the Bolt handshake over the result, and returns how many
/// handshakes the server had moved by then.
async fn connect(server: &TestServer, configure: impl FnOnce(&mut SslConnectorBuilder)) -> f64 {
    let mut s = tls_connect_with(server.addr(), configure, None)
        .await
        .expect("the TLS handshake succeeds");
    let version = bolt_handshake(&mut s).await.expect("Bolt works over it");
    assert_ne!(version, [0, 0, 0, 0]);
    offloaded(server)
}

fn groups(list: &'static str) -> impl FnOnce(&mut SslConnectorBuilder) {
    move |b| b.set_groups_list(list).unwrap()
}

#[tokio::test]
async fn cheap_key_and_exchange_stay_on_the_worker_and_costly_exchanges_move() {
    let server = TestServer::tls("ec.pem", "ec.key").await;
    assert_eq!(
        connect(&server, |_| {}).await,
        0.0,
        "X25519 with P-256 moved"
    );
    assert_eq!(connect(&server, groups("P-256")).await, 0.0);
    assert_eq!(connect(&server, groups("P-384")).await, 1.0, "P-384 stayed");
    assert_eq!(connect(&server, groups("P-521:X25519")).await, 2.0);
}

#[tokio::test]
async fn without_key_shares_tls_1_2_is_judged_by_the_groups_offered() {
    // RSA, because a TLS 1.2 client must support an ECDSA certificate's curve.
    let server = TestServer::tls("server.pem", "server.key").await;
    let tls12 = |list: &'static str| {
        move |b: &mut SslConnectorBuilder| {
            b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
            b.set_groups_list(list).unwrap();
        }
    };
    assert_eq!(connect(&server, tls12("P-384:X25519")).await, 0.0);
    assert_eq!(connect(&server, tls12("P-384")).await, 1.0);
}

#[tokio::test]
async fn a_costly_certificate_key_moves_every_handshake() {
    let server = TestServer::tls("rsa4096-v1.pem", "rsa4096-v1.key").await;
    assert_eq!(connect(&server, |_| {}).await, 1.0);
    assert_eq!(connect(&server, groups("P-384")).await, 2.0);
}

#[tokio::test]
async fn resumed_handshakes_follow_the_same_rule() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let mut first = tls_connect_with(server.addr(), |_| {}, None).await.unwrap();
    bolt_handshake(&mut first).await.unwrap();
    let session = first.ssl().session().unwrap().to_owned();
    let again = tls_connect_with(server.addr(), |_| {}, Some(&session))
        .await
        .unwrap();
    assert!(again.ssl().session_reused(), "the ticket was not taken");
    assert_eq!(offloaded(&server), 0.0);
}
