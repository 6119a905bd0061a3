//! Prometheus metrics: what the server counts, and the endpoint that exposes them.
//!
//! Counting is lock-free (atomics inside prometheus-client), so the hot paths (accept, handshake,
//! query) pay a few atomic increments. The endpoint serves `GET /metrics` in the Prometheus text
//! format on `--metrics-address`/`--metrics-port`; when Bolt runs TLS, the endpoint is HTTPS with
//! the same certificate, taken from the `TlsManager` per connection, so a reload rotates it too
//! (as Memgraph's metrics server shares the Bolt context).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use openssl::ssl::Ssl;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use slog::{debug, info, warn, Logger};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_openssl::SslStream;

use crate::shutdown::Shutdown;
use crate::tls::TlsHandle;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabel {
    pub limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    pub trigger: &'static str,
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueryLabels {
    pub r#type: &'static str,
    pub result: &'static str,
}

/// Every metric the server keeps.
pub struct Metrics {
    registry: Registry,
    pub connections_open: Gauge,
    pub connections: Counter,
    pub tls_handshakes: Family<ResultLabel, Counter>,
    pub tls_handshake_seconds: Histogram,
    pub reloads: Family<ReloadLabels, Counter>,
    pub cert_not_after: Gauge,
    pub cert_generation: Gauge,
    pub queries: Family<QueryLabels, Counter>,
    pub query_seconds: Histogram,
    pub limits_hit: Family<LimitLabel, Counter>,
    pub logins: Family<ResultLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("boltd");
        let m = Metrics {
            connections_open: Gauge::default(),
            connections: Counter::default(),
            tls_handshakes: Family::default(),
            // 100 µs to about 6.5 s.
            tls_handshake_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 17)),
            reloads: Family::default(),
            cert_not_after: Gauge::default(),
            cert_generation: Gauge::default(),
            queries: Family::default(),
            query_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 20)),
            limits_hit: Family::default(),
            logins: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "connections_open",
            "Bolt connections open now",
            m.connections_open.clone(),
        );
        registry.register(
            "connections",
            "Bolt connections accepted",
            m.connections.clone(),
        );
        registry.register(
            "tls_handshakes",
            "TLS handshakes by result (ok, failed, timeout)",
            m.tls_handshakes.clone(),
        );
        registry.register(
            "tls_handshake_duration_seconds",
            "TLS handshake duration",
            m.tls_handshake_seconds.clone(),
        );
        registry.register(
            "tls_reloads",
            "TLS reloads by trigger (query, signal, file_watch) and result",
            m.reloads.clone(),
        );
        registry.register(
            "tls_certificate_not_after_timestamp_seconds",
            "Expiry of the served certificate, Unix time",
            m.cert_not_after.clone(),
        );
        registry.register(
            "tls_certificate_generation",
            "Generation of the served certificate (1 at start, +1 per successful reload)",
            m.cert_generation.clone(),
        );
        registry.register("queries", "Queries by type and result", m.queries.clone());
        registry.register(
            "query_duration_seconds",
            "Query duration from RUN to the last record",
            m.query_seconds.clone(),
        );
        registry.register(
            "limits_hit",
            "Connections closed by a limit (tls_handshake_timeout, bolt_handshake_timeout, \
             auth_timeout, inactivity, message_size, max_connections)",
            m.limits_hit.clone(),
        );
        registry.register(
            "logins",
            "Authentication attempts by result (ok, failed)",
            m.logins.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    pub fn login(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.logins.get_or_create(&ResultLabel { result }).inc();
    }

    pub fn limit_hit(&self, limit: &'static str) {
        self.limits_hit.get_or_create(&LimitLabel { limit }).inc();
    }

    pub fn query(&self, kind: &'static str, ok: bool, elapsed: Duration) {
        let result = if ok { "success" } else { "failure" };
        self.queries
            .get_or_create(&QueryLabels {
                r#type: kind,
                result,
            })
            .inc();
        self.query_seconds.observe(elapsed.as_secs_f64());
    }
}

/// Decrements the open-connections gauge when a connection ends, however it ends.
pub struct OpenConnection(Arc<Metrics>);

impl OpenConnection {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        metrics.connections.inc();
        metrics.connections_open.inc();
        OpenConnection(metrics)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections_open.dec();
    }
}

/// Binds the metrics endpoint and serves it until shutdown.
pub async fn serve(
    address: String,
    metrics: Arc<Metrics>,
    tls: Option<TlsHandle>,
    mut shutdown: Shutdown,
    logger: Logger,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(&address).await?;
    let local = listener.local_addr()?;
    info!(logger, "metrics endpoint listening"; "address" => %local,
        "scheme" => if tls.is_some() { "https" } else { "http" });
    tokio::spawn(async move {
        loop {
            let (socket, peer) = tokio::select! {
                a = listener.accept() => match a {
                    Ok(pair) => pair,
                    Err(e) => {
                        warn!(logger, "metrics accept failed"; "error" => %e);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = shutdown.recv() => return,
            };
            let metrics = Arc::clone(&metrics);
            let tls = tls.clone();
            let logger = logger.clone();
            tokio::spawn(async move {
                let served = match tls {
                    None => serve_http(socket, metrics).await,
                    Some(tls) => match handshake(&tls, socket).await {
                        Some(stream) => serve_http(stream, metrics).await,
                        None => Ok(()),
                    },
                };
                if let Err(e) = served {
                    debug!(logger, "metrics connection ended with an error"; "peer" => %peer, "error" => %e);
                }
            });
        }
    });
    Ok(local)
}

async fn handshake(
    tls: &TlsHandle,
    socket: tokio::net::TcpStream,
) -> Option<SslStream<tokio::net::TcpStream>> {
    let loaded = tls.acceptor().await.ok()?;
    let ssl = Ssl::new(&loaded.context).ok()?;
    let mut stream = SslStream::new(ssl, socket).ok()?;
    match tokio::time::timeout(Duration::from_secs(10), Pin::new(&mut stream).accept()).await {
        Ok(Ok(())) => Some(stream),
        _ => None,
    }
}

async fn serve_http<S>(stream: S, metrics: Arc<Metrics>) -> Result<(), hyper::Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let metrics = Arc::clone(&metrics);
        async move { Ok::<_, Infallible>(respond(&req, &metrics)) }
    });
    hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .serve_connection(TokioIo::new(stream), service)
        .await
}

fn respond(req: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let (status, content_type, body) = if req.uri().path() == "/metrics" {
        (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.encode(),
        )
    } else {
        (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: metrics are at /metrics\n".to_owned(),
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}
