//! The one Bolt client in boltd: `boltd bench` drives load with it and the integration tests talk
//! to the server through it, so the client side of the protocol is written once, on the same
//! chunking ([`super::chunk`]) and PackStream ([`super::packstream`]) code the server uses.
//!
//! It owns the client half of a conversation: the handshake with a version offer, requests queued
//! into one buffer (so that a pipelined RUN + PULL leaves in one write), and responses read back as
//! typed [`Response`]s. It never panics on what the server sends: a short, malformed or oversized
//! message is a [`ClientError`]. It knows nothing of sockets, TLS or time: callers hand it a
//! connected stream and bound its waits themselves (the tests with a timeout per step, the bench
//! with its measurement window).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::value::{Map, Value};

use super::chunk::{write_chunked, ChunkError, ChunkReader};
use super::handshake::{Version, MAGIC};
use super::packstream::{self, DecodeError, Decoder, EncodeError, StructLayout};

/// Responses larger than this are refused unless the caller raises the limit, so that a broken
/// server cannot make the client buffer without bound.
pub const DEFAULT_MAX_MESSAGE: usize = 1 << 24;

const HELLO: u8 = 0x01;
const GOODBYE: u8 = 0x02;
const RESET: u8 = 0x0F;
const RUN: u8 = 0x10;
const BEGIN: u8 = 0x11;
const COMMIT: u8 = 0x12;
const ROLLBACK: u8 = 0x13;
const DISCARD: u8 = 0x2F;
const PULL: u8 = 0x3F;
const LOGON: u8 = 0x6A;
const LOGOFF: u8 = 0x6B;

const SUCCESS: u8 = 0x70;
const RECORD: u8 = 0x71;
const IGNORED: u8 = 0x7E;
const FAILURE: u8 = 0x7F;

/// A byte stream the client can run over. Boxed as `Box<dyn Stream>`, plaintext and TLS
/// connections share one client type, which is what lets a caller pick the transport at run time.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The 16 proposal bytes that offer exactly `version` and nothing else.
pub const fn offer(version: Version) -> [u8; 16] {
    let mut proposals = [0u8; 16];
    proposals[2] = version.minor;
    proposals[3] = version.major;
    proposals
}

/// An auth token with scheme `basic`, for [`Client::authenticate`] or [`Client::logon`].
pub fn basic_auth(user: &str, password: &str) -> Map {
    let mut token = Map::new();
    token.insert("scheme".into(), "basic".into());
    token.insert("principal".into(), user.into());
    token.insert("credentials".into(), password.into());
    token
}

/// An auth token with scheme `none`, accepted while the server has no users.
pub fn no_auth() -> Map {
    let mut token = Map::new();
    token.insert("scheme".into(), "none".into());
    token
}

/// Sends the preamble and `offer`, and reads the server's choice: `Ok(None)` when it accepted none
/// of the offered versions (it answered `00 00 00 00`). Exposed apart from [`Client`] because
/// some callers only need to know whether the server answers at all (a TLS 1.3 server that
/// refused the client certificate shows it on this first read).
pub async fn handshake<S>(stream: &mut S, offer: &[u8; 16]) -> Result<Option<Version>, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut hello = MAGIC.to_vec();
    hello.extend_from_slice(offer);
    stream.write_all(&hello).await?;
    stream.flush().await?;
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply).await?;
    match reply {
        [0, 0, 0, 0] => Ok(None),
        [0, 0, minor, major] => Ok(Some(Version::new(major, minor))),
        other => Err(ClientError::BadHandshakeReply(other)),
    }
}

