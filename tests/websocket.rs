//! Bolt over WebSocket on the Bolt port against an in-process server, over real sockets: the
//! library's Bolt client over `ws://` and `wss://` (through `bolt::websocket::connect`), and
//! tokio-tungstenite as a raw client for the upgrade reply and the limits (message sizes before
//! and after authentication, the upgrade request's size and deadline, text messages). The
//! real-client tests are tests/python/test_websocket.py and tests/python/test_browser.py.

mod common;

use std::net::SocketAddr;

use boltd::bolt::chunk::write_chunked;
use boltd::bolt::client::Stream;
use boltd::bolt::websocket::{self, MAX_UPGRADE_REQUEST};
use boltd::value::{Map, Value};
use common::{tls_connect, Client, Response, ResponseExt, TestServer, OFFER_4_4, OFFER_5_4, STEP};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

fn quiet() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

async fn tcp(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(STEP, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// A Bolt session over `ws://` (or `wss://` when `tls`), through the library's adapter.
async fn bolt_over_ws(addr: SocketAddr, tls: bool, offer: [u8; 16]) -> Client {
    let stream: Box<dyn Stream> = if tls {
        let (tls, _) = tls_connect(addr).await.expect("TLS");
        let url = format!("wss://{addr}/");
        let ws = websocket::connect(tls, &url, quiet());
        Box::new(
            tokio::time::timeout(STEP, ws)
                .await
                .unwrap()
                .expect("wss upgrade"),
        )
    } else {
        let url = format!("ws://{addr}/");
        let ws = websocket::connect(tcp(addr).await, &url, quiet());
        Box::new(
            tokio::time::timeout(STEP, ws)
                .await
                .unwrap()
                .expect("ws upgrade"),
        )
    };
    Client::over(stream, offer).await
}

/// A raw WebSocket (tokio-tungstenite) that has done the Bolt handshake for 4.4, with nothing
/// sent after it.
async fn raw_bolt(addr: SocketAddr) -> WebSocketStream<TcpStream> {
    let (mut ws, _) = tokio::time::timeout(
        STEP,
        tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp(addr).await),
    )
    .await
    .unwrap()
    .expect("upgrade");
    let mut hello = boltd::bolt::handshake::MAGIC.to_vec();
    hello.extend_from_slice(&OFFER_4_4);
    ws.send(Message::binary(hello)).await.unwrap();
    assert_eq!(next_binary(&mut ws).await, vec![0, 0, 4, 4]);
    ws
}

async fn next_binary(ws: &mut WebSocketStream<TcpStream>) -> Vec<u8> {
    loop {
        match tokio::time::timeout(STEP, ws.next())
            .await
            .expect("a message in time")
        {
            Some(Ok(Message::Binary(b))) => return b.to_vec(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a binary message, got {other:?}"),
        }
    }
}

/// Everything binary the server sends until it closes, and the close frame's code.
async fn until_close(ws: &mut WebSocketStream<TcpStream>) -> (Vec<u8>, Option<CloseCode>) {
    let mut bytes = Vec::new();
    loop {
        match tokio::time::timeout(STEP, ws.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Message::Binary(b))) => bytes.extend_from_slice(&b),
            Some(Ok(Message::Close(frame))) => return (bytes, frame.map(|f| f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return (bytes, None),
        }
    }
}

/// One Bolt 4.4 message, chunked.
fn message(tag: u8, fields: &[Value]) -> Vec<u8> {
    let layout = boltd::bolt::packstream::StructLayout::for_version(4, 4, false);
    let mut body = Vec::new();
    boltd::bolt::packstream::write_struct_header(&mut body, fields.len() as u8, tag);
    for f in fields {
        boltd::bolt::packstream::encode_value(&mut body, f, layout).expect("encode");
    }
    let mut out = Vec::new();
    write_chunked(&mut out, &body);
    out
}

/// A HELLO (scheme none) whose user agent is `padding` bytes long.
fn hello_with_padding(padding: usize) -> Vec<u8> {
    let mut extra = Map::new();
    extra.insert("user_agent".into(), Value::from("x".repeat(padding)));
    extra.insert("scheme".into(), Value::from("none"));
    message(0x01, &[Value::Map(extra)])
}

fn ws_upgrades(server: &TestServer, result: &str) -> u64 {
    let text = server.server.metrics().encode();
    let line = format!("boltd_websocket_upgrades_total{{result=\"{result}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&line))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn bolt_4_and_5_over_ws_and_the_upgrade_reply_names_the_server() {
    let server = TestServer::plain().await;
    let addr = server.addr();
    for offer in [OFFER_4_4, OFFER_5_4] {
        let mut client = bolt_over_ws(addr, false, offer).await;
        client.ping().await;
        let (_, rows, _) = client
            .query("UNWIND range(1, 3) AS x RETURN x")
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
    }
    // The reply is Memgraph's; a client asking for the `binary` subprotocol gets it.
    let mut request = format!("ws://{addr}/").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "binary".parse().unwrap());
    let (_, response) = tokio_tungstenite::client_async(request, tcp(addr).await)
        .await
        .expect("upgrade");
    assert_eq!(response.headers()["server"], "Memgraph Bolt WS");
    assert_eq!(response.headers()["sec-websocket-protocol"], "binary");
    let (_, response) = tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp(addr).await)
        .await
        .expect("upgrade");
    assert!(response.headers().get("sec-websocket-protocol").is_none());
    assert_eq!(ws_upgrades(&server, "ok"), 4);
    // Plain Bolt on the same port is untouched.
    Client::plain(addr).await.ping().await;
}

#[tokio::test]
async fn wss_on_a_tls_port_and_plain_ws_refused_like_plaintext_bolt() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let addr = server.addr();
    let mut client = bolt_over_ws(addr, true, OFFER_4_4).await;
    client.ping().await;
    // ws:// on the TLS port: the upgrade request is not a ClientHello, so TLS fails and nothing
    // of HTTP comes back.
    let mut raw = tcp(addr).await;
    raw.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(STEP, raw.read_to_end(&mut reply))
        .await
        .expect("closed in time");
    assert!(
        !String::from_utf8_lossy(&reply).contains("HTTP/1.1"),
        "{reply:?}"
    );
    assert_eq!(ws_upgrades(&server, "ok"), 1);
    client.ping().await;
}

