//! Bolt over WebSocket (RFC 6455), as browsers speak it: the HTTP upgrade on the Bolt port, then
//! the Bolt byte stream carried in binary messages, both ways.
//!
//! [`ByteStream`] turns a WebSocket into the `AsyncRead + AsyncWrite` byte stream the Bolt
//! handshake and [`super::session::Session`] already run on, so nothing above it knows the
//! difference. Message boundaries mean nothing to Bolt: a browser driver sends the handshake as one
//! message and Bolt messages split over many (the neo4j driver's chunker sends at most 1400 bytes
//! at a time), so the adapter is a byte stream in both directions. Writes are gathered and leave as
//! one binary message per flush; the session flushes once per batch of answers. The framing,
//! masking, fragments, pings and the close handshake are tokio-tungstenite's.
//!
//! Limits, as on a plain socket:
//! * the upgrade request is capped at [`MAX_UPGRADE_REQUEST`] bytes; its deadline is the caller's
//!   (the connection's `--bolt-handshake-timeout`);
//! * incoming messages are held to the session's message limit in force ([`MessageLimit`]: the
//!   small one before authentication, `--bolt-max-message-size` after), counted on the socket
//!   under tungstenite ([`Wire`]), so that a peer cannot make the server buffer a large message
//!   before authenticating; a refused message reaches the session as [`Oversized`], which it
//!   answers with the same FAILURE as on TCP;
//! * a text message is refused (Bolt is binary), the connection closed with code 1003.
//!
//! This file never logs per message; it logs why it closes a connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use slog::{info, Logger};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Sleep;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::header::{HeaderValue, SEC_WEBSOCKET_PROTOCOL, SERVER};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::chunk::Oversized;
use super::session::MessageLimit;
use crate::shutdown::Shutdown;

/// Whether a connection's first four bytes start an HTTP request that may be an upgrade. Bolt's
/// first bytes are its magic (`60 60 B0 17`), so the two never mix.
pub fn starts_upgrade(first: &[u8; 4]) -> bool {
    first == b"GET "
}

/// Largest HTTP upgrade request accepted: browsers send well under 2 KiB (more with cookies).
pub const MAX_UPGRADE_REQUEST: usize = 16 * 1024;

/// Read from the socket at once: tungstenite's read buffer, which every connection keeps for its
/// whole life (unlike the chunk reader's, freed when idle), so it is small: 4 KiB against 16 KiB
/// costs about 12 KiB less per idle connection and nothing measurable on round trips.
const READ_BUFFER: usize = 4 * 1024;

/// Outgoing bytes beyond which a write sends what it has gathered as a message, before the next
/// flush, so a large answer written at once does not sit whole in two buffers.
const SEND_AT: usize = 1 << 20;

/// How long a closing connection waits for the peer's half of the close handshake.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The body of the answer to an HTTP request on the Bolt port that is no WebSocket upgrade.
const NOT_AN_UPGRADE: &str =
    "This is a Bolt port: it speaks Bolt, or Bolt over WebSocket (ws:// or wss://) to an upgrade.\n";

/// Why an upgrade failed.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error("the HTTP upgrade request is larger than {MAX_UPGRADE_REQUEST} bytes")]
    TooLarge,
    #[error("not a WebSocket upgrade request: {0}")]
    NotUpgrade(WsError),
}

/// The HTTP upgrade on a connection whose first four bytes (`preamble`, already read) were
/// `GET `. `limit` is the message limit in force, kept up to date by the session; `max_message`
/// (`--bolt-max-message-size`) bounds any one message for tungstenite itself.
pub async fn accept<S>(
    stream: S,
    preamble: [u8; 4],
    limit: MessageLimit,
    max_message: usize,
    logger: Logger,
) -> Result<ByteStream<S>, UpgradeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut wire = Wire {
        inner: stream,
        preamble,
        replayed: 0,
        read: 0,
        limit: None,
    };
    // A Bolt message travels with two bytes of chunk header per 64 KiB; the slack also covers
    // small messages pipelined in the same WebSocket message.
    let cap = max_message.saturating_add(max_message / 32_000 + 64 * 1024);
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(Some(cap))
        .max_frame_size(Some(cap));
    // The handshake borrows the socket, so that a request that is no upgrade can still be
    // answered: tungstenite drops the socket of a failed handshake without a word, and a browser
    // or `curl` pointed at the Bolt port would see the connection reset.
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(&mut wire, answer_upgrade, Some(config))
            .await
            .map(drop);
    match handshake {
        Ok(()) => {}
        Err(WsError::Io(e)) if e.get_ref().is_some_and(|i| i.is::<UpgradeTooLarge>()) => {
            return Err(UpgradeError::TooLarge)
        }
        Err(e) => {
            let reply = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\
                 Content-Length: {}\r\n\r\n{NOT_AN_UPGRADE}",
                NOT_AN_UPGRADE.len()
            );
            let _ = wire.inner.write_all(reply.as_bytes()).await;
            let _ = wire.inner.shutdown().await;
            return Err(UpgradeError::NotUpgrade(e));
        }
    }
    // The upgrade is done and nothing past the request was read (tungstenite refuses a request
    // followed by more bytes): the WebSocket starts on the socket as it is.
    let mut ws = WebSocketStream::from_raw_socket(wire, Role::Server, Some(config)).await;
    ws.get_mut().limit = Some(limit.clone());
    ws.get_mut().message_received();
    Ok(ByteStream::new(ws, limit, logger))
}

