//! boltd: a Bolt graph database server whose TLS runs on OpenSSL.
//!
//! # Layout
//!
//! * [`value`]: the value model shared by the engine and the Bolt layer.
//! * [`engine`]: the `QueryEngine` trait and the embedded in-memory engine.

pub mod engine;
pub mod value;
