//! `commits`: small write transactions back to back, the workload a write-ahead log slows down.
//! Each of `--concurrency` sessions runs the auto-commit `CREATE (:C {i: $i})` until the window
//! closes; every one is a commit the server logs (and, by default, syncs) before it answers, so
//! operations per second is commits per second and the latency is the commit's.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use openssl::ssl::SslConnector;

use crate::value::{Map, Value};

use super::sample::{Sample, Window};
use super::timed;
use super::BenchArgs;

/// The next `$i`, shared by the run's tasks so that every node is distinct (a parameter, so the
/// server parses one query text however many commits there are).
static NEXT: AtomicI64 = AtomicI64::new(1);

/// One task of `commits`: a Bolt session creating one node per transaction until the window
/// closes or a commit fails.
pub(super) async fn commit_task(
    args: Arc<BenchArgs>,
    connector: Arc<SslConnector>,
    window: Arc<Window>,
) -> Sample {
    timed::query_loop(args, connector, window, "CREATE (:C {i: $i})", || {
        let mut params = Map::new();
        params.insert("i".into(), Value::Int(NEXT.fetch_add(1, Ordering::Relaxed)));
        params
    })
    .await
}