/// The client side, for `boltd bench` and the tests: the upgrade request for `url` (`ws://` or
/// `wss://` with host and port; TLS, if any, is already done on `stream`), then the same byte
/// stream. What the server sends is not limited here beyond tungstenite's defaults.
pub async fn connect<S>(stream: S, url: &str, logger: Logger) -> Result<ByteStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let wire = Wire {
        inner: stream,
        preamble: [0; 4],
        replayed: 4,
        read: 0,
        limit: Some(MessageLimit::new(usize::MAX)),
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, wire, Some(config)).await?;
    Ok(ByteStream::new(ws, MessageLimit::new(usize::MAX), logger))
}

/// Completes the upgrade reply: `Server` names the server as Memgraph's Bolt port does, and a
/// client that asks for the `binary` subprotocol (some WASM clients do) gets it. Nothing is
/// answered to a client that did not ask: a browser fails a connection whose reply names a
/// subprotocol it never offered. The signature is tungstenite's callback, whose error type (an
/// HTTP response) is large; it is never returned here.
#[allow(clippy::result_large_err)]
fn answer_upgrade(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    let headers = response.headers_mut();
    headers.insert(SERVER, HeaderValue::from_static("Memgraph Bolt WS"));
    let offers_binary = request
        .headers()
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == "binary");
    if offers_binary {
        headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("binary"));
    }
    Ok(response)
}

/// The upgrade request went past [`MAX_UPGRADE_REQUEST`] (carried in an I/O error through
/// tungstenite's handshake).
#[derive(Debug, thiserror::Error)]
#[error("the HTTP upgrade request is larger than {MAX_UPGRADE_REQUEST} bytes")]
struct UpgradeTooLarge;

/// The socket under tungstenite. It replays the four bytes read to tell an upgrade from Bolt,
/// and meters what is read: during the upgrade against [`MAX_UPGRADE_REQUEST`], then, between
/// two complete messages, against the session's limit in force. Tungstenite bounds a message by
/// one fixed size for the whole connection; this is what holds an unauthenticated peer to the
/// small limit. The allowance is twice the limit plus a read buffer, for frame headers (a
/// message may come in many small frames) and for the start of the next message read ahead.
pub struct Wire<S> {
    inner: S,
    preamble: [u8; 4],
    /// How much of `preamble` has been handed out.
    replayed: usize,
    /// Bytes read since the last complete message.
    read: usize,
    /// The session's limit; `None` during the upgrade.
    limit: Option<MessageLimit>,
}

impl<S> Wire<S> {
    /// A whole message has been taken out of tungstenite: the count starts again.
    fn message_received(&mut self) {
        self.read = 0;
    }

