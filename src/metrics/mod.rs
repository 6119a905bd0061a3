//! Prometheus metrics: what the server counts.
//!
//! Counting is lock-free (atomics inside prometheus-client), so the hot paths (accept, handshake,
//! query) pay a few atomic increments. This module is only the registry: every layer may count
//! into it, so it must import nothing of those layers (TLS, Bolt, the server). The HTTP(S)
//! endpoint that exposes it lives with the server (`server/metrics_endpoint.rs`).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabel {
    pub limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    pub trigger: &'static str,
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueryLabels {
    pub r#type: &'static str,
    pub result: &'static str,
}

/// The `type` label of `boltd_queries_total`: what kind of statement a query was, `Unknown` for
/// one that failed before its kind was known (a syntax error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryLabel {
    Unknown,
    Read,
    Write,
    ReadWrite,
    Schema,
    Auth,
    Transaction,
    Admin,
}

impl QueryLabel {
    const ALL: [QueryLabel; 8] = [
        QueryLabel::Unknown,
        QueryLabel::Read,
        QueryLabel::Write,
        QueryLabel::ReadWrite,
        QueryLabel::Schema,
        QueryLabel::Auth,
        QueryLabel::Transaction,
        QueryLabel::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueryLabel::Unknown => "unknown",
            QueryLabel::Read => "read",
            QueryLabel::Write => "write",
            QueryLabel::ReadWrite => "read_write",
            QueryLabel::Schema => "schema",
            QueryLabel::Auth => "auth",
            QueryLabel::Transaction => "transaction",
            QueryLabel::Admin => "admin",
        }
    }
}

/// The `result` label of `boltd_queries_total`.
fn query_result(ok: bool) -> &'static str {
    if ok {
        "success"
    } else {
        "failure"
    }
}

