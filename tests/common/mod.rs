//! Shared helpers for integration tests: start a real server on 127.0.0.1:0 and talk to it over
//! real sockets (plaintext or OpenSSL TLS) with the library's Bolt client (`boltd::bolt::client`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use boltd::bolt::client::{self, ClientError};
use boltd::bolt::handshake::Version;
use boltd::config::Config;
use boltd::engine::MemoryEngine;
use boltd::server::RunningServer;
use boltd::tls::acceptor::fingerprint_hex;
use boltd::value::{Map, Value};
use openssl::hash::MessageDigest;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

/// Every network step in tests is bounded, so a server bug fails a test instead of hanging CI.
pub const STEP: Duration = Duration::from_secs(10);

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/ssl")
        .join(name)
}

/// A server running in this process, with its certificate files in a private directory so
/// tests can rewrite them.
pub struct TestServer {
    pub server: RunningServer,
    pub dir: tempfile::TempDir,
    /// The log stream: the server's records at debug and above (the monitoring WebSocket's
    /// source); nothing is formatted while nobody subscribes.
    pub logs: boltd::logging::LogHub,
}

impl TestServer {
    pub async fn plain() -> TestServer {
        Self::start(None).await
    }

    /// A TLS server serving the fixture pair `cert`/`key`.
    pub async fn tls(cert: &str, key: &str) -> TestServer {
        Self::start(Some((cert, key))).await
    }

    async fn start(pair: Option<(&str, &str)>) -> TestServer {
        Self::start_with(pair, |_| {}).await
    }

    /// A plaintext server with `adjust` applied to its configuration.
    pub async fn start_plain_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_with(None, adjust).await
    }

    /// A TLS server with the fixture pair and `adjust` applied to its configuration.
    pub async fn tls_with(cert: &str, key: &str, adjust: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_with(Some((cert, key)), adjust).await
    }

    async fn start_with(
        pair: Option<(&str, &str)>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config {
            bolt_address: "127.0.0.1".into(),
            bolt_port: 0,
            bolt_tls_handshake_timeout: 3.0,
            bolt_handshake_timeout: 3.0,
            ..Config::default()
        };
        if let Some((cert, key)) = pair {
            let cert_path = dir.path().join("cert.pem");
            let key_path = dir.path().join("key.pem");
            std::fs::copy(fixture(cert), &cert_path).expect("copy cert");
            std::fs::copy(fixture(key), &key_path).expect("copy key");
            config.bolt_cert_file = Some(cert_path);
            config.bolt_key_file = Some(key_path);
        }
        config.data_directory = Some(dir.path().join("data"));
        adjust(&mut config);
        let logs = boltd::logging::LogHub::new();
        let logger = boltd::logging::to_hub(boltd::logging::LogLevel(slog::Level::Debug), &logs);
        let server =
            boltd::server::start(&config, Arc::new(MemoryEngine::new()), logger, logs.clone())
                .await
                .expect("server starts");
        TestServer { server, dir, logs }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    /// Overwrites the served files with fixture files (the next reload picks them up).
    pub fn install(&self, cert: &str, key: &str) {
        std::fs::copy(fixture(cert), self.cert_path()).expect("install cert");
        std::fs::copy(fixture(key), self.key_path()).expect("install key");
    }

    /// Writes arbitrary bytes as the certificate or key file.
    pub fn write_cert(&self, bytes: &[u8]) {
        std::fs::write(self.cert_path(), bytes).expect("write cert");
    }

    pub fn write_key(&self, bytes: &[u8]) {
        std::fs::write(self.key_path(), bytes).expect("write key");
    }
}

/// SHA-256 fingerprint of a fixture certificate file (its first certificate), as the server
/// reports it.
pub fn fixture_fingerprint(name: &str) -> String {
    let pem = std::fs::read(fixture(name)).expect("read fixture");
    let cert = openssl::x509::X509::from_pem(&pem).expect("parse fixture");
    fingerprint_hex(&cert.digest(MessageDigest::sha256()).expect("digest"))
}

