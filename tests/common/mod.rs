//! Shared helpers for integration tests: start a real server on 127.0.0.1:0 and talk to it over
//! real sockets (plaintext or OpenSSL TLS) with a small Bolt client.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use boltd::bolt::chunk::{write_chunked, ChunkReader};
use boltd::bolt::packstream::{self, Decoder};
use boltd::config::Config;
use boltd::engine::MemoryEngine;
use boltd::server::RunningServer;
use boltd::tls::acceptor::fingerprint_hex;
use boltd::value::{Map, Value};
use openssl::hash::MessageDigest;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
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
        let server = boltd::server::start(
            &config,
            Arc::new(MemoryEngine::new()),
            boltd::logging::discard(),
        )
        .await
        .expect("server starts");
        TestServer { server, dir }
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

pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

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
    let mut hs = boltd::bolt::handshake::MAGIC.to_vec();
    hs.extend_from_slice(&OFFER_4_4);
    stream.write_all(&hs).await?;
    let mut reply = [0u8; 4];
    tokio::time::timeout(STEP, stream.read_exact(&mut reply)).await??;
    Ok(reply)
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

/// A server response.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Success(Map),
    Record(Vec<Value>),
    Ignored,
    Failure(Map),
}

impl Response {
    pub fn failure_message(&self) -> String {
        match self {
            Response::Failure(m) => match m.get("message") {
                Some(Value::String(s)) => s.clone(),
                _ => String::new(),
            },
            other => panic!("expected FAILURE, got {other:?}"),
        }
    }

    pub fn failure_code(&self) -> String {
        match self {
            Response::Failure(m) => match m.get("code") {
                Some(Value::String(s)) => s.clone(),
                _ => String::new(),
            },
            other => panic!("expected FAILURE, got {other:?}"),
        }
    }

    pub fn success(self) -> Map {
        match self {
            Response::Success(m) => m,
            other => panic!("expected SUCCESS, got {other:?}"),
        }
    }
}

/// A minimal Bolt client for tests.
pub struct Client {
    reader: ChunkReader<ReadHalf<Box<dyn Stream>>>,
    writer: WriteHalf<Box<dyn Stream>>,
    pub version: (u8, u8),
}

/// Bolt 4.4 and nothing else, as a compact offer for tests.
pub const OFFER_4_4: [u8; 16] = [0, 0, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
pub const OFFER_5_4: [u8; 16] = [0, 0, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

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
        let mut hs = boltd::bolt::handshake::MAGIC.to_vec();
        hs.extend_from_slice(&offer);
        stream.write_all(&hs).await.expect("send handshake");
        let mut reply = [0u8; 4];
        tokio::time::timeout(STEP, stream.read_exact(&mut reply))
            .await
            .expect("handshake reply in time")
            .expect("handshake reply");
        let version = (reply[3], reply[2]);
        assert_ne!(version, (0, 0), "server refused the offer");
        let (r, w) = tokio::io::split(stream);
        let mut client = Client {
            reader: ChunkReader::new(r),
            writer: w,
            version,
        };
        let mut token = Map::new();
        match credentials {
            None => {
                token.insert("scheme".into(), "none".into());
            }
            Some((user, password)) => {
                token.insert("scheme".into(), "basic".into());
                token.insert("principal".into(), user.into());
                token.insert("credentials".into(), password.into());
            }
        }
        let mut hello = Map::new();
        hello.insert("user_agent".into(), "boltd-tests/1".into());
        hello.extend(extra_hello);
        if version < (5, 1) {
            hello.extend(token.clone());
        }
        client.send(0x01, &[Value::Map(hello)]).await;
        match client.recv().await {
            Response::Success(meta) => assert!(meta.contains_key("connection_id")),
            failure => return Err(failure),
        }
        if version >= (5, 1) {
            client.send(0x6A, &[Value::Map(token)]).await;
            match client.recv().await {
                Response::Success(_) => {}
                failure => return Err(failure),
            }
        }
        Ok(client)
    }

    /// LOGOFF then LOGON as another user (Bolt 5.1+).
    pub async fn relogin(&mut self, user: &str, password: &str) -> Result<(), Response> {
        self.send(0x6B, &[]).await;
        self.recv().await.success();
        let mut token = Map::new();
        token.insert("scheme".into(), "basic".into());
        token.insert("principal".into(), user.into());
        token.insert("credentials".into(), password.into());
        self.send(0x6A, &[Value::Map(token)]).await;
        match self.recv().await {
            Response::Success(_) => Ok(()),
            failure => Err(failure),
        }
    }

    /// Sends one message with `tag` and `fields`.
    pub async fn send(&mut self, tag: u8, fields: &[Value]) {
        let mut msg = Vec::new();
        packstream::write_struct_header(&mut msg, fields.len() as u8, tag);
        let layout = packstream::StructLayout::for_version(self.version.0, self.version.1, false);
        for f in fields {
            packstream::encode_value(&mut msg, f, layout).expect("encode");
        }
        let mut out = Vec::new();
        write_chunked(&mut out, &msg);
        self.writer.write_all(&out).await.expect("send");
        self.writer.flush().await.expect("flush");
    }

    /// Receives one response; panics on EOF or timeout.
    pub async fn recv(&mut self) -> Response {
        self.try_recv().await.expect("a response")
    }

    /// Receives one message's bytes as sent, to check structure tags and field counts.
    pub async fn recv_raw(&mut self) -> Vec<u8> {
        tokio::time::timeout(STEP, self.reader.read_message(usize::MAX))
            .await
            .expect("response in time")
            .expect("read")
            .expect("a message")
    }

    /// Receives one response, or None when the server closed the connection.
    pub async fn try_recv(&mut self) -> Option<Response> {
        let bytes = tokio::time::timeout(STEP, self.reader.read_message(usize::MAX))
            .await
            .expect("response in time")
            .ok()??;
        let mut dec = Decoder::new(&bytes);
        let (_, tag) = dec.read_struct_header().expect("struct header");
        let field = if dec.is_empty() {
            Value::Null
        } else {
            dec.read_value().expect("field")
        };
        Some(match (tag, field) {
            (0x70, Value::Map(m)) => Response::Success(m),
            (0x71, Value::List(l)) => Response::Record(l),
            (0x7E, _) => Response::Ignored,
            (0x7F, Value::Map(m)) => Response::Failure(m),
            (tag, field) => panic!("unexpected response 0x{tag:02X} {field:?}"),
        })
    }

    pub async fn run_msg(&mut self, query: &str) {
        self.send(
            0x10,
            &[
                Value::from(query),
                Value::Map(Map::new()),
                Value::Map(Map::new()),
            ],
        )
        .await;
    }

    pub async fn pull_msg(&mut self) {
        let mut extra = Map::new();
        extra.insert("n".into(), Value::Int(-1));
        self.send(0x3F, &[Value::Map(extra)]).await;
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
        self.send(0x0F, &[]).await;
        self.recv().await.success();
    }

    /// `RETURN 1 AS x` works on this connection.
    pub async fn ping(&mut self) {
        let (_, rows, _) = self.query("RETURN 1 AS x").await.expect("RETURN 1 works");
        assert_eq!(rows, vec![vec![Value::Int(1)]]);
    }
}
