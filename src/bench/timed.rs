//! The modes that repeat one operation on `--concurrency` tasks for the measured window:
//! `handshake` and `resume` (TLS only, so any TLS server can be measured) and `roundtrip` (one
//! Bolt session per task, `RETURN 1` again and again).

use std::sync::Arc;
use std::time::{Duration, Instant};

use openssl::ssl::{SslConnector, SslSession};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connect::{self, connector, tls};
use super::report::report;
use super::sample::{Sample, Window};
use super::{BenchArgs, Error, Mode};
use crate::value::Map;

/// Runs `task` on `--concurrency` tasks for warm-up + duration; only the measured window counts.
pub(super) async fn run<F, Fut>(args: &Arc<BenchArgs>, task: F) -> Result<String, Error>
where
    F: Fn(Arc<BenchArgs>, Arc<SslConnector>, Arc<Window>) -> Fut,
    Fut: std::future::Future<Output = Sample> + Send + 'static,
{
    // One connector for all tasks: building one loads the system trust store, which costs
    // milliseconds and would otherwise eat the warm-up when hundreds of tasks start.
    let connector = Arc::new(connector(args)?);
    let window = Arc::new(Window::new(args.warmup, args.duration));
    let handles: Vec<_> = (0..args.concurrency)
        .map(|_| {
            tokio::spawn(task(
                Arc::clone(args),
                Arc::clone(&connector),
                Arc::clone(&window),
            ))
        })
        .collect();
    let mut all = Sample::default();
    for h in handles {
        all.absorb(h.await?);
    }
    let extra = if args.mode == Mode::Resume {
        vec![("resumed".to_owned(), all.resumed as f64)]
    } else {
        Vec::new()
    };
    Ok(report(args, &all, args.duration, &extra))
}

/// One task of `handshake` and `resume`: TLS handshakes back to back, each closed cleanly.
pub(super) async fn handshake_task(
    args: Arc<BenchArgs>,
    connector: Arc<SslConnector>,
    window: Arc<Window>,
) -> Sample {
    let mut sample = Sample::default();
    let mut session: Option<SslSession> = None;
    while !window.done() {
        let t = Instant::now();
        let resume = if args.mode == Mode::Resume {
            session.as_ref()
        } else {
            None
        };
        let result = tls(&connector, args.addr, resume).await;
        match result {
            Ok(mut s) => {
                if args.mode == Mode::Resume && session.is_none() {
                    // Read briefly so TLS 1.3 tickets arrive, then keep the session.
                    let mut b = [0u8; 1];
                    let _ = tokio::time::timeout(Duration::from_millis(50), s.read(&mut b)).await;
                    session = s.ssl().session().map(|x| x.to_owned());
                }
                if window.measuring() {
                    sample.latencies.push(t.elapsed().as_micros() as u64);
                    sample.resumed += u64::from(s.ssl().session_reused());
                }
                // A clean close (close_notify): OpenSSL will not resume a session whose
                // connection was dropped without one.
                let _ = s.shutdown().await;
            }
            Err(_) => {
                if window.measuring() {
                    sample.failures += 1;
                }
            }
        }
    }
    sample
}

/// One task of `roundtrip`: a Bolt session running `RETURN 1` until the window closes or a query
/// fails.
pub(super) async fn roundtrip_task(
    args: Arc<BenchArgs>,
    connector: Arc<SslConnector>,
    window: Arc<Window>,
) -> Sample {
    query_loop(args, connector, window, "RETURN 1", Map::new).await
}

/// A Bolt session running `query` (with fresh `params` each time) until the window closes or a
/// query fails, timing each RUN + PULL. A failure ends the task: the session is FAILED until a
/// RESET, and a load generator that carried on would measure IGNORED answers.
pub(super) async fn query_loop(
    args: Arc<BenchArgs>,
    connector: Arc<SslConnector>,
    window: Arc<Window>,
    query: &str,
    mut params: impl FnMut() -> Map,
) -> Sample {
    let mut sample = Sample::default();
    let Ok(mut bolt) = connect::session(&args, &connector).await else {
        sample.failures += 1;
        return sample;
    };
    while !window.done() {
        let params = params();
        let t = Instant::now();
        let ok = bolt.count_records(query, params).await.is_ok();
        if window.measuring() {
            if ok {
                sample.latencies.push(t.elapsed().as_micros() as u64);
            } else {
                sample.failures += 1;
            }
        }
        if !ok {
            break;
        }
    }
    sample
}
