//! `reload`: certificate reloads under load. `--concurrency` sessions run round trips and four
//! tasks keep opening new connections while an admin session swaps the served certificate and
//! key between `--pair-a` and `--pair-b` and runs `RELOAD BOLT_SERVER TLS` `--reloads` times;
//! the report is the reloads' latency and how many queries and handshakes failed meanwhile.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::connect::{self, connector, session};
use super::report::report;
use super::sample::Sample;
use super::{BenchArgs, Error};

pub(super) async fn run(args: &Arc<BenchArgs>) -> Result<String, Error> {
    let (target, a, b) = (&args.target, &args.pair_a, &args.pair_b);
    if target.len() != 2 || a.len() != 2 || b.len() != 2 {
        return Err("reload needs --target CERT KEY --pair-a CERT KEY --pair-b CERT KEY".into());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let queries_failed = Arc::new(AtomicU64::new(0));
    let queries_ok = Arc::new(AtomicU64::new(0));
    let handshakes_failed = Arc::new(AtomicU64::new(0));
    let handshakes_ok = Arc::new(AtomicU64::new(0));
    let connector = Arc::new(connector(args)?);
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (args, connector, stop, ok, failed) = (
            Arc::clone(args),
            Arc::clone(&connector),
            Arc::clone(&stop),
            Arc::clone(&queries_ok),
            Arc::clone(&queries_failed),
        );
        tasks.push(tokio::spawn(async move {
            let Ok(mut bolt) = session(&args, &connector).await else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            while !stop.load(Ordering::Relaxed) {
                match connect::query(&mut bolt, "RETURN 1").await {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                };
            }
        }));
    }
    // New connections keep arriving throughout.
    for _ in 0..4 {
        let (args, connector, stop, ok, failed) = (
            Arc::clone(args),
            Arc::clone(&connector),
            Arc::clone(&stop),
            Arc::clone(&handshakes_ok),
            Arc::clone(&handshakes_failed),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let attempt = async {
                    let mut bolt = session(&args, &connector).await?;
                    connect::query(&mut bolt, "RETURN 1").await?;
                    Ok::<_, Error>(())
                };
                match attempt.await {
                    Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let mut admin = session(args, &connector).await?;
    let mut sample = Sample::default();
    for k in 0..args.reloads {
        let pair = if k % 2 == 0 { b } else { a };
        std::fs::copy(&pair[0], &target[0])?;
        std::fs::copy(&pair[1], &target[1])?;
        let t = Instant::now();
        match connect::query(&mut admin, "RELOAD BOLT_SERVER TLS").await {
            Ok(_) => sample.latencies.push(t.elapsed().as_micros() as u64),
            Err(_) => sample.failures += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let extra = vec![
        (
            "queries_ok".to_owned(),
            queries_ok.load(Ordering::Relaxed) as f64,
        ),
        (
            "queries_failed".to_owned(),
            queries_failed.load(Ordering::Relaxed) as f64,
        ),
        (
            "handshakes_ok".to_owned(),
            handshakes_ok.load(Ordering::Relaxed) as f64,
        ),
        (
            "handshakes_failed".to_owned(),
            handshakes_failed.load(Ordering::Relaxed) as f64,
        ),
    ];
    let seconds = sample.latencies.iter().sum::<u64>() as f64 / 1e6;
    Ok(report(args, &sample, seconds, &extra))
}
