//! The monitoring WebSocket: the server's log, streamed as Memgraph's monitoring server streams it
//! (port 7444 there; here `--monitoring-address`/`--monitoring-port`, off unless the port is set).
//!
//! What a client sees, as in Memgraph:
//! * With TLS on, the port is `wss://` only, with the Bolt certificate: each connection handshakes
//!   through the one `tls::accept` (the acceptor current at that moment, so `RELOAD BOLT_SERVER
//!   TLS` rotates this port too; the handshake pool and deadline). The upgrade reply carries
//!   `Server: Memgraph WS`.
//! * While no user exists, nothing is asked: log events flow from the upgrade on, and whatever
//!   the client sends is ignored. Once users exist, the first message must be
//!   `{"username": "...", "password": "..."}`, checked like a Bolt login (the same slowdown of
//!   repeated failures) plus the `WEBSOCKET` privilege. The reply is
//!   `{"message":"User has been successfully authenticated!","success":true}`, or `success` false
//!   with "Authentication failed!", "Authorization failed!" or what was wrong with the JSON, after
//!   which the server closes the connection. No event reaches a client before it has
//!   authenticated.
//! * Each event is one text message, `{"event": "log", "level": "info", "message": "..."}` (see
//!   `logging/stream.rs`).
//!
//! Where boltd is stricter than Memgraph: the number of clients is capped, the upgrade and the
//! credentials have deadlines (`--bolt-handshake-timeout`, `--bolt-auth-timeout`), incoming
//! messages are small, and a client that reads too slowly loses records (counted in
//! `monitoring_dropped_log_messages`) instead of making the server buffer without bound or the
//! log wait; one that stops reading altogether is closed. Nothing here logs per event: a line
//! about a sent record would itself be streamed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use slog::{debug, info, o, warn, Logger};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::header::{HeaderValue, SERVER};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use crate::admin::Dispatcher;
use crate::auth::{Auth, Principal};
use crate::logging::stream::{Subscription, QUEUE_CAPACITY};
use crate::logging::LogHub;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::tls::Handshakes;
use crate::value::{Map, Value};

/// Most monitoring clients at once. Memgraph Lab opens one per browser tab; further connections
/// are closed at once, so a flood cannot starve the Bolt port of descriptors or handshake threads.
pub const MAX_CLIENTS: usize = 32;

/// Largest message (and frame) a client may send. Only the credentials are expected.
pub const MAX_INCOMING: usize = 16 * 1024;

/// How long one batch of records may take to be written before the client counts as gone: a
/// client that stops reading first loses records, then, after this, its connection.
const WRITE_STALL: Duration = Duration::from_secs(60);

/// How long a closing connection waits for the client's side of the close handshake.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The kernel send buffer of a monitoring connection. Left to autotuning it grows to megabytes,
/// which a client that stops reading would pin; a log stream needs little, and with a small one
/// a stalled client shows as dropped records (and, later, a closed connection) within seconds.
const SEND_BUFFER: usize = 64 * 1024;

/// Records written before one flush, when several are queued.
const BATCH: usize = 64;

/// Memgraph's replies to the credentials message.
pub const AUTHENTICATED: &str = "User has been successfully authenticated!";
pub const AUTHENTICATION_FAILED: &str = "Authentication failed!";
pub const AUTHORIZATION_FAILED: &str = "Authorization failed!";

/// The privilege a user needs to read the stream (Memgraph's name).
pub const PRIVILEGE: &str = "WEBSOCKET";

/// What every monitoring connection needs. Built once at start-up.
pub struct Monitoring {
    /// Where the log's records come from.
    pub hub: LogHub,
    /// Whether users exist (then credentials are required), and privileges.
    pub auth: Arc<Auth>,
    /// Checks credentials exactly as a Bolt login is checked (including the failure delay).
    pub dispatcher: Arc<Dispatcher>,
    /// Clients open, drops, logins, limits.
    pub metrics: Arc<Metrics>,
    /// Present with TLS: every connection is then `wss://`.
    pub tls: Option<Handshakes>,
    /// `--bolt-handshake-timeout`: the HTTP upgrade must be done within it.
    pub upgrade_timeout: Duration,
    /// `--bolt-auth-timeout`: once users exist, the credentials must arrive within it.
    pub auth_timeout: Duration,
}

