//! The endpoint that exposes the metrics registry: `GET /metrics` in the Prometheus text format
//! on `--metrics-address`/`--metrics-port`.
//!
//! When Bolt runs TLS, the endpoint is HTTPS with the same certificate, handshaken through the
//! same `tls::accept` as Bolt connections (the current acceptor taken from the `TlsManager` per
//! connection, so a reload rotates it too, as Memgraph's metrics server shares the Bolt context;
//! the handshake pool; the handshake deadline). It has a small connection cap of its own, so a
//! flood on this port cannot starve the Bolt port of file descriptors or handshake threads.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use slog::{debug, info, warn, Logger};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::tls::Handshakes;

/// Most metrics connections open at once. A scraper needs one; a few more leave room for a
/// person with curl. Further connections are closed at once.
const MAX_CONNECTIONS: usize = 16;

/// Binds the metrics endpoint and serves it until shutdown. With `tls`, every connection is
/// HTTPS; its handshakes are not counted with the Bolt ones.
pub async fn serve(
    address: String,
    metrics: Arc<Metrics>,
    tls: Option<Handshakes>,
    mut shutdown: Shutdown,
    logger: Logger,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(&address).await?;
    let local = listener.local_addr()?;
    info!(logger, "metrics endpoint listening"; "address" => %local,
        "scheme" => if tls.is_some() { "https" } else { "http" });
    let tls = tls.map(Arc::new);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
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
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                debug!(logger, "metrics connection limit reached; closing"; "peer" => %peer,
                    "limit" => MAX_CONNECTIONS);
                drop(socket);
                continue;
            };
            let metrics = Arc::clone(&metrics);
            let tls = tls.clone();
            let logger = logger.clone();
            tokio::spawn(async move {
                let served = match tls {
                    None => serve_http(socket, metrics).await,
                    Some(tls) => {
                        let done = crate::tls::accept(&tls, socket, &logger).await;
                        match done.outcome {
                            Ok(stream) => serve_http(stream, metrics).await,
                            Err(e) => {
                                debug!(done.logger, "metrics TLS handshake failed"; "peer" => %peer, "error" => %e);
                                Ok(())
                            }
                        }
                    }
                };
                if let Err(e) = served {
                    debug!(logger, "metrics connection ended with an error"; "peer" => %peer, "error" => %e);
                }
                drop(slot);
            });
        }
    });
    Ok(local)
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
