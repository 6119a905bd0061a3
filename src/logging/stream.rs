//! The log stream: a copy of every record the log keeps, for the monitoring WebSocket's clients
//! (`server/monitoring.rs`), in the JSON shape Memgraph's monitoring server sends.
//!
//! [`StreamDrain`] sits beside the terminal/file drain, behind the same `--log-level` filter, so
//! the stream carries exactly what the log carries. It turns a record into one JSON text once and
//! hands the same `Arc<str>` to every subscriber of the [`LogHub`].
//!
//! Logging must never wait for a client. Each subscriber has a bounded queue; a record that a
//! full queue cannot take is dropped for that subscriber alone and counted (its own count and the
//! `monitoring_dropped_log_messages` metric it was given). With no subscriber, a record costs one
//! relaxed atomic load: nothing is formatted.
//!
//! This module knows nothing of sockets or WebSockets, and must never log (a record about a record
//! would feed itself).

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use slog::{Drain, Level, OwnedKVList, Record, KV};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::LogLevel;

/// Records a subscriber's queue holds before further ones are dropped for it. A record is a few
/// hundred bytes, so a stalled client costs at most a few hundred KiB.
pub const QUEUE_CAPACITY: usize = 1024;

/// Fans records out to the monitoring clients. Cloning is cheap; every clone is the same hub.
#[derive(Clone, Default)]
pub struct LogHub {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// How many subscribers there are, read without the lock before every record so that the
    /// common case (nobody watching) costs nothing. Relaxed is enough: a record logged at the very
    /// moment a client subscribes may or may not reach it, either is fine.
    subscribers: AtomicUsize,
    /// The subscribers' queues. A std mutex, not a Tokio one: it is taken by the logging call on
    /// whatever thread logs (not always inside the runtime), held only for a few non-blocking
    /// `try_send`s, and never across an await.
    queues: Mutex<Vec<Queue>>,
    /// Gives each subscription an identity for its removal.
    next_id: AtomicU64,
}

/// One subscriber, as the hub sees it.
struct Queue {
    id: u64,
    tx: mpsc::Sender<Arc<str>>,
    /// This subscriber's drops, also readable through its [`Subscription`].
    dropped: Arc<AtomicU64>,
    /// The server-wide metric, shared by every subscriber.
    metric: Counter,
}

/// A subscriber's end: records arrive on it until it is dropped, which unsubscribes.
pub struct Subscription {
    id: u64,
    rx: mpsc::Receiver<Arc<str>>,
    dropped: Arc<AtomicU64>,
    hub: Arc<Inner>,
}

impl LogHub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts receiving records, each as Memgraph's JSON text, in a queue of `capacity`; records it
    /// cannot take are counted in `dropped` (and in the subscription's own count).
    pub fn subscribe(&self, capacity: usize, dropped: Counter) -> Subscription {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let own = Arc::new(AtomicU64::new(0));
        let mut queues = self.inner.lock();
        queues.push(Queue {
            id,
            tx,
            dropped: Arc::clone(&own),
            metric: dropped,
        });
        self.inner
            .subscribers
            .store(queues.len(), Ordering::Relaxed);
        drop(queues);
        Subscription {
            id,
            rx,
            dropped: own,
            hub: Arc::clone(&self.inner),
        }
    }

    /// Whether anyone is listening; when not, records are not even formatted.
    pub fn has_subscribers(&self) -> bool {
        self.inner.subscribers.load(Ordering::Relaxed) > 0
    }

    /// Offers `event` to every subscriber without waiting: a full queue loses it (and counts it).
    pub fn publish(&self, event: Arc<str>) {
        let queues = self.inner.lock();
        for queue in queues.iter() {
            match queue.tx.try_send(Arc::clone(&event)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    queue.dropped.fetch_add(1, Ordering::Relaxed);
                    queue.metric.inc();
                }
                // The subscription is being dropped; its Drop removes the queue.
                Err(TrySendError::Closed(_)) => {}
            }
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Queue>> {
        // The list is valid after any panic (pushes and removals are single steps).
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Subscription {
    /// The next record, or `None` if the hub is gone (it never is while the server runs).
    pub async fn recv(&mut self) -> Option<Arc<str>> {
        self.rx.recv().await
    }

    /// A record already queued, without waiting (for writing several at once).
    pub fn try_recv(&mut self) -> Option<Arc<str>> {
        self.rx.try_recv().ok()
    }

    /// Records dropped for this subscriber so far because its queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut queues = self.hub.lock();
        queues.retain(|q| q.id != self.id);
        self.hub.subscribers.store(queues.len(), Ordering::Relaxed);
    }
}

/// The drain that feeds a [`LogHub`]. Put it behind the level filter, beside the log's own drain.
pub struct StreamDrain {
    hub: LogHub,
}

impl StreamDrain {
    pub fn new(hub: LogHub) -> Self {
        StreamDrain { hub }
    }
}

impl Drain for StreamDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record, values: &OwnedKVList) -> Result<(), slog::Never> {
        if !self.hub.has_subscribers() {
            return Ok(());
        }
        let text = message_text(record, values);
        self.hub.publish(event_json(record.level(), &text).into());
        Ok(())
    }
}

