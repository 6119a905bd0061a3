//! Where the engine's work runs, decided in one place.
//!
//! Bolt sessions share a few async workers, so CPU-heavy work must not run on them: one bulk load
//! or whole-graph scan would stall every other session on that worker. Two tools, two costs:
//!
//! * [`blocking`] moves a job to tokio's blocking pool and waits for it. It costs a thread hand-off
//!   (a few futex calls, measured at about 40% of lookup throughput when applied to everything), so
//!   it is for jobs that run to completion: updating queries, schema changes, large commits.
//! * [`in_place`] runs a pull that may take long (scans, sorting, grouping, variable-length paths)
//!   under `block_in_place`: the worker hands its other tasks to another worker for the duration,
//!   with no hand-off of the job itself. Index lookups and other light pulls run as they are.
//!
//! Which queries are heavy is the executor's judgement (`exec::heavy`); this module only applies it.

use super::EngineError;

/// Commits and rollbacks touching at most this many records run in place: a small commit (every
/// read-only one) takes microseconds, less than a thread hand-off.
pub const INLINE_WRITES: usize = 1000;

/// Runs `work` where blocking is allowed when `heavy`; in place otherwise. Single-threaded runtimes
/// (unit tests) cannot hand their tasks away, so there it always runs in place.
pub fn in_place<R>(heavy: bool, work: impl FnOnce() -> R) -> R {
    let multi = heavy
        && tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// Runs `work` on the blocking pool and waits for it. `what` names the job if its thread dies.
pub async fn blocking<R: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, EngineError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| EngineError::database(format!("{what} task failed: {e}")))
}

/// Frees a large value (a rolled-back transaction's copy of the graph) off the async workers.
pub fn drop_off_worker<T: Send + 'static>(value: T) {
    drop(tokio::task::spawn_blocking(move || drop(value)));
}