pub use boltd::bolt::client::Stream;

/// Opens a TLS connection without verifying the server (as mgclient does) and returns the
/// stream and the SHA-256 fingerprint of the certificate the server presented.
pub async fn tls_connect(
    addr: std::net::SocketAddr,
) -> std::io::Result<(SslStream<TcpStream>, String)> {
    let tcp = tokio::time::timeout(STEP, TcpStream::connect(addr)).await??;
    let mut builder =
        SslConnector::builder(SslMethod::tls_client()).map_err(std::io::Error::other)?;
    builder.set_verify(SslVerifyMode::NONE);
    let connector = builder.build();
    let ssl = connector
        .configure()
        .and_then(|c| {
            c.verify_hostname(false)
                .use_server_name_indication(false)
                .into_ssl("localhost")
        })
        .map_err(std::io::Error::other)?;
    let mut stream = SslStream::new(ssl, tcp).map_err(std::io::Error::other)?;
    tokio::time::timeout(STEP, Pin::new(&mut stream).connect())
        .await?
        .map_err(std::io::Error::other)?;
    let cert = stream
        .ssl()
        .peer_certificate()
        .ok_or_else(|| std::io::Error::other("server sent no certificate"))?;
    let fp = fingerprint_hex(
        &cert
            .digest(MessageDigest::sha256())
            .map_err(std::io::Error::other)?,
    );
    Ok((stream, fp))
}