/// Every metric the server keeps.
pub struct Metrics {
    registry: Registry,
    pub connections_open: Gauge,
    pub connections: Counter,
    pub tls_handshakes: Family<ResultLabel, Counter>,
    pub tls_handshake_seconds: Histogram,
    pub tls_handshakes_offloaded: Counter,
    pub reloads: Family<ReloadLabels, Counter>,
    pub cert_not_after: Gauge,
    pub cert_generation: Gauge,
    queries: Family<QueryLabels, Counter>,
    /// Every series of `queries`, created at start (so each is exposed from 0) and counted
    /// through here: [`Family::get_or_create`] hashes the labels with SipHash under a lock
    /// shared by every worker, about 400 instructions, 2% of a `RETURN 1` round trip, for what
    /// an index into this array does.
    query_counts: [[Counter; 2]; QueryLabel::ALL.len()],
    pub query_seconds: Histogram,
    pub limits_hit: Family<LimitLabel, Counter>,
    pub logins: Family<ResultLabel, Counter>,
    pub monitoring_clients_open: Gauge,
    pub monitoring_dropped_log_messages: Counter,
    pub websocket_upgrades: Family<ResultLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("boltd");
        let queries = Family::<QueryLabels, Counter>::default();
        let query_counts = QueryLabel::ALL.map(|label| {
            [false, true].map(|ok| {
                queries
                    .get_or_create(&QueryLabels {
                        r#type: label.as_str(),
                        result: query_result(ok),
                    })
                    .clone()
            })
        });
        let m = Metrics {
            connections_open: Gauge::default(),
            connections: Counter::default(),
            tls_handshakes: Family::default(),
            // 100 µs to about 6.5 s.
            tls_handshake_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 17)),
            tls_handshakes_offloaded: Counter::default(),
            reloads: Family::default(),
            cert_not_after: Gauge::default(),
            cert_generation: Gauge::default(),
            queries,
            query_counts,
            query_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 20)),
            limits_hit: Family::default(),
            logins: Family::default(),
            monitoring_clients_open: Gauge::default(),
            monitoring_dropped_log_messages: Counter::default(),
            websocket_upgrades: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "connections_open",
            "Bolt connections open now",
            m.connections_open.clone(),
        );
        registry.register(
            "connections",
            "Bolt connections accepted",
            m.connections.clone(),
        );
        registry.register(
            "tls_handshakes",
            "TLS handshakes by result (ok, failed, timeout)",
            m.tls_handshakes.clone(),
        );
        registry.register(
            "tls_handshake_duration_seconds",
            "TLS handshake duration",
            m.tls_handshake_seconds.clone(),
        );
        registry.register(
            "tls_handshakes_offloaded",
            "TLS handshakes moved to the handshake threads because the certificate key or the \
             key exchange the client asked for is costly (see --bolt-num-workers)",
            m.tls_handshakes_offloaded.clone(),
        );
        registry.register(
            "tls_reloads",
            "TLS reloads by trigger (query, signal, file_watch) and result",
            m.reloads.clone(),
        );
        registry.register(
            "tls_certificate_not_after_timestamp_seconds",
            "Expiry of the served certificate, Unix time",
            m.cert_not_after.clone(),
        );
        registry.register(
            "tls_certificate_generation",
            "Generation of the served certificate (1 at start, +1 per successful reload)",
            m.cert_generation.clone(),
        );
        registry.register("queries", "Queries by type and result", m.queries.clone());
        registry.register(
            "query_duration_seconds",
            "Query duration from RUN to the last record",
            m.query_seconds.clone(),
        );
        registry.register(
            "limits_hit",
            "Connections closed by a limit (tls_handshake_timeout, bolt_handshake_timeout, \
             auth_timeout, inactivity, message_size, max_connections, monitoring_clients, \
             websocket_upgrade_size)",
            m.limits_hit.clone(),
        );
        registry.register(
            "logins",
            "Authentication attempts by result (ok, failed)",
            m.logins.clone(),
        );
        registry.register(
            "monitoring_clients_open",
            "Monitoring WebSocket clients receiving the log stream now",
            m.monitoring_clients_open.clone(),
        );
        registry.register(
            "monitoring_dropped_log_messages",
            "Log records not sent to a monitoring WebSocket client because its queue was full \
             (the client reads too slowly)",
            m.monitoring_dropped_log_messages.clone(),
        );
        registry.register(
            "websocket_upgrades",
            "Bolt connections that asked for a WebSocket upgrade, by result (ok, failed)",
            m.websocket_upgrades.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    pub fn login(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.logins.get_or_create(&ResultLabel { result }).inc();
    }

    pub fn websocket_upgrade(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.websocket_upgrades
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    pub fn limit_hit(&self, limit: &'static str) {
        self.limits_hit.get_or_create(&LimitLabel { limit }).inc();
    }

    pub fn query(&self, label: QueryLabel, ok: bool, elapsed: Duration) {
        self.query_counts[label as usize][usize::from(ok)].inc();
        self.query_seconds.observe(elapsed.as_secs_f64());
    }
}

/// Decrements the open-connections gauge when a connection ends, however it ends.
pub struct OpenConnection(Arc<Metrics>);

impl OpenConnection {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        metrics.connections.inc();
        metrics.connections_open.inc();
        OpenConnection(metrics)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections_open.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(text: &str, label: &str, result: &str) -> Option<u64> {
        let prefix = format!("boltd_queries_total{{type=\"{label}\",result=\"{result}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .map(|n| n.trim().parse().unwrap())
    }

    #[test]
    fn every_query_series_is_exposed_from_zero_and_counts_its_own_queries() {
        let m = Metrics::new();
        for label in QueryLabel::ALL {
            for result in ["success", "failure"] {
                assert_eq!(series(&m.encode(), label.as_str(), result), Some(0));
            }
        }
        m.query(QueryLabel::Read, true, Duration::from_millis(1));
        m.query(QueryLabel::Read, true, Duration::from_millis(1));
        m.query(QueryLabel::Unknown, false, Duration::from_millis(1));
        let text = m.encode();
        assert_eq!(series(&text, "read", "success"), Some(2));
        assert_eq!(series(&text, "read", "failure"), Some(0));
        assert_eq!(series(&text, "unknown", "failure"), Some(1));
        assert_eq!(series(&text, "write", "success"), Some(0));
        assert!(
            text.contains("boltd_query_duration_seconds_count 3"),
            "{text}"
        );
    }
}
