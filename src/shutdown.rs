//! Shutdown signal plumbing.
//!
//! The listener holds the sending side; every connection task holds a [`Shutdown`] and checks it
//! between messages. A `watch` channel is used rather than a broadcast because late subscribers
//! (connections accepted just before shutdown) must still see a signal that was already sent.

use tokio::sync::watch;

/// Tells tasks that the server is stopping.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// The sending side, owned by whoever decides to stop the server.
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

/// A linked trigger and receiver.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger { tx }, Shutdown { rx })
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }
}

impl Shutdown {
    pub fn is_shutdown(&self) -> bool {
        *self.rx.borrow()
    }

    /// Waits until shutdown is signalled (or the trigger is dropped, which also means stop).
    pub async fn recv(&mut self) {
        let _ = self.rx.wait_for(|stop| *stop).await;
    }
}
