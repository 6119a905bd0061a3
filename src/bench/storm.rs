//! `storm`: opens `--count` connections (TLS, and a Bolt HELLO unless `--no-bolt`) at most
//! `--concurrency` at a time, keeps them all open, and reports how long that took and, given
//! `--server-pid`, how much resident memory the server spent per connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::connect::{connector, open, start};
use super::report::report;
use super::sample::Sample;
use super::{BenchArgs, Error};

/// Resident memory of a process in KiB, from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

pub(super) async fn run(args: &Arc<BenchArgs>) -> Result<String, Error> {
    let connector = Arc::new(connector(args)?);
    let before = args.server_pid.and_then(rss_kib);
    let start_time = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let mut handles = Vec::with_capacity(args.count);
    for _ in 0..args.count {
        let (args, connector, gate) = (Arc::clone(args), Arc::clone(&connector), Arc::clone(&gate));
        handles.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.ok()?;
            let t = Instant::now();
            let io = open(&args, &connector).await.ok()?;
            let kept: Box<dyn std::any::Any + Send> = if args.no_bolt {
                Box::new(io)
            } else {
                Box::new(start(io, &args).await.ok()?)
            };
            Some((t.elapsed().as_micros() as u64, kept))
        }));
    }
    let mut sample = Sample::default();
    let mut kept = Vec::with_capacity(args.count);
    for h in handles {
        match h.await? {
            Some((latency, conn)) => {
                sample.latencies.push(latency);
                kept.push(conn);
            }
            None => sample.failures += 1,
        }
    }
    let took = start_time.elapsed().as_secs_f64();
    // Let the server settle before reading its memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = args.server_pid.and_then(rss_kib);
    let mut extra = vec![
        ("open_connections".to_owned(), kept.len() as f64),
        ("seconds".to_owned(), took),
    ];
    if let (Some(b), Some(a)) = (before, after) {
        let per = (a.saturating_sub(b) as f64 * 1024.0) / kept.len().max(1) as f64;
        extra.push(("server_rss_kib_before".to_owned(), b as f64));
        extra.push(("server_rss_kib_after".to_owned(), a as f64));
        extra.push(("server_bytes_per_connection".to_owned(), per));
    }
    drop(kept);
    Ok(report(args, &sample, took, &extra))
}
