//! TLS policy over real sockets: protocol versions, ciphers, client certificates (with CA
//! rotation by reload) and session resumption.

mod common;

use boltd::config::Config;
use boltd::tls::{ClientAuth, MinVersion};
use common::{bolt_handshake, tls_connect_with, with_client_cert, Client, ResponseExt, TestServer};
use openssl::ssl::SslVersion;

/// Whether a client presenting fixture certificate `cert` (or none) is kept out. With TLS 1.3 a
/// rejected client certificate only shows on the first read, hence the Bolt handshake.
async fn refused(addr: std::net::SocketAddr, cert: Option<&'static str>) -> bool {
    let configure = |b: &mut openssl::ssl::SslConnectorBuilder| {
        if let Some(name) = cert {
            with_client_cert(b, name)
        }
    };
    match tls_connect_with(addr, configure, None).await {
        Err(_) => true,
        Ok(mut s) => bolt_handshake(&mut s).await.is_err(),
    }
}

fn require_client_certs(c: &mut Config, mode: ClientAuth) {
    c.bolt_ca_file = Some(common::fixture("ca.pem"));
    c.bolt_client_auth = mode;
}

#[tokio::test]
async fn minimum_version_1_3_refuses_tls_1_2_clients() {
    let server = TestServer::tls_with("server.pem", "server.key", |c| {
        c.bolt_tls_min_version = MinVersion::Tls13
    })
    .await;
    let old = tls_connect_with(
        server.addr(),
        |b| b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap(),
        None,
    )
    .await;
    assert!(old.is_err(), "a TLS 1.2 client got in");
    let s = tls_connect_with(server.addr(), |_| {}, None).await.unwrap();
    assert_eq!(s.ssl().version_str(), "TLSv1.3");
}

