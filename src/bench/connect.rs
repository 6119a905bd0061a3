//! Opening the bench's connections: TCP (with Nagle off, since every operation is a small
//! request waiting for its answer), TLS without certificate verification, and Bolt sessions over
//! either, through the library's one Bolt client. No mode opens a connection any other way, so
//! every mode measures the same client.

use std::net::SocketAddr;
use std::pin::Pin;

use openssl::error::ErrorStack;
use openssl::ssl::{
    SslConnector, SslMethod, SslRef, SslSession, SslSessionRef, SslVerifyMode, SslVersion,
};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use crate::bolt::client::{self, Client, Response, Stream};
use crate::tls::TlsStream;
use crate::value::{Map, Value};

use super::{BenchArgs, Error, TlsVersionArg};

/// A Bolt session of the bench, over plaintext or TLS.
pub(super) type Bolt = Client<Box<dyn Stream>>;

/// The one connector a run shares between its tasks. Certificates are not verified: the bench
/// measures servers, often with throw-away certificates, and trusts nothing it is told.
pub(super) fn connector(args: &BenchArgs) -> Result<SslConnector, Error> {
    let mut b = SslConnector::builder(SslMethod::tls_client())?;
    b.set_verify(SslVerifyMode::NONE);
    // Without read-ahead OpenSSL reads a record's header and its body with one `recvfrom`
    // each: a second system call per answer that no real client needs to pay.
    b.set_read_ahead(true);
    if let Some(v) = args.tls_version {
        let v = match v {
            TlsVersionArg::V12 => SslVersion::TLS1_2,
            TlsVersionArg::V13 => SslVersion::TLS1_3,
        };
        b.set_min_proto_version(Some(v))?;
        b.set_max_proto_version(Some(v))?;
    }
    Ok(b.build())
}

/// A TLS connection to `addr`, resuming `session` if given. `session` must come from a
/// connection made with this same `connector` (see [`offer_session`]).
pub(super) async fn tls(
    connector: &SslConnector,
    addr: SocketAddr,
    session: Option<&SslSession>,
) -> Result<SslStream<TcpStream>, Error> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let mut ssl = connector
        .configure()?
        .verify_hostname(false)
        .into_ssl("localhost")?;
    if let Some(s) = session {
        offer_session(&mut ssl, s)?;
    }
    let mut stream = SslStream::new(ssl, tcp)?;
    Pin::new(&mut stream).connect().await?;
    Ok(stream)
}

/// Offers `session` for resumption on `ssl`.
#[allow(unsafe_code)]
fn offer_session(ssl: &mut SslRef, session: &SslSessionRef) -> Result<(), ErrorStack> {
    // SAFETY: OpenSSL requires the session to belong to the same `SslContext` as `ssl`. Every
    // connection of a run comes from the one connector the run built (`connector`, shared by all
    // its tasks), and the only sessions offered are taken from earlier connections of that same
    // run (`timed::handshake_task`), so session and `ssl` share one context.
    unsafe { ssl.set_session(session) }
}

/// A connection to the server: TLS when `--tls`, else plain TCP; upgraded to WebSocket when
/// `--websocket`.
pub(super) async fn open(
    args: &BenchArgs,
    connector: &SslConnector,
) -> Result<Box<dyn Stream>, Error> {
    let stream: Box<dyn Stream> = if args.tls {
        // The server's stream wrapper, so that the bench's reads skip OpenSSL when nothing can
        // be there, as the server's do: the client's own overhead stays out of the figures.
        Box::new(TlsStream::new(tls(connector, args.addr, None).await?))
    } else {
        let tcp = TcpStream::connect(args.addr).await?;
        tcp.set_nodelay(true)?;
        Box::new(tcp)
    };
    if args.websocket {
        return super::websocket::upgrade(stream, args).await;
    }
    Ok(stream)
}

/// Negotiates `--bolt-version` (exactly that one: a fixed version keeps figures comparable
/// between servers) on `io` and says HELLO (and LOGON from 5.1), with `--auth` credentials if
/// given.
pub(super) async fn start(mut io: Box<dyn Stream>, args: &BenchArgs) -> Result<Bolt, Error> {
    let version = args.bolt_version;
    if client::handshake(&mut io, &client::offer(version)).await? != Some(version) {
        return Err(
            format!("the server did not agree to Bolt {version} (see --bolt-version)").into(),
        );
    }
    let token = match args.auth.as_slice() {
        [user, password] => client::basic_auth(user, password),
        _ => client::no_auth(),
    };
    let mut bolt = Client::new(io, version);
    bolt.authenticate("boltd-bench/1", Map::new(), token)
        .await?;
    Ok(bolt)
}

/// Opens a connection and starts a Bolt session on it.
pub(super) async fn session(args: &BenchArgs, connector: &SslConnector) -> Result<Bolt, Error> {
    start(open(args, connector).await?, args).await
}

/// RUN + PULL of `query` without parameters; the number of records.
pub(super) async fn query(bolt: &mut Bolt, query: &str) -> Result<u64, Error> {
    Ok(bolt.count_records(query, Map::new()).await?)
}

/// RUN + PULL of `query` with `params`; the records, decoded. For the few queries whose answer a
/// mode reads (`SHOW SNAPSHOTS`) and for loads whose failure should say why: the server's
/// message is the error.
pub(super) async fn records(
    bolt: &mut Bolt,
    query: &str,
    params: Map,
) -> Result<Vec<Vec<Value>>, Error> {
    records_with(bolt, query, params, Map::new()).await
}

/// RUN's extra for `--database`: `{db: NAME}`, or nothing.
pub(super) fn run_extra(args: &BenchArgs) -> Map {
    let mut extra = Map::new();
    if let Some(db) = &args.database {
        extra.insert("db".into(), Value::String(db.clone()));
    }
    extra
}

/// [`records`] with RUN's `extra` (see [`run_extra`]).
pub(super) async fn records_with(
    bolt: &mut Bolt,
    query: &str,
    params: Map,
    extra: Map,
) -> Result<Vec<Vec<Value>>, Error> {
    bolt.run(query, params, extra)?;
    bolt.pull(-1)?;
    let mut rows = Vec::new();
    // RUN's SUCCESS, then the records, then PULL's SUCCESS.
    let mut successes = 0;
    loop {
        match bolt.recv().await? {
            Response::Success(_) => {
                successes += 1;
                if successes == 2 {
                    return Ok(rows);
                }
            }
            Response::Record(r) => rows.push(r),
            failure @ Response::Failure(_) => {
                let message = failure.message().unwrap_or("no message").to_owned();
                return Err(format!("{query}: {message}").into());
            }
            Response::Ignored => return Err(format!("{query}: ignored by the server").into()),
        }
    }
}