/// Binds the monitoring port and serves it until shutdown.
pub async fn serve(
    address: String,
    monitoring: Monitoring,
    mut shutdown: Shutdown,
    logger: Logger,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(&address).await?;
    let local = listener.local_addr()?;
    info!(logger, "monitoring WebSocket listening"; "address" => %local,
        "tls" => monitoring.tls.is_some());
    let monitoring = Arc::new(monitoring);
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    tokio::spawn(async move {
        let mut next_id: u64 = 1;
        loop {
            let (socket, peer) = tokio::select! {
                a = listener.accept() => match a {
                    Ok(pair) => pair,
                    Err(e) => {
                        warn!(logger, "monitoring accept failed"; "error" => %e);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = shutdown.recv() => return,
            };
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                monitoring.metrics.limit_hit("monitoring_clients");
                debug!(logger, "monitoring client limit reached; closing"; "peer" => %peer,
                    "limit" => MAX_CLIENTS);
                drop(socket);
                continue;
            };
            let log = logger.new(o!("monitoring_client" => next_id, "peer" => peer.to_string()));
            next_id += 1;
            let monitoring = Arc::clone(&monitoring);
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                monitoring.connection(socket, peer, shutdown, log).await;
                drop(slot);
            });
        }
    });
    Ok(local)
}

impl Monitoring {
    /// One connection: TLS when configured, then the WebSocket session.
    async fn connection(
        &self,
        socket: TcpStream,
        peer: SocketAddr,
        shutdown: Shutdown,
        logger: Logger,
    ) {
        let _ = socket.set_nodelay(true);
        let _ = socket2::SockRef::from(&socket).set_send_buffer_size(SEND_BUFFER);
        match &self.tls {
            None => self.session(socket, peer, shutdown, logger).await,
            Some(handshakes) => {
                let done = crate::tls::accept(handshakes, socket, &logger).await;
                match done.outcome {
                    Ok(stream) => self.session(stream, peer, shutdown, done.logger).await,
                    Err(e) => info!(done.logger,
                        "monitoring TLS handshake failed; closing (this port only accepts wss:// while TLS is on)";
                        "error" => %e),
                }
            }
        }
    }

    fn subscribe(&self) -> Subscription {
        self.hub.subscribe(
            QUEUE_CAPACITY,
            self.metrics.monitoring_dropped_log_messages.clone(),
        )
    }