/// Waits (up to 15 s) until a fresh TLS client is served `want`; returns what was served last.
pub async fn await_fingerprint(addr: std::net::SocketAddr, want: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let got = served_fingerprint(addr).await;
        if got == want || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens a TLS connection with a connector adjusted by `configure` (client certificate, version
/// bounds, a session to resume) and returns the stream after the handshake.
pub async fn tls_connect_with(
    addr: std::net::SocketAddr,
    configure: impl FnOnce(&mut openssl::ssl::SslConnectorBuilder),
    session: Option<&openssl::ssl::SslSessionRef>,
) -> std::io::Result<SslStream<TcpStream>> {
    let tcp = tokio::time::timeout(STEP, TcpStream::connect(addr)).await??;
    let mut builder =
        SslConnector::builder(SslMethod::tls_client()).map_err(std::io::Error::other)?;
    builder.set_verify(SslVerifyMode::NONE);
    configure(&mut builder);
    let connector = builder.build();
    let mut ssl = connector
        .configure()
        .and_then(|c| c.verify_hostname(false).into_ssl("localhost"))
        .map_err(std::io::Error::other)?;
    if let Some(session) = session {
        // SAFETY: the session comes from a connector of the same kind, as the API requires.
        unsafe { ssl.set_session(session) }.map_err(std::io::Error::other)?;
    }
    let mut stream = SslStream::new(ssl, tcp).map_err(std::io::Error::other)?;
    tokio::time::timeout(STEP, Pin::new(&mut stream).connect())
        .await?
        .map_err(std::io::Error::other)?;
    Ok(stream)
}

/// Sends the Bolt handshake on `stream` and reads the reply: Ok(version bytes), or the error the
/// server's refusal caused (with TLS 1.3 a rejected client certificate shows up here, after the
/// client thinks the handshake is done).
pub async fn bolt_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
) -> std::io::Result<[u8; 4]> {
    match tokio::time::timeout(STEP, client::handshake(stream, &OFFER_4_4)).await? {
        Ok(Some(v)) => Ok([0, 0, v.minor, v.major]),
        Ok(None) => Ok([0; 4]),
        Err(ClientError::Io(e)) => Err(e),
        Err(e) => Err(std::io::Error::other(e)),
    }
}

/// Loads a fixture client certificate and key into a connector.
pub fn with_client_cert(builder: &mut openssl::ssl::SslConnectorBuilder, name: &str) {
    builder
        .set_certificate_chain_file(fixture(&format!("{name}.pem")))
        .expect("client certificate");
    builder
        .set_private_key_file(
            fixture(&format!("{name}.key")),
            openssl::ssl::SslFiletype::PEM,
        )
        .expect("client key");
}

/// The fingerprint a fresh TLS client sees now.
pub async fn served_fingerprint(addr: std::net::SocketAddr) -> String {
    tls_connect(addr).await.expect("TLS connect").1
}

/// The library's Bolt response, with the panicking accessors tests want: a test that gets the
/// wrong kind of response should fail right there, saying what it got.
pub use boltd::bolt::client::Response;

pub trait ResponseExt {
    /// A FAILURE's message (empty if it has none); panics on anything but a FAILURE.
    fn failure_message(&self) -> String;
    /// A FAILURE's code (empty if it has none); panics on anything but a FAILURE.
    fn failure_code(&self) -> String;
    /// A SUCCESS's metadata; panics on anything else.
    fn success(self) -> Map;
}

impl ResponseExt for Response {
    fn failure_message(&self) -> String {
        match self {
            Response::Failure(_) => self.message().unwrap_or_default().to_owned(),
            other => panic!("expected FAILURE, got {other:?}"),
        }
    }

    fn failure_code(&self) -> String {
        match self {
            Response::Failure(_) => self.code().unwrap_or_default().to_owned(),
            other => panic!("expected FAILURE, got {other:?}"),
        }
    }

    fn success(self) -> Map {
        self.into_success()
            .unwrap_or_else(|other| panic!("expected SUCCESS, got {other:?}"))
    }
}

/// The library's Bolt client with the habits of a test: every wait is bounded by [`STEP`], and
/// anything but the expected answer panics, except where a test asks for the refusal itself.
pub struct Client {
    inner: client::Client<Box<dyn Stream>>,
    pub version: (u8, u8),
}

/// Bolt 4.4 and nothing else, as a compact offer for tests.
pub const OFFER_4_4: [u8; 16] = client::offer(Version::new(4, 4));
pub const OFFER_5_4: [u8; 16] = client::offer(Version::new(5, 4));

impl Client {
    pub async fn plain(addr: std::net::SocketAddr) -> Client {
        let tcp = tokio::time::timeout(STEP, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        tcp.set_nodelay(true).ok();
        Self::over(Box::new(tcp), OFFER_4_4).await
    }

    /// Connects over TLS, negotiates 4.4 and says HELLO. Returns the served fingerprint too.
    pub async fn tls(addr: std::net::SocketAddr) -> (Client, String) {
        let (stream, fp) = tls_connect(addr).await.expect("TLS connect");
        (Self::over(Box::new(stream), OFFER_4_4).await, fp)
    }

    /// Plaintext, with `basic` credentials: Ok(client) or Err(the FAILURE that refused them).
    pub async fn plain_as(
        addr: std::net::SocketAddr,
        offer: [u8; 16],
        user: &str,
        password: &str,
    ) -> Result<Client, Response> {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        Self::over_as(Box::new(tcp), offer, Some((user, password))).await
    }

    /// Handshakes with `offer` and sends HELLO (and LOGON on 5.1+).
    pub async fn over(stream: Box<dyn Stream>, offer: [u8; 16]) -> Client {
        Self::over_as(stream, offer, None)
            .await
            .expect("authenticated")
    }

    /// Handshakes and authenticates with `credentials` (scheme `none` when None).
    pub async fn over_as(
        stream: Box<dyn Stream>,
        offer: [u8; 16],
        credentials: Option<(&str, &str)>,
    ) -> Result<Client, Response> {
        Self::over_with_hello(stream, offer, credentials, Map::new()).await
    }

    /// Like `over_as`, with extra HELLO fields (such as `patch_bolt`).
    pub async fn over_with_hello(
        stream: Box<dyn Stream>,
        offer: [u8; 16],
        credentials: Option<(&str, &str)>,
        extra_hello: Map,
    ) -> Result<Client, Response> {
        let mut stream = stream;
        let version = tokio::time::timeout(STEP, client::handshake(&mut stream, &offer))
            .await
            .expect("handshake reply in time")
            .expect("handshake reply")
            .expect("server refused the offer");
        let mut inner = client::Client::new(stream, version).with_max_message(usize::MAX);
        let token = match credentials {
            None => client::no_auth(),
            Some((user, password)) => client::basic_auth(user, password),
        };
        let hello = inner.authenticate("boltd-tests/1", extra_hello, token);
        match tokio::time::timeout(STEP, hello)
            .await
            .expect("response in time")
        {
            Ok(meta) => assert!(meta.contains_key("connection_id")),
            Err(ClientError::Refused(failure)) => return Err(failure),
            Err(e) => panic!("authentication: {e}"),
        }
        Ok(Client {
            inner,
            version: (version.major, version.minor),
        })
    }

    /// LOGOFF then LOGON as another user (Bolt 5.1+).
    pub async fn relogin(&mut self, user: &str, password: &str) -> Result<(), Response> {
        self.inner.logoff().expect("encode");
        self.recv().await.success();
        self.inner
            .logon(client::basic_auth(user, password))
            .expect("encode");
        match self.recv().await {
            Response::Success(_) => Ok(()),
            failure => Err(failure),
        }
    }

    /// Sends one message with `tag` and `fields`.
    pub async fn send(&mut self, tag: u8, fields: &[Value]) {
        self.inner.queue(tag, fields).expect("encode");
        self.flush().await;
    }

    async fn flush(&mut self) {
        self.inner.flush().await.expect("send");
    }

    /// Receives one response; panics on EOF or timeout.
    pub async fn recv(&mut self) -> Response {
        self.try_recv().await.expect("a response")
    }

    /// Receives one message's bytes as sent, to check structure tags and field counts.
    pub async fn recv_raw(&mut self) -> Vec<u8> {
        tokio::time::timeout(STEP, self.inner.recv_raw())
            .await
            .expect("response in time")
            .expect("a message")
    }

    /// Receives one response, or None when the server closed the connection.
    pub async fn try_recv(&mut self) -> Option<Response> {
        match tokio::time::timeout(STEP, self.inner.recv())
            .await
            .expect("response in time")
        {
            Ok(response) => Some(response),
            Err(ClientError::Closed | ClientError::Chunk(_) | ClientError::Io(_)) => None,
            Err(e) => panic!("{e}"),
        }
    }

    pub async fn run_msg(&mut self, query: &str) {
        self.inner
            .run(query, Map::new(), Map::new())
            .expect("encode");
        self.flush().await;
    }

    pub async fn pull_msg(&mut self) {
        self.inner.pull(-1).expect("encode");
        self.flush().await;
    }

    /// RUN + PULL all. Ok((fields, records, summary)) or Err(the FAILURE).
    pub async fn query(
        &mut self,
        query: &str,
    ) -> Result<(Vec<Value>, Vec<Vec<Value>>, Map), Response> {
        self.run_msg(query).await;
        let run = self.recv().await;
        let fields = match run {
            Response::Success(m) => match m.get("fields") {
                Some(Value::List(f)) => f.clone(),
                other => panic!("RUN SUCCESS without fields: {other:?}"),
            },
            failure => return Err(failure),
        };
        self.pull_msg().await;
        let mut records = Vec::new();
        loop {
            match self.recv().await {
                Response::Record(r) => records.push(r),
                Response::Success(summary) => return Ok((fields, records, summary)),
                failure => return Err(failure),
            }
        }
    }

    /// Sends RESET and expects SUCCESS.
    pub async fn reset(&mut self) {
        self.inner.reset().expect("encode");
        self.flush().await;
        self.recv().await.success();
    }

    /// `RETURN 1 AS x` works on this connection.
    pub async fn ping(&mut self) {
        let (_, rows, _) = self.query("RETURN 1 AS x").await.expect("RETURN 1 works");
        assert_eq!(rows, vec![vec![Value::Int(1)]]);
    }
}
