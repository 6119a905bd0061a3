//! Periodic snapshots (`--storage-snapshot-interval-sec`), on a thread of their own.
//!
//! A snapshot is written from an O(1) clone of the visible graph, so commits and reads go on while
//! it is written; the thread only sleeps between them. A failed snapshot is logged and the older
//! ones are kept. Stopping wakes the thread at once rather than waiting out the interval.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use slog::{error, Logger};

use super::store::Store;

pub struct Snapshotter {
    stop: Mutex<Option<mpsc::Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Snapshotter {
    pub fn start(store: Arc<Store>, every: Duration, logger: Logger) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("boltd-snapshot".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    if let Err(e) = store.write_snapshot() {
                        error!(logger, "periodic snapshot failed; the older snapshots are kept";
                            "error" => %e);
                    }
                }
            })?;
        Ok(Snapshotter {
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stops the thread, waiting for a snapshot in progress to finish.
    pub fn stop(&self) {
        drop(self.stop.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Snapshotter {
    fn drop(&mut self) {
        self.stop();
    }
}
