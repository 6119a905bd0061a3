//! A runtime of its own for TLS handshakes.
//!
//! A costly handshake spends milliseconds of CPU in one poll (an RSA 4096 signature is about
//! 3–6 ms), and an async worker cannot be preempted: on the Bolt runtime, every query round trip
//! and every `RELOAD BOLT_SERVER TLS` queued behind that worker would wait for it. Such
//! handshakes (`placement.rs` picks them) therefore run on separate threads, which the operating
//! system time-slices against the Bolt workers; the connection comes back to the Bolt runtime
//! once it is encrypted.

use std::future::Future;
use std::io;

use tokio::runtime::{Builder, Runtime};

/// The handshake runtime. Dropping it stops its threads without waiting, which is allowed from
/// inside async code (dropping a `Runtime` there is not).
#[derive(Debug)]
pub struct HandshakePool {
    runtime: Option<Runtime>,
}

impl HandshakePool {
    /// A pool of `threads` threads (at least one).
    pub fn new(threads: usize) -> io::Result<Self> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("boltd-tls")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()?;
        Ok(HandshakePool {
            runtime: Some(runtime),
        })
    }

    /// Runs `job` on the pool and waits for it; `None` if the pool is shutting down.
    pub async fn run<F>(&self, job: F) -> Option<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.as_ref()?.spawn(job).await.ok()
    }
}

/// How much lower than the Bolt workers handshake threads run (a `nice` increment). Under
/// contention, established sessions and reloads come first and a flood of new connections waits;
/// without contention handshakes get the whole CPU as before.
const NICENESS: libc::c_int = 10;

/// Lowers the calling thread's scheduling priority (Linux applies `setpriority` to one thread
/// when given its id). Failure only costs the preference, so it is ignored.
#[allow(unsafe_code)]
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take no pointers and only affect this thread's niceness.
    unsafe {
        let tid = libc::gettid();
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICENESS);
    }
}

impl Drop for HandshakePool {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_on_its_own_threads_and_drops_inside_async_code() {
        let pool = HandshakePool::new(1).unwrap();
        let name = pool
            .run(async { std::thread::current().name().map(str::to_owned) })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("boltd-tls"));
        drop(pool);
    }
}