#[tokio::test]
async fn messages_split_and_merged_across_websocket_messages() {
    let server = TestServer::plain().await;
    let mut ws = raw_bolt(server.addr()).await;
    // HELLO one byte per message, then RUN + PULL merged into one.
    for byte in hello_with_padding(10) {
        ws.send(Message::binary(vec![byte])).await.unwrap();
    }
    let hello = next_binary(&mut ws).await;
    assert_eq!(hello[2..4], [0xB1, 0x70], "HELLO SUCCESS: {hello:?}");
    let mut pull = Map::new();
    pull.insert("n".into(), Value::Int(-1));
    let mut both = message(
        0x10,
        &[
            Value::from("RETURN 7 AS x"),
            Value::Map(Map::new()),
            Value::Map(Map::new()),
        ],
    );
    both.extend(message(0x3F, &[Value::Map(pull)]));
    ws.send(Message::binary(both)).await.unwrap();
    // The three answers (SUCCESS, RECORD, SUCCESS) leave in one message: one per flush.
    let answers = next_binary(&mut ws).await;
    let tags: Vec<u8> = split_messages(&answers).iter().map(|m| m[1]).collect();
    assert_eq!(tags, vec![0x70, 0x71, 0x70]);
}

/// Bolt messages out of a chunked byte stream.
fn split_messages(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    while bytes.len() >= 2 {
        let size = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        bytes = &bytes[2..];
        if size == 0 {
            out.push(std::mem::take(&mut current));
            continue;
        }
        current.extend_from_slice(&bytes[..size]);
        bytes = &bytes[size..];
    }
    out
}

#[tokio::test]
async fn before_authentication_a_large_message_is_refused_as_on_tcp() {
    let server = TestServer::plain().await;
    let limit = boltd::config::Config::default().bolt_max_message_size_unauthenticated;
    let expected = format!("larger than the limit of {limit} bytes before authentication");
    // Within what the WebSocket layer holds: the chunk reader refuses it.
    let mut ws = raw_bolt(server.addr()).await;
    ws.send(Message::binary(hello_with_padding(limit + 1)))
        .await
        .unwrap();
    let (bytes, _) = until_close(&mut ws).await;
    assert!(
        String::from_utf8_lossy(&bytes).contains(&expected),
        "{bytes:?}"
    );
    // Far over it in one message: refused by the WebSocket layer before it is buffered whole,
    // with the same FAILURE and the close code for "too big".
    let mut ws = raw_bolt(server.addr()).await;
    let big = hello_with_padding(4 * limit);
    let _ = ws.send(Message::binary(big)).await;
    let (bytes, code) = until_close(&mut ws).await;
    assert!(
        String::from_utf8_lossy(&bytes).contains(&expected),
        "{bytes:?}"
    );
    assert_eq!(code, Some(CloseCode::Size));
    // After authentication, a 2 MiB parameter travels both ways.
    let mut client = bolt_over_ws(server.addr(), false, OFFER_4_4).await;
    let big = "y".repeat(2 << 20);
    let mut params = Map::new();
    params.insert("s".into(), Value::from(big.as_str()));
    client
        .send(
            0x10,
            &[
                Value::from("RETURN $s AS s"),
                Value::Map(params),
                Value::Map(Map::new()),
            ],
        )
        .await;
    client.recv().await.success();
    client.pull_msg().await;
    match client.recv().await {
        Response::Record(row) => assert_eq!(row, vec![Value::from(big.as_str())]),
        other => panic!("expected the record, got {other:?}"),
    }
    client.recv().await.success();
}