/// Memgraph's log event: `{"event": "log", "level": "info", "message": "..."}`, with Memgraph's
/// level names (spdlog's: trace, debug, info, warning, error, critical) and its spacing. Unlike
/// Memgraph, which escapes only quotes and newlines, the message is escaped as JSON requires, so
/// every event parses.
pub fn event_json(level: Level, message: &str) -> String {
    format!(
        "{{\"event\": \"log\", \"level\": \"{}\", \"message\": {}}}",
        LogLevel(level).name(),
        serde_json::Value::from(message)
    )
}

/// The record as one line of text: the message, then its key-values as `key=value` in the order
/// they were written (the record's own first, then the logger's, such as the connection id and
/// peer), logfmt-style.
pub fn message_text(record: &Record, values: &OwnedKVList) -> String {
    let mut out = format!("{}", record.msg());
    // slog hands key-values over last first; each list is put back in written order.
    let mut own = Pairs(Vec::new());
    let _ = record.kv().serialize(record, &mut own);
    let mut context = Pairs(Vec::new());
    let _ = values.serialize(record, &mut context);
    for (key, value) in own.0.iter().rev().chain(context.0.iter().rev()) {
        let plain = !value.is_empty()
            && !value
                .chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '=' || c.is_control());
        // Writing into a String cannot fail.
        if plain {
            let _ = write!(out, " {key}={value}");
        } else {
            let _ = write!(out, " {key}={value:?}");
        }
    }
    out
}

/// Collects a record's key-values as text; a value that is empty or holds a space, a quote or
/// `=` is quoted when written out.
struct Pairs(Vec<(String, String)>);