    fn over_budget(&self) -> Option<io::Error> {
        match &self.limit {
            None if self.read > MAX_UPGRADE_REQUEST => {
                Some(io::Error::new(io::ErrorKind::InvalidData, UpgradeTooLarge))
            }
            None => None,
            Some(limit) => {
                let limit = limit.get();
                let allowance = limit.saturating_mul(2).saturating_add(READ_BUFFER);
                (self.read > allowance)
                    .then(|| io::Error::new(io::ErrorKind::InvalidData, Oversized { limit }))
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Wire<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.replayed < this.preamble.len() {
            let rest = &this.preamble[this.replayed..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.replayed += n;
            this.read += n;
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = this.over_budget() {
            return Poll::Ready(Err(e));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        this.read += buf.filled().len() - before;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Wire<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Where the close handshake is.
enum Closing {
    Open,
    /// Our close frame is out (or the peer's has been answered); waiting for the peer until the
    /// deadline.
    Draining(Pin<Box<Sleep>>),
    /// The socket under it is being shut down.
    ShuttingDown,
    Done,
}

/// A WebSocket as a byte stream: binary messages in, `AsyncRead` out; writes gathered and sent
/// as one binary message per flush; pings answered (by tungstenite, while reading); the peer's
/// close ends the stream; shutdown runs the close handshake, with a code that says why.
pub struct ByteStream<S> {
    ws: WebSocketStream<Wire<S>>,
    /// What is left of the last binary message received.
    incoming: Bytes,
    /// Written since the last message went out.
    outgoing: Vec<u8>,
    /// Nothing more will be read: the peer closed, or an error has been reported.
    read_closed: bool,
    /// The peer's close frame arrived (tungstenite has queued the answer).
    peer_closed: bool,
    /// The close frame shutdown sends; set when something is refused, so the code says why.
    close_with: CloseFrame,
    closing: Closing,
    limit: MessageLimit,
    /// The server's stop signal: a close it causes says 1001 (going away), not 1000.
    stopping: Option<Shutdown>,
    logger: Logger,
}

impl<S> ByteStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn new(ws: WebSocketStream<Wire<S>>, limit: MessageLimit, logger: Logger) -> Self {
        ByteStream {
            ws,
            incoming: Bytes::new(),
            outgoing: Vec::new(),
            read_closed: false,
            peer_closed: false,
            close_with: CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            },
            closing: Closing::Open,
            limit,
            stopping: None,
            logger,
        }
    }

    /// Closes with 1001 (going away) instead of 1000 when `shutdown` has fired by then, so
    /// that a browser client can tell a server stopping from a session ended normally.
    pub fn going_away_on(mut self, shutdown: Shutdown) -> Self {
        self.stopping = Some(shutdown);
        self
    }

    /// The socket under the WebSocket.
    pub fn get_ref(&self) -> &S {
        &self.ws.get_ref().inner
    }

    fn refuse(&mut self, code: CloseCode, reason: &'static str) {
        self.read_closed = true;
        self.close_with = CloseFrame {
            code,
            reason: reason.into(),
        };
    }

    /// What a failed read means for the reader above.
    fn read_failed(&mut self, e: WsError) -> Poll<io::Result<()>> {
        match e {
            WsError::Capacity(_) => {
                let limit = self.limit.get();
                self.refuse(CloseCode::Size, "message too large");
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    Oversized { limit },
                )))
            }
            WsError::Io(e) if e.get_ref().is_some_and(|i| i.is::<Oversized>()) => {
                self.refuse(CloseCode::Size, "message too large");
                Poll::Ready(Err(e))
            }
            // The peer went away without the close handshake: an end of stream, as a TCP peer's
            // FIN is (the reader above tells a clean end from one in mid-message).
            WsError::ConnectionClosed
            | WsError::AlreadyClosed
            | WsError::Protocol(
                tokio_tungstenite::tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            ) => {
                self.read_closed = true;
                Poll::Ready(Ok(()))
            }
            WsError::Io(e) => {
                self.read_closed = true;
                Poll::Ready(Err(e))
            }
            e @ (WsError::Protocol(_) | WsError::Utf8(_)) => {
                info!(self.logger, "WebSocket protocol error; closing"; "error" => %e);
                self.refuse(CloseCode::Protocol, "protocol error");
                Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)))
            }
            e => {
                self.read_closed = true;
                Poll::Ready(Err(io::Error::other(e)))
            }
        }
    }

    /// Sends what has been gathered as one binary message (queued in tungstenite; a flush pushes
    /// it out).
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.ws.poll_ready_unpin(cx)).map_err(write_error)?;
        // The gathered bytes become the message as they are; the next write allocates anew (one
        // allocation per message either way, and no copy).
        let message = Message::Binary(Bytes::from(std::mem::take(&mut self.outgoing)));
        self.ws.start_send_unpin(message).map_err(write_error)?;
        Poll::Ready(Ok(()))
    }
}

/// A write-side tungstenite error as the writer above sees it.
fn write_error(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            io::Error::new(io::ErrorKind::BrokenPipe, "the WebSocket is closed")
        }
        e => io::Error::other(e),
    }
}

impl<S> AsyncRead for ByteStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.incoming.is_empty() {
                let n = this.incoming.len().min(buf.remaining());
                buf.put_slice(&this.incoming.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.read_closed {
                return Poll::Ready(Ok(()));
            }
            let message = match ready!(this.ws.poll_next_unpin(cx)) {
                None => {
                    this.read_closed = true;
                    return Poll::Ready(Ok(()));
                }
                Some(Err(e)) => return this.read_failed(e),
                Some(Ok(message)) => message,
            };
            this.ws.get_mut().message_received();
            match message {
                Message::Binary(bytes) => this.incoming = bytes,
                // Tungstenite has queued the pong; the next read sends it.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                Message::Close(_) => {
                    // Tungstenite has queued the answer; shutdown sends it.
                    this.read_closed = true;
                    this.peer_closed = true;
                    return Poll::Ready(Ok(()));
                }
                Message::Text(_) => {
                    info!(
                        this.logger,
                        "WebSocket text message refused; closing (Bolt travels in binary messages)"
                    );
                    this.refuse(CloseCode::Unsupported, "Bolt needs binary messages");
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a WebSocket text message: Bolt travels in binary messages",
                    )));
                }
            }
        }
    }
}

