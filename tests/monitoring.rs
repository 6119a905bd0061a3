//! The monitoring WebSocket against an in-process server, over real sockets with tokio-tungstenite
//! as the client: the stream, shutdown, and bad or hostile clients (too large a message, a silent
//! socket, too many clients). The real-client tests are in tests/python/test_monitoring.py.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use boltd::server::monitoring::MAX_CLIENTS;
use common::{Client, TestServer, STEP};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

async fn monitored() -> TestServer {
    TestServer::start_plain_with(|c| {
        c.monitoring_address = "127.0.0.1".into();
        c.monitoring_port = Some(0);
    })
    .await
}

fn monitoring_addr(server: &TestServer) -> SocketAddr {
    server.server.monitoring_addr().expect("monitoring is on")
}

async fn open(addr: SocketAddr) -> WebSocketStream<TcpStream> {
    let tcp = tokio::time::timeout(STEP, TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap();
    let (ws, response) = tokio::time::timeout(
        STEP,
        tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp),
    )
    .await
    .unwrap()
    .expect("upgrade");
    assert_eq!(response.headers()["server"], "Memgraph WS");
    ws
}

/// The next log event whose message contains `needle`.
async fn event_with(ws: &mut WebSocketStream<TcpStream>, needle: &str) -> serde_json::Value {
    loop {
        let message = tokio::time::timeout(STEP, ws.next())
            .await
            .expect("an event in time")
            .expect("the stream is open")
            .expect("a message");
        let Message::Text(text) = message else {
            continue;
        };
        let event: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
        assert_eq!(event["event"], "log");
        if event["message"].as_str().unwrap().contains(needle) {
            return event;
        }
    }
}

/// The close frame's code once the server closes (skipping events before it).
async fn close_code(ws: &mut WebSocketStream<TcpStream>) -> Option<CloseCode> {
    loop {
        match tokio::time::timeout(STEP, ws.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test]
async fn events_stream_until_shutdown_closes_the_client_as_going_away() {
    let server = monitored().await;
    let mut ws = open(monitoring_addr(&server)).await;
    let mut bolt = Client::plain(server.addr()).await;
    bolt.query("RETURN 1").await.unwrap();
    let event = event_with(&mut ws, "client connected user_agent").await;
    assert_eq!(event["level"], "info");
    assert!(server.logs.has_subscribers());

    server.server.shutdown().await;
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Away));
}

#[tokio::test]
async fn a_message_over_the_limit_closes_the_connection_as_too_big() {
    let server = monitored().await;
    let mut ws = open(monitoring_addr(&server)).await;
    let big = "x".repeat(boltd::server::monitoring::MAX_INCOMING + 1);
    ws.send(Message::text(big)).await.unwrap();
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Size));
    // The server is none the worse for it.
    let mut ws = open(monitoring_addr(&server)).await;
    ws.send(Message::text("ignored")).await.unwrap();
    let _bolt = Client::plain(server.addr()).await;
    event_with(&mut ws, "client connected user_agent").await;
}

#[tokio::test]
async fn a_silent_socket_is_closed_at_the_upgrade_deadline() {
    // TestServer sets --bolt-handshake-timeout to 3 s; the upgrade shares it.
    let server = monitored().await;
    let mut raw = TcpStream::connect(monitoring_addr(&server)).await.unwrap();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(STEP, raw.read(&mut byte)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "closed without a byte: {read:?}"
    );
    // Nor does plain HTTP get a stream.
    let mut raw = TcpStream::connect(monitoring_addr(&server)).await.unwrap();
    raw.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(STEP, raw.read_to_end(&mut reply))
        .await
        .expect("closed in time");
    assert!(!String::from_utf8_lossy(&reply).contains("101 Switching Protocols"));
}

#[tokio::test]
async fn clients_over_the_cap_are_closed_at_once() {
    let server = monitored().await;
    let addr = monitoring_addr(&server);
    let mut held = Vec::new();
    for _ in 0..MAX_CLIENTS {
        held.push(open(addr).await);
    }
    let tcp = TcpStream::connect(addr).await.unwrap();
    let refused = tokio::time::timeout(
        STEP,
        tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp),
    )
    .await
    .expect("answered in time");
    assert!(refused.is_err(), "the client over the cap was upgraded");
    let text = server.server.metrics().encode();
    assert!(
        text.contains("boltd_limits_hit_total{limit=\"monitoring_clients\"} 1"),
        "{text}"
    );
    // Every client that got in still receives the stream.
    let _bolt = Client::plain(server.addr()).await;
    for ws in &mut held {
        event_with(ws, "client connected user_agent").await;
    }
    // A freed place can be taken again.
    drop(held.pop());
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let upgraded = tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp).await;
        if upgraded.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the place never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