    async fn session<S>(&self, stream: S, peer: SocketAddr, mut shutdown: Shutdown, logger: Logger)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        // While no user exists the stream starts with the upgrade; subscribing before it means
        // that whatever is logged once the client holds the upgrade reply reaches it.
        let mut subscription = (!self.auth.enabled()).then(|| self.subscribe());
        let config = WebSocketConfig::default()
            .read_buffer_size(4 * 1024)
            .write_buffer_size(16 * 1024)
            .max_write_buffer_size(1 << 20)
            .max_message_size(Some(MAX_INCOMING))
            .max_frame_size(Some(MAX_INCOMING));
        let upgrade =
            tokio_tungstenite::accept_hdr_async_with_config(stream, server_header, Some(config));
        let mut ws = tokio::select! {
            done = tokio::time::timeout(self.upgrade_timeout, upgrade) => match done {
                Ok(Ok(ws)) => ws,
                Ok(Err(e)) => {
                    info!(logger, "not a WebSocket upgrade; closing (the monitoring port speaks ws:// or wss:// only)";
                        "error" => %e);
                    return;
                }
                Err(_) => {
                    info!(logger, "WebSocket upgrade timed out; closing";
                        "timeout_s" => self.upgrade_timeout.as_secs_f64());
                    return;
                }
            },
            _ = shutdown.recv() => return,
        };
        debug!(logger, "monitoring client connected");
        let subscription = match subscription.take() {
            Some(s) => s,
            None => match self
                .authenticate(&mut ws, peer, &mut shutdown, &logger)
                .await
            {
                Some(s) => s,
                None => return,
            },
        };
        self.metrics.monitoring_clients_open.inc();
        let ended = stream_logs(&mut ws, subscription, &mut shutdown).await;
        self.metrics.monitoring_clients_open.dec();
        let (reason, dropped) = ended;
        match reason {
            End::Shutdown => close(&mut ws, CloseCode::Away, "server shutting down").await,
            End::Stalled => {
                info!(logger, "monitoring client stopped reading; closing";
                    "stall_s" => WRITE_STALL.as_secs(), "dropped_log_records" => dropped);
                return;
            }
            End::TooLarge => {
                info!(logger, "monitoring client sent too large a message; closing";
                    "limit_bytes" => MAX_INCOMING);
                close(&mut ws, CloseCode::Size, "message too large").await;
            }
            End::Client => {
                let _ = tokio::time::timeout(CLOSE_GRACE, ws.close(None)).await;
            }
        }
        debug!(logger, "monitoring client disconnected"; "dropped_log_records" => dropped);
    }

    /// Waits for the credentials (once users exist), answers them as Memgraph does, and on
    /// success subscribes *before* the reply is sent, so that the client misses nothing logged
    /// after it holds the reply. On failure the connection is closed here.
    async fn authenticate<S>(
        &self,
        ws: &mut WebSocketStream<S>,
        peer: SocketAddr,
        shutdown: &mut Shutdown,
        logger: &Logger,
    ) -> Option<Subscription>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let first = tokio::select! {
            m = tokio::time::timeout(self.auth_timeout, first_text(ws)) => m,
            _ = shutdown.recv() => {
                close(ws, CloseCode::Away, "server shutting down").await;
                return None;
            }
        };
        let text = match first {
            Err(_) => {
                self.metrics.limit_hit("auth_timeout");
                info!(logger, "monitoring client sent no credentials in time; closing";
                    "timeout_s" => self.auth_timeout.as_secs_f64());
                close(ws, CloseCode::Policy, "authentication timed out").await;
                return None;
            }
            Ok(Incoming::Gone) => return None,
            Ok(Incoming::TooLarge) => {
                info!(logger, "monitoring client sent too large a message; closing";
                    "limit_bytes" => MAX_INCOMING);
                close(ws, CloseCode::Size, "message too large").await;
                return None;
            }
            Ok(Incoming::Text(text)) => text,
        };
        let refusal = match credentials(&text) {
            Err(message) => {
                info!(logger, "monitoring client sent unusable credentials; closing"; "error" => &message);
                message
            }
            Ok((user, password)) => {
                let token = Map::from([
                    ("scheme".to_owned(), Value::from("basic")),
                    ("principal".to_owned(), Value::from(user.as_str())),
                    ("credentials".to_owned(), Value::from(password)),
                ]);
                match self.dispatcher.login(&token, peer.ip()).await {
                    Err(refused) => {
                        self.metrics.login(false);
                        warn!(logger, "monitoring authentication failed"; "user" => &refused.user);
                        AUTHENTICATION_FAILED.to_owned()
                    }
                    Ok(who) => {
                        self.metrics.login(true);
                        let principal = Principal { user: who };
                        if self.auth.allowed(&principal, PRIVILEGE) {
                            let subscription = self.subscribe();
                            info!(logger, "monitoring client authenticated"; "user" => &user);
                            let sent = send_reply(ws, true, AUTHENTICATED).await;
                            return sent.then_some(subscription);
                        }
                        warn!(logger, "monitoring client lacks the WEBSOCKET privilege; closing";
                            "user" => &user);
                        AUTHORIZATION_FAILED.to_owned()
                    }
                }
            }
        };
        if send_reply(ws, false, &refusal).await {
            close(ws, CloseCode::Normal, "").await;
        }
        None
    }
}

/// Names the server in the upgrade reply as Memgraph does. The signature is tungstenite's
/// handshake callback, whose error type (an HTTP response) is large; it is never returned here.
#[allow(clippy::result_large_err)]
fn server_header(_: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    response
        .headers_mut()
        .insert(SERVER, HeaderValue::from_static("Memgraph WS"));
    Ok(response)
}

/// Why the stream ended.
enum End {
    Shutdown,
    Client,
    Stalled,
    TooLarge,
}