/// What can go wrong between the client and the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Chunk(#[from] ChunkError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The server closed the connection cleanly where a response was due.
    #[error("connection closed")]
    Closed,
    /// The handshake reply is not of the form `00 00 minor major`.
    #[error("malformed Bolt handshake reply {0:02X?}")]
    BadHandshakeReply([u8; 4]),
    /// A request with more fields than a PackStream tiny structure holds.
    #[error("a request cannot carry {0} fields (at most 15)")]
    TooManyFields(usize),
    /// A response tag or field that is none of SUCCESS, RECORD, IGNORED or FAILURE.
    #[error("unexpected response 0x{tag:02X} {field:?}")]
    Unexpected { tag: u8, field: Value },
    /// HELLO or LOGON was answered with something other than SUCCESS; the answer is kept so the
    /// caller can tell a refused password from anything else.
    #[error("expected SUCCESS, got 0x{:02X}", .0.tag())]
    Refused(Response),
    /// A RUN was answered with the message of this tag instead of SUCCESS.
    #[error("expected SUCCESS, got 0x{0:02X}")]
    NotSuccess(u8),
    /// A PULL ended with the message of this tag instead of SUCCESS.
    #[error("query failed (0x{0:02X})")]
    QueryFailed(u8),
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
    /// The message tag this response arrived with.
    pub fn tag(&self) -> u8 {
        match self {
            Response::Success(_) => SUCCESS,
            Response::Record(_) => RECORD,
            Response::Ignored => IGNORED,
            Response::Failure(_) => FAILURE,
        }
    }

    /// A FAILURE's `code`; None for any other response or a FAILURE without one.
    pub fn code(&self) -> Option<&str> {
        self.failure_field("code")
    }

    /// A FAILURE's `message`; None for any other response or a FAILURE without one.
    pub fn message(&self) -> Option<&str> {
        self.failure_field("message")
    }

    /// A SUCCESS's metadata, or the response itself when it is something else.
    pub fn into_success(self) -> Result<Map, Response> {
        match self {
            Response::Success(m) => Ok(m),
            other => Err(other),
        }
    }

    fn failure_field(&self, key: &str) -> Option<&str> {
        match self {
            Response::Failure(m) => match m.get(key) {
                Some(Value::String(s)) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }

    /// Reads a response from one message's bytes.
    fn decode(bytes: &[u8]) -> Result<Response, ClientError> {
        let mut dec = Decoder::new(bytes);
        let (_, tag) = dec.read_struct_header()?;
        let field = if dec.is_empty() {
            Value::Null
        } else {
            dec.read_value()?
        };
        Ok(match (tag, field) {
            (SUCCESS, Value::Map(m)) => Response::Success(m),
            (RECORD, Value::List(l)) => Response::Record(l),
            (IGNORED, _) => Response::Ignored,
            (FAILURE, Value::Map(m)) => Response::Failure(m),
            (tag, field) => return Err(ClientError::Unexpected { tag, field }),
        })
    }
}

/// One Bolt connection after the handshake.
///
/// Requests are queued, not written: they leave together on [`Client::flush`] or at the next
/// read, so that pipelined requests cost one write and a caller can never wait for the answer to
/// a request still sitting in the buffer.
pub struct Client<S> {
    /// Responses, reassembled from chunks.
    reader: ChunkReader<ReadHalf<S>>,
    /// Where queued requests are written; split from the reader so that either half can be
    /// borrowed while the other is waiting.
    writer: WriteHalf<S>,
    /// The negotiated version, which decides the structure shapes requests are encoded with.
    version: Version,
    /// Requests queued since the last write, already chunked.
    out: Vec<u8>,
    /// The largest response accepted, in bytes.
    max_message: usize,
}

impl<S: AsyncRead + AsyncWrite> Client<S> {
    /// A client over `stream`, on which [`handshake`] agreed on `version`.
    pub fn new(stream: S, version: Version) -> Self {
        let (r, w) = tokio::io::split(stream);
        Client {
            reader: ChunkReader::new(r),
            writer: w,
            version,
            out: Vec::new(),
            max_message: DEFAULT_MAX_MESSAGE,
        }
    }

    /// Accepts responses up to `max_message` bytes instead of [`DEFAULT_MAX_MESSAGE`].
    pub fn with_max_message(mut self, max_message: usize) -> Self {
        self.max_message = max_message;
        self
    }

    /// The negotiated protocol version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Sends HELLO (carrying `token` before Bolt 5.1) and, from 5.1 on, LOGON with `token`.
    /// Returns HELLO's metadata; a refusal is [`ClientError::Refused`] with the server's answer.
    pub async fn authenticate(
        &mut self,
        user_agent: &str,
        extra: Map,
        token: Map,
    ) -> Result<Map, ClientError> {
        let mut hello = Map::new();
        hello.insert("user_agent".into(), user_agent.into());
        hello.extend(extra);
        let logon = self.version.has_logon();
        if !logon {
            hello.extend(token.clone());
        }
        self.hello(hello)?;
        let meta = self
            .recv()
            .await?
            .into_success()
            .map_err(ClientError::Refused)?;
        if logon {
            self.logon(token)?;
            self.recv()
                .await?
                .into_success()
                .map_err(ClientError::Refused)?;
        }
        Ok(meta)
    }

    /// Queues any request: `tag` with `fields`, encoded for the negotiated version.
    pub fn queue(&mut self, tag: u8, fields: &[Value]) -> Result<(), ClientError> {
        let count = u8::try_from(fields.len())
            .ok()
            .filter(|n| *n <= 15)
            .ok_or(ClientError::TooManyFields(fields.len()))?;
        let layout = StructLayout::for_version(self.version.major, self.version.minor, false);
        let mut msg = Vec::new();
        packstream::write_struct_header(&mut msg, count, tag);
        for f in fields {
            packstream::encode_value(&mut msg, f, layout)?;
        }
        write_chunked(&mut self.out, &msg);
        Ok(())
    }

    /// Queues HELLO with `extra` as it is (see [`Client::authenticate`] for the usual one).
    pub fn hello(&mut self, extra: Map) -> Result<(), ClientError> {
        self.queue(HELLO, &[Value::Map(extra)])
    }

    /// Queues LOGON with an auth token (Bolt 5.1+).
    pub fn logon(&mut self, token: Map) -> Result<(), ClientError> {
        self.queue(LOGON, &[Value::Map(token)])
    }

    /// Queues LOGOFF (Bolt 5.1+).
    pub fn logoff(&mut self) -> Result<(), ClientError> {
        self.queue(LOGOFF, &[])
    }

    /// Queues RUN.
    pub fn run(&mut self, query: &str, params: Map, extra: Map) -> Result<(), ClientError> {
        self.queue(RUN, &[query.into(), Value::Map(params), Value::Map(extra)])
    }

    /// Queues PULL of `n` records (-1 for all) of the last query.
    pub fn pull(&mut self, n: i64) -> Result<(), ClientError> {
        self.queue(PULL, &[Value::Map(count(n))])
    }

    /// Queues DISCARD of `n` records (-1 for all) of the last query.
    pub fn discard(&mut self, n: i64) -> Result<(), ClientError> {
        self.queue(DISCARD, &[Value::Map(count(n))])
    }

    /// Queues BEGIN of an explicit transaction.
    pub fn begin(&mut self, extra: Map) -> Result<(), ClientError> {
        self.queue(BEGIN, &[Value::Map(extra)])
    }

    /// Queues COMMIT.
    pub fn commit(&mut self) -> Result<(), ClientError> {
        self.queue(COMMIT, &[])
    }

    /// Queues ROLLBACK.
    pub fn rollback(&mut self) -> Result<(), ClientError> {
        self.queue(ROLLBACK, &[])
    }

    /// Queues RESET.
    pub fn reset(&mut self) -> Result<(), ClientError> {
        self.queue(RESET, &[])
    }

    /// Queues GOODBYE; the server closes the connection once it reads it.
    pub fn goodbye(&mut self) -> Result<(), ClientError> {
        self.queue(GOODBYE, &[])
    }

    /// Writes every queued request.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        if !self.out.is_empty() {
            self.writer.write_all(&self.out).await?;
            self.out.clear();
        }
        self.writer.flush().await?;
        Ok(())
    }

    /// Writes the queued requests and reads the next response.
    pub async fn recv(&mut self) -> Result<Response, ClientError> {
        Response::decode(&self.recv_raw().await?)
    }

    /// Writes the queued requests and reads the next message's bytes as sent, for callers that
    /// check structure tags and field counts themselves.
    pub async fn recv_raw(&mut self) -> Result<Vec<u8>, ClientError> {
        if !self.out.is_empty() {
            self.flush().await?;
        }
        self.reader
            .read_message(self.max_message)
            .await?
            .ok_or(ClientError::Closed)
    }

    /// RUN `query` with `params` and PULL everything, pipelined; returns how many records came
    /// back. Records are counted, not decoded, so that a load generator measures the server and
    /// not its own PackStream decoding.
    pub async fn count_records(&mut self, query: &str, params: Map) -> Result<u64, ClientError> {
        self.count_records_with(query, params, Map::new()).await
    }

    /// [`Client::count_records`] with RUN's `extra` (e.g. `{db: NAME}`, for servers that hold
    /// several databases).
    pub async fn count_records_with(
        &mut self,
        query: &str,
        params: Map,
        extra: Map,
    ) -> Result<u64, ClientError> {
        self.run(query, params, extra)?;
        self.pull(-1)?;
        match self.recv_tag().await? {
            SUCCESS => {}
            tag => return Err(ClientError::NotSuccess(tag)),
        }
        let mut records = 0;
        loop {
            match self.recv_tag().await? {
                RECORD => records += 1,
                SUCCESS => return Ok(records),
                tag => return Err(ClientError::QueryFailed(tag)),
            }
        }
    }

    /// The next response's tag, its fields skipped.
    async fn recv_tag(&mut self) -> Result<u8, ClientError> {
        let msg = self.recv_raw().await?;
        let (_, tag) = Decoder::new(&msg).read_struct_header()?;
        Ok(tag)
    }
}

