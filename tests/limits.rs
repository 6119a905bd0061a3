//! Limits and timeouts against hostile and broken peers, over real sockets. Each case also checks
//! that the server goes on serving everyone else, and that the limit hit was counted.

mod common;

use std::time::Duration;

use common::{Client, ResponseExt, TestServer, OFFER_4_4, STEP};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn limit_count(server: &TestServer, limit: &str) -> f64 {
    let text = server.server.metrics().encode();
    let needle = format!("boltd_limits_hit_total{{limit=\"{limit}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&needle))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Reads until EOF/error; true if the server closed within STEP.
async fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(STEP, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

async fn handshaken(server: &TestServer) -> TcpStream {
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    let mut hs = boltd::bolt::handshake::MAGIC.to_vec();
    hs.extend_from_slice(&OFFER_4_4);
    s.write_all(&hs).await.unwrap();
    let mut reply = [0u8; 4];
    s.read_exact(&mut reply).await.unwrap();
    s
}

fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    boltd::bolt::chunk::write_chunked(&mut out, message);
    out
}

async fn hello(s: &mut TcpStream) {
    let msg = [
        0xB1, 0x01, 0xA1, 0x8A, b'u', b's', b'e', b'r', b'_', b'a', b'g', b'e', b'n', b't', 0x81,
        b't',
    ];
    s.write_all(&framed(&msg)).await.unwrap();
    let mut header = [0u8; 2];
    s.read_exact(&mut header).await.unwrap();
    let mut body = vec![0u8; u16::from_be_bytes(header) as usize + 2];
    s.read_exact(&mut body).await.unwrap();
    assert_eq!(&body[..2], &[0xB1, 0x70], "HELLO succeeded");
}

#[tokio::test]
async fn unauthenticated_connections_are_closed_after_the_auth_deadline() {
    let server = TestServer::start_plain_with(|c| c.bolt_auth_timeout = 0.5).await;
    let mut s = handshaken(&server).await;
    assert!(closed(&mut s).await);
    assert_eq!(limit_count(&server, "auth_timeout"), 1.0);
    Client::plain(server.addr()).await.ping().await;
}

#[tokio::test]
async fn idle_sessions_are_closed_when_an_inactivity_timeout_is_set() {
    let server = TestServer::start_plain_with(|c| c.bolt_session_inactivity_timeout = 1).await;
    let mut s = handshaken(&server).await;
    hello(&mut s).await;
    assert!(closed(&mut s).await);
    assert_eq!(limit_count(&server, "inactivity"), 1.0);
}

#[tokio::test]
async fn connections_over_the_limit_are_closed_and_existing_ones_unaffected() {
    let server = TestServer::start_plain_with(|c| c.bolt_max_connections = 2).await;
    let mut a = Client::plain(server.addr()).await;
    let mut b = Client::plain(server.addr()).await;
    let mut third = TcpStream::connect(server.addr()).await.unwrap();
    assert!(closed(&mut third).await, "the third connection was kept");
    assert_eq!(limit_count(&server, "max_connections"), 1.0);
    a.ping().await;
    b.ping().await;
    drop(a);
    // The freed slot is usable again (the server notices the close asynchronously).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        let mut hs = boltd::bolt::handshake::MAGIC.to_vec();
        hs.extend_from_slice(&OFFER_4_4);
        s.write_all(&hs).await.unwrap();
        let mut reply = [0u8; 4];
        if s.read_exact(&mut reply).await.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot was never freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn oversized_messages_after_authentication_are_refused() {
    let server = TestServer::start_plain_with(|c| c.bolt_max_message_size = 1000).await;
    let mut c = Client::plain(server.addr()).await;
    let query = format!("RETURN '{}'", "x".repeat(2000));
    c.run_msg(&query).await;
    let failure = c.recv().await;
    assert!(
        failure.failure_message().contains("limit of 1000 bytes"),
        "{failure:?}"
    );
    assert!(c.try_recv().await.is_none(), "the connection was closed");
    assert_eq!(limit_count(&server, "message_size"), 1.0);
    Client::plain(server.addr()).await.ping().await;
}

#[tokio::test]
async fn a_declared_4_gib_string_with_10_bytes_is_refused_without_allocating() {
    let server = TestServer::plain().await;
    let mut s = handshaken(&server).await;
    hello(&mut s).await;
    // RUN <string claiming 4 GiB> followed by 10 bytes.
    let mut msg = vec![0xB3, 0x10, 0xD2, 0xFF, 0xFF, 0xFF, 0xFF];
    msg.extend_from_slice(b"0123456789");
    s.write_all(&framed(&msg)).await.unwrap();
    assert!(closed(&mut s).await);
    Client::plain(server.addr()).await.ping().await;
}

#[tokio::test]
async fn deeply_nested_parameters_are_refused_cleanly() {
    let server = TestServer::plain().await;
    let mut s = handshaken(&server).await;
    hello(&mut s).await;
    // RUN "RETURN $p" {p: [[[[...]]]]} {} with 100,000 levels.
    let mut msg = vec![0xB3, 0x10, 0x89];
    msg.extend_from_slice(b"RETURN $p");
    msg.extend_from_slice(&[0xA1, 0x81, b'p']);
    msg.extend(std::iter::repeat_n(0x91, 100_000));
    msg.push(0xC0);
    msg.push(0xA0);
    s.write_all(&framed(&msg)).await.unwrap();
    let mut all = Vec::new();
    let _ = tokio::time::timeout(STEP, s.read_to_end(&mut all)).await;
    assert!(
        all.len() > 4 && all[2..4] == [0xB1, 0x7F],
        "a FAILURE, then close: {all:?}"
    );
    let text = String::from_utf8_lossy(&all);
    assert!(text.contains("nested deeper"), "{text}");
    Client::plain(server.addr()).await.ping().await;
}

#[tokio::test]
async fn random_bytes_after_the_handshake_close_only_that_connection() {
    let server = TestServer::plain().await;
    let mut other = Client::plain(server.addr()).await;
    let mut state: u64 = 0x1234_5678;
    for _ in 0..20 {
        let mut s = handshaken(&server).await;
        let junk: Vec<u8> = (0..512)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let _ = s.write_all(&junk).await;
        let _ = s.shutdown().await;
        assert!(closed(&mut s).await);
    }
    other.ping().await;
    Client::plain(server.addr()).await.ping().await;
}

#[tokio::test]
async fn logoff_restarts_the_auth_deadline_instead_of_reusing_the_first_one() {
    let server = TestServer::start_plain_with(|c| c.bolt_auth_timeout = 0.5).await;
    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    let mut c = Client::over(Box::new(tcp), common::OFFER_5_4).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    c.send(0x6B, &[]).await; // LOGOFF
    c.recv().await.success();
    c.send(0x6A, &[boltd::value::Value::Map(Default::default())])
        .await; // LOGON
    c.recv().await.success();
    c.ping().await;
}
