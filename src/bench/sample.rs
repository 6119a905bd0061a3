//! What a run records while it measures: latencies and failures ([`Sample`]), and the time window
//! in which they count ([`Window`]), so that the warm-up never leaks into the figures.

use std::time::{Duration, Instant};

/// Latencies in microseconds and a count of failures.
#[derive(Default)]
pub(super) struct Sample {
    pub(super) latencies: Vec<u64>,
    pub(super) failures: u64,
    /// Handshakes the server resumed (resume mode).
    pub(super) resumed: u64,
}

impl Sample {
    /// Adds a task's sample to the run's.
    pub(super) fn absorb(&mut self, other: Sample) {
        self.latencies.extend(other.latencies);
        self.failures += other.failures;
        self.resumed += other.resumed;
    }
}

/// The measured time window.
pub(super) struct Window {
    start: Instant,
    warmup: Duration,
    end: Duration,
}

impl Window {
    /// A window opening `warmup` seconds from now and lasting `duration` seconds.
    pub(super) fn new(warmup: f64, duration: f64) -> Self {
        Window {
            start: Instant::now(),
            warmup: Duration::from_secs_f64(warmup),
            end: Duration::from_secs_f64(warmup + duration),
        }
    }

    /// Whether what happens now counts (the warm-up is over).
    pub(super) fn measuring(&self) -> bool {
        self.start.elapsed() >= self.warmup
    }

    /// Whether the window has closed.
    pub(super) fn done(&self) -> bool {
        self.start.elapsed() >= self.end
    }
}
