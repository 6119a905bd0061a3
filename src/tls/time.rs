//! How TLS code writes a Unix time for people (logs, `boltd cert inspect`, error messages).
//!
//! Its own file so that the acceptor (which names expiry dates in errors) and the manager (which
//! logs them) share it without importing each other.

/// RFC 3339 for logs; the bare number if the time is out of chrono's range.
pub fn format_unix(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| secs.to_string())
}
