//! boltd: a Bolt graph database server whose TLS runs on OpenSSL.
//!
//! # Layout
//!
//! * [`value`]: the value model shared by the engine and the Bolt layer.
//! * [`engine`]: the `QueryEngine` trait and the embedded in-memory engine.
//! * [`config`]: flags, TOML file and environment, layered with figment.
//! * [`logging`]: the slog root logger.
//! * [`tls`]: building OpenSSL acceptors and the `TlsManager` actor that owns the live one.

pub mod config;
pub mod engine;
pub mod logging;
pub mod tls;
pub mod value;