#[tokio::test]
async fn the_upgrade_request_has_a_size_cap_and_the_handshake_deadline() {
    let server = TestServer::plain().await;
    let addr = server.addr();
    // Headers past the cap: no upgrade.
    let mut raw = tcp(addr).await;
    let mut request = b"GET / HTTP/1.1\r\nHost: x\r\nCookie: ".to_vec();
    request.resize(MAX_UPGRADE_REQUEST + 1, b'c');
    let _ = raw.write_all(&request).await;
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(STEP, raw.read_to_end(&mut reply))
        .await
        .expect("closed in time");
    assert!(reply.is_empty(), "{:?}", String::from_utf8_lossy(&reply));
    // A request that never ends is closed at --bolt-handshake-timeout (3 s in TestServer).
    let mut raw = tcp(addr).await;
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let read = tokio::time::timeout(STEP, raw.read_to_end(&mut reply)).await;
    assert!(read.is_ok(), "closed in time: {read:?}");
    // Plain HTTP is no upgrade either.
    let mut raw = tcp(addr).await;
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(STEP, raw.read_to_end(&mut reply))
        .await
        .expect("closed in time");
    // It gets a 400 that says what the port speaks, its length as announced.
    let reply = String::from_utf8_lossy(&reply).into_owned();
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
    let (head, body) = reply.split_once("\r\n\r\n").expect("a whole response");
    let length = format!("Content-Length: {}", body.len());
    assert!(head.split("\r\n").any(|l| l == length), "{reply}");
    assert!(body.contains("Bolt over WebSocket"), "{body}");
    assert_eq!(ws_upgrades(&server, "failed"), 3);
    let text = server.server.metrics().encode();
    assert!(
        text.contains("boltd_limits_hit_total{limit=\"websocket_upgrade_size\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("boltd_limits_hit_total{limit=\"bolt_handshake_timeout\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn text_messages_are_refused_and_pings_answered() {
    let server = TestServer::plain().await;
    let mut ws = raw_bolt(server.addr()).await;
    ws.send(Message::Ping(vec![1, 2, 3].into())).await.unwrap();
    let pong = tokio::time::timeout(STEP, ws.next()).await.unwrap();
    assert!(
        matches!(&pong, Some(Ok(Message::Pong(p))) if p[..] == [1, 2, 3]),
        "{pong:?}"
    );
    ws.send(Message::text("RETURN 1")).await.unwrap();
    let (_, code) = until_close(&mut ws).await;
    assert_eq!(code, Some(CloseCode::Unsupported));
}

#[tokio::test]
async fn a_close_before_the_bolt_handshake_is_answered() {
    let server = TestServer::plain().await;
    let addr = server.addr();
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp(addr).await)
        .await
        .expect("upgrade");
    let bye = CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    };
    ws.send(Message::Close(Some(bye))).await.unwrap();
    let (_, code) = until_close(&mut ws).await;
    assert_eq!(
        code,
        Some(CloseCode::Normal),
        "the server answered the close frame"
    );
    // Nor does a wrong preamble in a binary message get a bare drop.
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp(addr).await)
        .await
        .expect("upgrade");
    ws.send(Message::binary(b"HTTP/1.1 200 OK\r\n\r\n".to_vec()))
        .await
        .unwrap();
    let (bytes, code) = until_close(&mut ws).await;
    assert!(bytes.is_empty(), "{bytes:?}");
    assert_eq!(code, Some(CloseCode::Normal));
}

#[tokio::test]
async fn a_server_stopping_closes_sessions_with_going_away() {
    let server = TestServer::plain().await;
    let mut ws = raw_bolt(server.addr()).await;
    ws.send(Message::binary(hello_with_padding(0)))
        .await
        .unwrap();
    let success = next_binary(&mut ws).await;
    assert_eq!(&success[2..4], &[0xB1, 0x70], "HELLO answered with SUCCESS");
    let TestServer {
        server: running,
        dir: _dir,
        ..
    } = server;
    let stopped = tokio::spawn(running.shutdown());
    let (_, code) = until_close(&mut ws).await;
    assert_eq!(code, Some(CloseCode::Away), "1001, not 1000");
    tokio::time::timeout(STEP, stopped)
        .await
        .expect("the server stops")
        .unwrap();
}