impl<S> AsyncWrite for ByteStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !matches!(this.closing, Closing::Open) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the WebSocket is closing",
            )));
        }
        if this.outgoing.len() >= SEND_AT {
            ready!(this.poll_send(cx))?;
        }
        this.outgoing.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.outgoing.is_empty() {
            ready!(this.poll_send(cx))?;
        }
        ready!(this.ws.poll_flush_unpin(cx)).map_err(write_error)?;
        Poll::Ready(Ok(()))
    }

    /// Sends what is left, the close frame (or the answer to the peer's), waits up to
    /// [`CLOSE_GRACE`] for the peer's, then shuts the socket down. Errors on the way only end
    /// the wait: the connection is going either way.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.closing {
                Closing::Open => {
                    if !this.outgoing.is_empty() && ready!(this.poll_send(cx)).is_err() {
                        this.outgoing.clear();
                    }
                    let sent = if this.peer_closed {
                        // Tungstenite's own close answers the peer's frame.
                        ready!(this.ws.poll_close_unpin(cx))
                    } else {
                        let mut frame = this.close_with.clone();
                        let stopping = this.stopping.as_ref().is_some_and(Shutdown::is_shutdown);
                        if frame.code == CloseCode::Normal && stopping {
                            frame = CloseFrame {
                                code: CloseCode::Away,
                                reason: "server shutting down".into(),
                            };
                        }
                        match ready!(this.ws.poll_ready_unpin(cx)) {
                            Ok(()) => match this.ws.start_send_unpin(Message::Close(Some(frame))) {
                                Ok(()) => ready!(this.ws.poll_flush_unpin(cx)),
                                Err(e) => Err(e),
                            },
                            Err(e) => Err(e),
                        }
                    };
                    this.closing = match sent {
                        Ok(()) => Closing::Draining(Box::pin(tokio::time::sleep(CLOSE_GRACE))),
                        Err(_) => Closing::ShuttingDown,
                    };
                }
                Closing::Draining(deadline) => {
                    if deadline.as_mut().poll(cx).is_ready() {
                        this.closing = Closing::ShuttingDown;
                        continue;
                    }
                    // Whatever the peer still sends is dropped; its close frame (or the end of
                    // the stream) ends the wait.
                    match ready!(this.ws.poll_next_unpin(cx)) {
                        Some(Ok(_)) => {}
                        None | Some(Err(_)) => this.closing = Closing::ShuttingDown,
                    }
                }
                Closing::ShuttingDown => {
                    let _ = ready!(Pin::new(this.ws.get_mut()).poll_shutdown(cx));
                    this.closing = Closing::Done;
                }
                Closing::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn the_binary_subprotocol_is_answered_only_when_asked() {
        let answer = |offered: Option<&str>| {
            let mut request = Request::builder().uri("/");
            if let Some(p) = offered {
                request = request.header(SEC_WEBSOCKET_PROTOCOL, p);
            }
            let response = answer_upgrade(&request.body(()).unwrap(), Response::new(())).unwrap();
            assert_eq!(response.headers()[SERVER], "Memgraph Bolt WS");
            response
                .headers()
                .get(SEC_WEBSOCKET_PROTOCOL)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(answer(None), None);
        assert_eq!(answer(Some("chat, binary")), Some("binary".to_owned()));
        assert_eq!(answer(Some("chat")), None);
    }

    #[tokio::test]
    async fn the_wire_replays_the_preamble_and_holds_reads_to_the_limit() {
        let limit = MessageLimit::new(10);
        let body = [7u8; 100];
        let mut wire = Wire {
            inner: &body[..],
            preamble: *b"GET ",
            replayed: 0,
            read: 0,
            limit: Some(limit.clone()),
        };
        let mut first = [0u8; 4];
        wire.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"GET ");
        // 2 x 10 + READ_BUFFER bytes are allowed between two messages; the first read takes all
        // 100, the next one is refused with the limit in force.
        let mut buf = vec![0u8; 200];
        assert_eq!(wire.read(&mut buf).await.unwrap(), 100);
        wire.read = 2 * 10 + READ_BUFFER + 1;
        let e = wire.read(&mut buf).await.unwrap_err();
        let oversized = e.get_ref().and_then(|i| i.downcast_ref::<Oversized>());
        assert_eq!(oversized.map(|o| o.limit), Some(10));
        // A complete message starts the count again.
        wire.message_received();
        assert_eq!(wire.read(&mut buf).await.unwrap(), 0, "end of input");
        // During the upgrade the cap is the request's.
        wire.limit = None;
        wire.read = MAX_UPGRADE_REQUEST + 1;
        let e = wire.read(&mut buf).await.unwrap_err();
        assert!(e.get_ref().is_some_and(|i| i.is::<UpgradeTooLarge>()));
    }
}