impl slog::Serializer for Pairs {
    fn emit_arguments(&mut self, key: slog::Key, val: &fmt::Arguments) -> slog::Result {
        self.0.push((key.to_string(), val.to_string()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slog::{o, Logger};

    fn logger(hub: &LogHub) -> Logger {
        Logger::root(StreamDrain::new(hub.clone()).fuse(), o!("server" => "s"))
            .new(o!("conn" => "bolt-7", "peer" => "1.2.3.4:5"))
    }

    #[test]
    fn the_event_is_memgraphs_json_shape_with_key_values_in_the_message() {
        let hub = LogHub::new();
        let mut sub = hub.subscribe(8, Counter::default());
        slog::info!(logger(&hub), "client connected"; "user_agent" => "neo4j-python/6.0", "bolt_version" => "5.4");
        slog::warn!(logger(&hub), "a \"quoted\"\nline"; "path" => "/a b");
        let first = sub.rx.try_recv().unwrap();
        assert_eq!(
            &*first,
            r#"{"event": "log", "level": "info", "message": "client connected user_agent=neo4j-python/6.0 bolt_version=5.4 server=s conn=bolt-7 peer=1.2.3.4:5"}"#
        );
        let second = sub.rx.try_recv().unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&second).unwrap();
        assert_eq!(parsed["event"], "log");
        assert_eq!(parsed["level"], "warning");
        assert_eq!(
            parsed["message"],
            "a \"quoted\"\nline path=\"/a b\" server=s conn=bolt-7 peer=1.2.3.4:5"
        );
    }

    #[test]
    fn every_level_has_memgraphs_name() {
        for (level, name) in [
            (Level::Trace, "trace"),
            (Level::Debug, "debug"),
            (Level::Info, "info"),
            (Level::Warning, "warning"),
            (Level::Error, "error"),
            (Level::Critical, "critical"),
        ] {
            let parsed: serde_json::Value = serde_json::from_str(&event_json(level, "m")).unwrap();
            assert_eq!(parsed["level"], name);
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_for_that_subscriber_only() {
        let hub = LogHub::new();
        let metric = Counter::default();
        let mut slow = hub.subscribe(2, metric.clone());
        let mut fast = hub.subscribe(16, metric.clone());
        let log = logger(&hub);
        for i in 0..5 {
            slog::info!(log, "record"; "i" => i);
        }
        assert_eq!(slow.dropped(), 3);
        assert_eq!(fast.dropped(), 0);
        assert_eq!(metric.get(), 3);
        // The slow one kept the oldest records; the fast one has them all, in order.
        assert!(slow.rx.try_recv().unwrap().contains("i=0"));
        assert!(slow.rx.try_recv().unwrap().contains("i=1"));
        assert!(slow.rx.try_recv().is_err());
        for i in 0..5 {
            assert!(fast.rx.try_recv().unwrap().contains(&format!("i={i}")));
        }
        // Once it has room again, it receives again.
        slog::info!(log, "later");
        assert!(slow.rx.try_recv().unwrap().contains("later"));
    }

    /// Counts how often its value is formatted: the stream must not format without subscribers.
    struct Probe(Arc<AtomicUsize>);

    impl slog::Value for Probe {
        fn serialize(
            &self,
            _: &Record,
            key: slog::Key,
            serializer: &mut dyn slog::Serializer,
        ) -> slog::Result {
            self.0.fetch_add(1, Ordering::Relaxed);
            serializer.emit_str(key, "probe")
        }
    }

    #[test]
    fn without_subscribers_nothing_is_formatted_and_unsubscribing_stops_the_work() {
        let hub = LogHub::new();
        let log = logger(&hub);
        let formatted = Arc::new(AtomicUsize::new(0));
        slog::info!(log, "nobody listens"; "probe" => Probe(Arc::clone(&formatted)));
        assert_eq!(formatted.load(Ordering::Relaxed), 0);
        assert!(!hub.has_subscribers());

        let sub = hub.subscribe(4, Counter::default());
        slog::info!(log, "one listens"; "probe" => Probe(Arc::clone(&formatted)));
        assert_eq!(formatted.load(Ordering::Relaxed), 1);

        drop(sub);
        assert!(!hub.has_subscribers());
        slog::info!(log, "gone again"; "probe" => Probe(Arc::clone(&formatted)));
        assert_eq!(formatted.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn values_that_need_it_are_quoted() {
        let hub = LogHub::new();
        let mut sub = hub.subscribe(4, Counter::default());
        let log = Logger::root(StreamDrain::new(hub.clone()).fuse(), o!());
        slog::info!(log, "m"; "empty" => "", "eq" => "a=b", "n" => 3);
        let parsed: serde_json::Value = serde_json::from_str(&sub.rx.try_recv().unwrap()).unwrap();
        assert_eq!(parsed["message"], r#"m empty="" eq="a=b" n=3"#);
    }
}