#[tokio::test]
async fn default_accepts_tls_1_2_and_configured_ciphers_are_used() {
    let server = TestServer::tls_with("server.pem", "server.key", |c| {
        c.bolt_tls_ciphers = "ECDHE-RSA-AES256-GCM-SHA384".into();
        c.bolt_tls_ciphersuites = "TLS_CHACHA20_POLY1305_SHA256".into();
    })
    .await;
    let s12 = tls_connect_with(
        server.addr(),
        |b| b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(s12.ssl().version_str(), "TLSv1.2");
    assert_eq!(
        s12.ssl().current_cipher().unwrap().name(),
        "ECDHE-RSA-AES256-GCM-SHA384"
    );
    let s13 = tls_connect_with(server.addr(), |_| {}, None).await.unwrap();
    assert_eq!(
        s13.ssl().current_cipher().unwrap().name(),
        "TLS_CHACHA20_POLY1305_SHA256"
    );
}

#[tokio::test]
async fn invalid_cipher_list_stops_startup_naming_the_value() {
    let config = Config {
        bolt_address: "127.0.0.1".into(),
        bolt_port: 0,
        bolt_cert_file: Some(common::fixture("server.pem")),
        bolt_key_file: Some(common::fixture("server.key")),
        bolt_tls_ciphers: "NO-SUCH-CIPHER".into(),
        ..Config::default()
    };
    let err = boltd::server::start(
        &config,
        std::sync::Arc::new(boltd::engine::MemoryEngine::new()),
        boltd::logging::discard(),
        boltd::logging::LogHub::new(),
    )
    .await
    .err()
    .expect("startup fails");
    assert!(err.to_string().contains("NO-SUCH-CIPHER"), "{err}");
}

#[tokio::test]
async fn require_refuses_clients_without_a_certificate_from_the_ca() {
    let server = TestServer::tls_with("server.pem", "server.key", |c| {
        require_client_certs(c, ClientAuth::Require)
    })
    .await;
    // No certificate at all.
    assert!(
        refused(server.addr(), None).await,
        "a client without a certificate got in"
    );
    // A certificate from another CA.
    assert!(
        refused(server.addr(), Some("other-client")).await,
        "a client certificate from the wrong CA got in"
    );
    // The right one: a whole Bolt session works.
    let s = tls_connect_with(server.addr(), |b| with_client_cert(b, "client"), None)
        .await
        .unwrap();
    Client::over(Box::new(s), common::OFFER_4_4)
        .await
        .ping()
        .await;
}

#[tokio::test]
async fn optional_lets_anonymous_clients_in_but_not_wrong_certificates() {
    let server = TestServer::tls_with("server.pem", "server.key", |c| {
        require_client_certs(c, ClientAuth::Optional)
    })
    .await;
    let s = tls_connect_with(server.addr(), |_| {}, None).await.unwrap();
    Client::over(Box::new(s), common::OFFER_4_4)
        .await
        .ping()
        .await;
    assert!(refused(server.addr(), Some("other-client")).await);
}

#[tokio::test]
async fn the_ca_bundle_is_reread_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("clients-ca.pem");
    std::fs::copy(common::fixture("ca.pem"), &ca).unwrap();
    let ca_path = ca.clone();
    let server = TestServer::tls_with("server.pem", "server.key", |c| {
        c.bolt_ca_file = Some(ca_path);
        c.bolt_client_auth = ClientAuth::Require;
    })
    .await;
    let connect_as = |name: &'static str| {
        let addr = server.addr();
        async move { !refused(addr, Some(name)).await }
    };
    assert!(connect_as("client").await);
    assert!(!connect_as("other-client").await);

    // Rotate: a bundle with the old and the new CA, then RELOAD.
    let mut bundle = std::fs::read(common::fixture("ca.pem")).unwrap();
    bundle.extend(std::fs::read(common::fixture("other-ca.pem")).unwrap());
    std::fs::write(&ca, bundle).unwrap();
    let s = tls_connect_with(server.addr(), |b| with_client_cert(b, "client"), None)
        .await
        .unwrap();
    let mut admin = Client::over(Box::new(s), common::OFFER_4_4).await;
    admin.query("RELOAD BOLT_SERVER TLS").await.expect("reload");
    assert!(connect_as("client").await, "the old CA still works");
    assert!(
        connect_as("other-client").await,
        "the new CA is trusted after the reload"
    );

    // A broken CA file is a reload error that changes nothing.
    std::fs::write(&ca, b"garbage").unwrap();
    let failure = admin
        .query("RELOAD BOLT_SERVER TLS")
        .await
        .expect_err("bad CA");
    assert!(failure.failure_message().contains("CA"), "{failure:?}");
    admin.reset().await;
    assert!(connect_as("other-client").await);
}

#[tokio::test]
async fn sessions_resume_within_a_generation_but_not_across_a_reload() {
    let server = TestServer::tls("server.pem", "server.key").await;
    for max in [SslVersion::TLS1_2, SslVersion::TLS1_3] {
        let cfg =
            |b: &mut openssl::ssl::SslConnectorBuilder| b.set_max_proto_version(Some(max)).unwrap();
        let mut first = tls_connect_with(server.addr(), cfg, None).await.unwrap();
        // TLS 1.3 tickets arrive after the handshake: read the Bolt reply to receive them.
        bolt_handshake(&mut first).await.unwrap();
        let session = first.ssl().session().expect("a session").to_owned();
        let mut again = tls_connect_with(server.addr(), cfg, Some(&session))
            .await
            .unwrap();
        bolt_handshake(&mut again).await.unwrap();
        assert!(
            again.ssl().session_reused(),
            "{max:?}: no resumption within a generation"
        );

        let (mut c, _) = Client::tls(server.addr()).await;
        c.query("RELOAD BOLT_SERVER TLS").await.unwrap();
        let mut after = tls_connect_with(server.addr(), cfg, Some(&session))
            .await
            .unwrap();
        bolt_handshake(&mut after).await.unwrap();
        assert!(
            !after.ssl().session_reused(),
            "{max:?}: resumed across a reload"
        );
    }
}
