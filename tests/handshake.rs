//! Raw-byte Bolt handshake cases over real sockets.

mod common;

use std::time::Duration;

use common::{TestServer, STEP};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAGIC: [u8; 4] = [0x60, 0x60, 0xB0, 0x17];

async fn connect(server: &TestServer) -> TcpStream {
    let s = TcpStream::connect(server.addr()).await.expect("connect");
    s.set_nodelay(true).unwrap();
    s
}

async fn read_reply(stream: &mut TcpStream) -> [u8; 4] {
    let mut reply = [0u8; 4];
    tokio::time::timeout(STEP, stream.read_exact(&mut reply))
        .await
        .expect("reply in time")
        .expect("reply");
    reply
}

/// Reads until EOF or error; true when the server closed within `STEP`.
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout(STEP, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn pymgclient_offer_sent_in_five_pieces_gets_4_4() {
    let server = TestServer::plain().await;
    let mut s = connect(&server).await;
    // mgclient writes the magic and each proposal separately.
    for piece in [
        &MAGIC[..],
        &[0, 0, 4, 4],
        &[0, 0, 3, 4],
        &[0, 0, 1, 4],
        &[0, 0, 0, 1],
    ] {
        s.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(read_reply(&mut s).await, [0, 0, 4, 4]);
}

#[tokio::test]
async fn neo4j_offer_with_manifest_slot_gets_highest_5x_in_range() {
    let server = TestServer::plain().await;
    let mut s = connect(&server).await;
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&[0, 0, 1, 0xFF, 0, 8, 8, 5, 0, 2, 4, 4, 0, 0, 0, 3]);
    s.write_all(&bytes).await.unwrap();
    assert_eq!(read_reply(&mut s).await, [0, 0, 4, 5]);
}

#[tokio::test]
async fn client_preference_order_is_honoured() {
    let server = TestServer::plain().await;
    let mut s = connect(&server).await;
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&[0, 0, 3, 4, 0, 0, 2, 5, 0, 0, 0, 0, 0, 0, 0, 0]);
    s.write_all(&bytes).await.unwrap();
    assert_eq!(read_reply(&mut s).await, [0, 0, 3, 4]);
}

#[tokio::test]
async fn no_common_version_answers_zero_and_closes() {
    let server = TestServer::plain().await;
    let mut s = connect(&server).await;
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 6, 0, 0, 0, 0]);
    s.write_all(&bytes).await.unwrap();
    assert_eq!(read_reply(&mut s).await, [0, 0, 0, 0]);
    assert!(closed_by_server(&mut s).await);
}

#[tokio::test]
async fn byte_at_a_time_handshake_then_a_query() {
    let server = TestServer::plain().await;
    let mut s = connect(&server).await;
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&[0, 0, 4, 4, 0, 0, 3, 4, 0, 0, 1, 4, 0, 0, 0, 1]);
    for b in bytes {
        s.write_all(&[b]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(read_reply(&mut s).await, [0, 0, 4, 4]);
}

#[tokio::test]
async fn wrong_magic_is_closed_without_a_reply() {
    let server = TestServer::plain().await;
    let mut s = connect(&server).await;
    // (An HTTP GET is answered: a 400 saying what the port speaks; see tests/websocket.rs.)
    s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(STEP, s.read(&mut buf))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "no bytes for a non-Bolt peer");
}

#[tokio::test]
async fn silent_peer_is_disconnected_after_the_handshake_deadline() {
    let server = TestServer::plain().await; // 3 s deadline in tests
    let mut s = connect(&server).await;
    s.write_all(&MAGIC).await.unwrap(); // then nothing more
    assert!(closed_by_server(&mut s).await);
}

#[tokio::test]
async fn handshake_then_garbage_message_closes_with_failure() {
    let server = TestServer::plain().await;
    let mut s = connect(&server).await;
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&[0, 0, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    s.write_all(&bytes).await.unwrap();
    assert_eq!(read_reply(&mut s).await, [0, 0, 4, 4]);
    // A chunk holding a byte that is not a structure.
    s.write_all(&[0, 1, 0xC1, 0, 0]).await.unwrap();
    assert!(closed_by_server(&mut s).await);
}