/// Sends records until the client leaves, stalls, or the server stops; returns why, and how many
/// records this client lost to its full queue.
async fn stream_logs<S>(
    ws: &mut WebSocketStream<S>,
    mut subscription: Subscription,
    shutdown: &mut Shutdown,
) -> (End, u64)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let end = loop {
        tokio::select! {
            _ = shutdown.recv() => break End::Shutdown,
            incoming = ws.next() => match incoming {
                // Pings are answered by tungstenite; anything else a client sends is ignored.
                Some(Ok(Message::Close(_))) | None => break End::Client,
                Some(Err(WsError::Capacity(_))) => break End::TooLarge,
                Some(Err(_)) => break End::Client,
                Some(Ok(_)) => {}
            },
            record = subscription.recv() => {
                let Some(record) = record else { break End::Shutdown };
                let write = async {
                    ws.feed(Message::text(&*record)).await?;
                    for _ in 1..BATCH {
                        let Some(more) = subscription.try_recv() else { break };
                        ws.feed(Message::text(&*more)).await?;
                    }
                    ws.flush().await
                };
                tokio::select! {
                    _ = shutdown.recv() => break End::Shutdown,
                    written = tokio::time::timeout(WRITE_STALL, write) => match written {
                        Err(_) => break End::Stalled,
                        Ok(Err(_)) => break End::Client,
                        Ok(Ok(())) => {}
                    },
                }
            }
        }
    };
    (end, subscription.dropped())
}

/// What the first message turned out to be.
enum Incoming {
    Text(String),
    TooLarge,
    Gone,
}

/// The first text (or UTF-8 binary) message; pings and pongs are skipped.
async fn first_text<S>(ws: &mut WebSocketStream<S>) -> Incoming
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Incoming::Text(t.as_str().to_owned()),
            Some(Ok(Message::Binary(b))) => {
                return Incoming::Text(String::from_utf8_lossy(&b).into_owned())
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
            Some(Err(WsError::Capacity(_))) => return Incoming::TooLarge,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Incoming::Gone,
        }
    }
}

/// The user name and password from Memgraph's credentials message, or the text to refuse it with
/// (Memgraph's wording around what was wrong).
pub fn credentials(text: &str) -> Result<(String, String), String> {
    let json: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("Cannot parse JSON for WebSocket authentication: {e}!"))?;
    let field = |name: &str| match json.get(name) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!(
            "Invalid JSON for authentication received: '{name}' must be a string!"
        )),
        None => Err(format!(
            "Invalid JSON for authentication received: key '{name}' not found!"
        )),
    };
    Ok((field("username")?, field("password")?))
}

/// Memgraph's reply to the credentials: `{"message":"...","success":...}` (its JSON library
/// writes the keys sorted, without spaces).
pub fn reply(success: bool, message: &str) -> String {
    serde_json::json!({ "message": message, "success": success }).to_string()
}

/// Sends [`reply`]; returns whether it went out.
async fn send_reply<S>(ws: &mut WebSocketStream<S>, success: bool, message: &str) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let send = ws.send(Message::text(reply(success, message)));
    matches!(tokio::time::timeout(CLOSE_GRACE, send).await, Ok(Ok(())))
}

/// Starts the close handshake and waits (briefly) for the client's answer, so that what was sent
/// before is not lost to a reset.
async fn close<S>(ws: &mut WebSocketStream<S>, code: CloseCode, reason: &'static str)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        let _ = ws.close(Some(frame)).await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_have_memgraphs_bytes() {
        assert_eq!(
            reply(true, AUTHENTICATED),
            r#"{"message":"User has been successfully authenticated!","success":true}"#
        );
        assert_eq!(
            reply(false, AUTHENTICATION_FAILED),
            r#"{"message":"Authentication failed!","success":false}"#
        );
    }

    #[test]
    fn credentials_are_read_or_refused_with_what_was_wrong() {
        assert_eq!(
            credentials(r#"{"username": "ann", "password": "pw"}"#),
            Ok(("ann".to_owned(), "pw".to_owned()))
        );
        let err = credentials("{not json").unwrap_err();
        assert!(
            err.starts_with("Cannot parse JSON for WebSocket authentication: ")
                && err.ends_with('!'),
            "{err}"
        );
        assert_eq!(
            credentials(r#"{"username": "ann"}"#).unwrap_err(),
            "Invalid JSON for authentication received: key 'password' not found!"
        );
        assert_eq!(
            credentials(r#"{"username": 1, "password": "pw"}"#).unwrap_err(),
            "Invalid JSON for authentication received: 'username' must be a string!"
        );
        assert_eq!(
            credentials("[1]").unwrap_err(),
            "Invalid JSON for authentication received: key 'username' not found!"
        );
    }
}
