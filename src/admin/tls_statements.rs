//! The TLS statements: `SHOW BOLT_SERVER TLS INFO`'s row and `RELOAD BOLT_SERVER TLS`.
//!
//! A reload is a message to the TlsManager actor, which alone changes TLS state; this file only
//! asks it and turns the answer into what the client sees.

use slog::{info, Logger};

use crate::engine::EngineError;
use crate::tls::{ReloadTrigger, TlsHandle, TlsStatus};
use crate::value::{Map, TimeZone, Value};

/// Carries out `RELOAD BOLT_SERVER TLS`. On a server started without TLS there is nothing to
/// reload and the statement fails with Memgraph's text.
pub async fn reload(
    tls: Option<&TlsHandle>,
    trigger: ReloadTrigger,
    logger: &Logger,
) -> Result<TlsStatus, EngineError> {
    let tls =
        tls.ok_or_else(|| EngineError::client(crate::tls::TlsError::NotConfigured.to_string()))?;
    info!(logger, "RELOAD BOLT_SERVER TLS requested"; "trigger" => %trigger);
    tls.reload(trigger)
        .await
        .map_err(|e| EngineError::client(e.to_string()))
}

/// The columns of `SHOW BOLT_SERVER TLS INFO`.
pub const TLS_INFO_COLUMNS: [&str; 15] = [
    "enabled",
    "subject",
    "issuer",
    "sans",
    "serial",
    "not_before",
    "not_after",
    "days_left",
    "sha256_fingerprint",
    "key_type",
    "loaded_at",
    "generation",
    "reloads_failed",
    "last_error",
    "client_auth",
];

/// The one row of `SHOW BOLT_SERVER TLS INFO`: what is served to new connections and how reloads
/// went. A server without TLS answers `enabled = false` and nulls.
pub fn tls_info_row(status: Option<&TlsStatus>, now: i64) -> Vec<Value> {
    let Some(status) = status else {
        let mut row = vec![Value::Bool(false)];
        row.resize(TLS_INFO_COLUMNS.len(), Value::Null);
        return row;
    };
    let s = &status.summary;
    let loaded = status
        .loaded_at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    vec![
        Value::Bool(true),
        Value::String(s.subject.clone()),
        Value::String(s.issuer.clone()),
        Value::List(s.sans.iter().cloned().map(Value::String).collect()),
        Value::String(s.serial.clone()),
        utc_datetime(s.not_before, 0),
        utc_datetime(s.not_after, 0),
        Value::Int(s.days_left(now)),
        Value::String(s.sha256_fingerprint.clone()),
        Value::String(s.key_type.clone()),
        utc_datetime(loaded.as_secs() as i64, loaded.subsec_nanos()),
        Value::Int(status.generation as i64),
        Value::Int(status.reloads_failed as i64),
        status.last_error.clone().map_or(Value::Null, Value::String),
        Value::String(status.client_auth.clone()),
    ]
}

fn utc_datetime(seconds: i64, nanos: u32) -> Value {
    Value::DateTime {
        seconds,
        nanos,
        zone: TimeZone::Offset(0),
    }
}

/// The notification Memgraph attaches to a successful reload's summary.
pub fn reload_notification() -> Value {
    let mut n = Map::new();
    n.insert("severity".into(), "INFO".into());
    n.insert("code".into(), "ReloadSSL".into());
    n.insert("title".into(), "Reloaded TLS on Bolt server".into());
    n.insert("description".into(), "".into());
    Value::Map(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_info_on_a_plaintext_server_is_disabled_and_null() {
        let row = tls_info_row(None, 0);
        assert_eq!(row.len(), TLS_INFO_COLUMNS.len());
        assert_eq!(row[0], Value::Bool(false));
        assert!(row[1..].iter().all(Value::is_null));
    }

    #[tokio::test]
    async fn reload_without_tls_uses_memgraphs_text() {
        let err = reload(None, ReloadTrigger::Signal, &crate::logging::discard())
            .await
            .unwrap_err();
        assert_eq!(
            err.message,
            "Unable to reload SSL configuration because key or certificate file aren't set."
        );
    }
}
