//! The metrics endpoint over real sockets: HTTPS with the Bolt certificate when TLS is on, through
//! the same handshake as Bolt connections but not counted with them.

mod common;

use common::{tls_connect, TestServer, STEP};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn scrape<S: common::Stream>(mut stream: S) -> String {
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut body = Vec::new();
    // A refused peer may see a reset instead of a clean close; either way the read must end.
    let _ = tokio::time::timeout(STEP, stream.read_to_end(&mut body))
        .await
        .expect("the endpoint answers or closes");
    String::from_utf8_lossy(&body).into_owned()
}

#[tokio::test]
async fn https_metrics_serve_the_bolt_certificate_and_leave_bolt_counters_alone() {
    let server =
        TestServer::tls_with("server.pem", "server.key", |c| c.metrics_port = Some(0)).await;
    let addr = server.server.metrics_addr().expect("metrics endpoint");
    let (stream, fingerprint) = tls_connect(addr).await.unwrap();
    assert_eq!(fingerprint, common::fixture_fingerprint("server.pem"));
    let text = scrape(stream).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("boltd_tls_certificate_generation 1"),
        "{text}"
    );
    assert!(!text.contains("boltd_tls_handshakes_total{"), "{text}");
}

#[tokio::test]
async fn plaintext_to_the_https_metrics_port_is_closed() {
    let server =
        TestServer::tls_with("server.pem", "server.key", |c| c.metrics_port = Some(0)).await;
    let addr = server.server.metrics_addr().expect("metrics endpoint");
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let text = scrape(tcp).await;
    assert!(!text.contains("HTTP/1.1 200"), "{text}");
}