/// PULL's and DISCARD's `{n}`.
fn count(n: i64) -> Map {
    let mut extra = Map::new();
    extra.insert("n".into(), Value::Int(n));
    extra
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client over one end of an in-memory pipe, whose other end plays the server.
    fn pair() -> (Client<tokio::io::DuplexStream>, tokio::io::DuplexStream) {
        let (client, server) = tokio::io::duplex(1 << 16);
        (Client::new(client, Version::new(4, 4)), server)
    }

    fn chunked(message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_chunked(&mut out, message);
        out
    }

    #[test]
    fn offer_names_one_version() {
        assert_eq!(
            offer(Version::new(5, 4)),
            [0, 0, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[tokio::test]
    async fn handshake_reads_the_choice_and_a_refusal() {
        for (reply, want) in [
            ([0u8, 0, 4, 4], Some(Version::new(4, 4))),
            ([0, 0, 0, 0], None),
        ] {
            let (mut client, mut server) = tokio::io::duplex(64);
            server.write_all(&reply).await.unwrap();
            let got = handshake(&mut client, &offer(Version::new(4, 4))).await;
            assert_eq!(got.unwrap(), want);
            let mut sent = [0u8; 20];
            server.read_exact(&mut sent).await.unwrap();
            assert_eq!(sent[..4], MAGIC);
            assert_eq!(sent[4..], offer(Version::new(4, 4)));
        }
    }

    #[tokio::test]
    async fn queued_requests_leave_in_one_write_on_read() {
        let (mut c, mut server) = pair();
        c.reset().unwrap();
        c.goodbye().unwrap();
        server
            .write_all(&chunked(&[0xB1, 0x70, 0xA0]))
            .await
            .unwrap();
        assert_eq!(c.recv().await.unwrap(), Response::Success(Map::new()));
        let mut sent = [0u8; 8];
        server.read_exact(&mut sent).await.unwrap();
        assert_eq!(sent, [0, 2, 0xB0, RESET, 0, 0, 0, 2]);
    }

    #[tokio::test]
    async fn count_records_counts_and_reports_failures() {
        let (mut c, mut server) = pair();
        let mut replies = chunked(&[0xB1, 0x70, 0xA0]);
        replies.extend(chunked(&[0xB1, 0x71, 0x91, 0x01]));
        replies.extend(chunked(&[0xB1, 0x71, 0x91, 0x02]));
        replies.extend(chunked(&[0xB1, 0x70, 0xA0]));
        replies.extend(chunked(&[0xB1, 0x7F, 0xA0]));
        replies.extend(chunked(&[0xB0, 0x7E]));
        server.write_all(&replies).await.unwrap();
        assert_eq!(c.count_records("RETURN 1", Map::new()).await.unwrap(), 2);
        let err = c.count_records("RETURN 1", Map::new()).await.unwrap_err();
        assert_eq!(err.to_string(), "expected SUCCESS, got 0x7F");
    }

    #[tokio::test]
    async fn malformed_responses_are_errors() {
        for bad in [
            &[0x01][..],
            &[0xB1],
            &[0xB1, 0x70, 0xD0],
            &[0xB1, 0x42, 0x01],
        ] {
            let (mut c, mut server) = pair();
            server.write_all(&chunked(bad)).await.unwrap();
            assert!(c.recv().await.is_err(), "{bad:02X?}");
        }
    }

    #[tokio::test]
    async fn oversized_responses_and_closed_connections_are_errors() {
        let (c, mut server) = pair();
        let mut c = c.with_max_message(4);
        server
            .write_all(&chunked(&[
                0xB1, 0x71, 0x91, 0x85, b'h', b'e', b'l', b'l', b'o',
            ]))
            .await
            .unwrap();
        assert!(matches!(
            c.recv().await,
            Err(ClientError::Chunk(ChunkError::TooLarge { .. }))
        ));
        let (mut c, server) = pair();
        drop(server);
        assert!(matches!(c.recv().await, Err(ClientError::Closed)));
    }

    #[tokio::test]
    async fn refused_logon_keeps_the_failure() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut c = Client::new(client, Version::new(5, 4));
        let mut replies = chunked(&[0xB1, 0x70, 0xA0]);
        replies.extend(chunked(&[
            0xB1, 0x7F, 0xA1, 0x87, b'm', b'e', b's', b's', b'a', b'g', b'e', 0x82, b'n', b'o',
        ]));
        server.write_all(&replies).await.unwrap();
        match c
            .authenticate("t/1", Map::new(), basic_auth("u", "p"))
            .await
        {
            Err(ClientError::Refused(r)) => assert_eq!(r.message(), Some("no")),
            other => panic!("{other:?}"),
        }
    }
}
