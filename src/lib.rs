//! boltd: a Bolt graph database server whose TLS runs on OpenSSL.
//!
//! # Layout
//!
//! * [`server`]: the `Listener` (accept loop, shutdown) and the per-connection handler, which runs
//!   the TLS handshake (if configured) and then a Bolt session.
//! * [`tls`]: building OpenSSL acceptors from PEM files ([`tls::acceptor`]) and the `TlsManager`
//!   actor that owns the live one ([`tls::manager`]).
//! * [`bolt`]: handshake, chunking, PackStream, messages and the session state machine.
//! * [`alloc`]: the counting allocator behind `--memory-limit`.
//! * [`admin`]: the server's own statements (`RELOAD BOLT_SERVER TLS`, Cypher `BEGIN`/`COMMIT`/
//!   `ROLLBACK`) and the transaction-state guard.
//! * [`auth`]: users, roles and privileges, persisted in the data directory.
//! * [`engine`]: the `QueryEngine` trait and the embedded in-memory engine.
//! * [`value`]: the value model shared by the engine and the Bolt layer.
//! * [`bench`]: the `boltd bench` load generator.
//! * [`cert`]: the `boltd cert generate|inspect` tools.
//! * [`cli`]: the command line: subcommands, `--config` and the settings' flags.
//! * [`config`]: flags, TOML file and environment, layered with figment.
//! * [`logging`]: the slog root logger.
//! * [`metrics`]: Prometheus counters and the `/metrics` endpoint.
//! * [`shutdown`]: the shutdown signal shared by the listener and connections.

pub mod admin;
pub mod alloc;
pub mod auth;
pub mod bench;
pub mod bolt;
pub mod cert;
pub mod cli;
pub mod config;
pub mod cypher;
pub mod engine;
pub mod logging;
pub mod metrics;
pub mod server;
pub mod shutdown;
pub mod tls;
pub mod value;

/// Every allocation is counted, so that queries can be stopped before the server runs out of
/// memory (see [`alloc`]).
#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;
