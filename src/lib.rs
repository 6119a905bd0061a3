//! boltd: a Bolt graph database server whose TLS runs on OpenSSL.
//!
//! # Layout
//!
//! From the socket down to the graph, each room doing one job:
//!
//! * [`server`]: the listener (accept loop, connection limit, shutdown) in `listener.rs`, one
//!   connection's handler (TLS handshake if configured, WebSocket upgrade if asked, Bolt
//!   handshake, session) in `connection.rs`, and the `/metrics` HTTP(S) endpoint in
//!   `metrics_endpoint.rs`.
//! * [`tls`]: building OpenSSL acceptors from PEM files ([`tls::acceptor`]), the `TlsManager`
//!   actor that owns the live one ([`tls::manager`]), the one server-side handshake used by every
//!   port ([`tls::accept()`]), where each handshake runs ([`tls::placement`]), the handshake
//!   threads ([`tls::pool`]), the established stream ([`tls::stream`]) and the file watcher.
//! * [`bolt`]: handshake, chunking, PackStream, messages, the session state machine (Bolt only:
//!   phases, FAILED, open results and streaming), Bolt over WebSocket as a byte stream
//!   ([`bolt::websocket`]) and the one Bolt client ([`bolt::client`]).
//! * [`admin`]: the dispatcher. Each connection's `Conversation` parses a RUN's text once, applies
//!   the transaction-state guard and the privilege checks, and routes the statement to the engine,
//!   the users or the TLS manager; Bolt and Cypher `BEGIN`/`COMMIT`/`ROLLBACK` share it.
//! * [`cypher`]: the statement front end: lexer, parser and AST for every statement the server
//!   accepts (queries, schema, users, transaction words, server statements), and the semantic
//!   pass that refuses a wrong query (unbound or rebound variables, misplaced aggregation, ...)
//!   before anything runs.
//! * [`engine`]: the `QueryEngine` and `Transaction` traits and the embedded in-memory engine.
//! * [`storage`]: durability: the write-ahead log (group commit), snapshots, recovery and the
//!   data-directory lock. It knows nothing of the graph's in-memory form; `engine/persist.rs`
//!   translates.
//! * [`auth`]: users, roles and privileges, persisted in the data directory.
//! * [`value`]: the value model shared by the engine and the Bolt layer.
//! * [`metrics`]: the Prometheus registry (its endpoint is the server's).
//! * [`cli`]: the command line: subcommands, `--config`, `--flag-file` and the settings' flags.
//! * [`config`]: the settings, each declared once, layered with figment (defaults < Memgraph's
//!   flag file < TOML file < `BOLTD_*` environment < flags); `config/flag_file.rs` reads
//!   memgraph.conf, `config/memgraph_flags.rs` lists Memgraph's flags and what each sets.
//! * [`bench`](mod@bench): the `boltd bench` load generator.
//! * [`cert`]: the `boltd cert generate|inspect` tools.
//! * [`alloc`]: the counting allocator behind `--memory-limit`.
//! * [`logging`]: the slog root logger.
//! * [`shutdown`]: the shutdown signal shared by the listener and connections.
//!
//! Imports run downwards only: `engine`, `cypher` and `storage` know nothing of `bolt`, `tls`,
//! `admin` or `server`; `storage` knows nothing of the engine; and `bolt` knows nothing of the
//! parser, the engine, users or TLS.

// `unsafe` is allowed only where it is needed, each site with its SAFETY comment: the counting
// allocator, the handshake threads' priority, and TLS session resumption in the bench.
#![deny(unsafe_code)]

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
pub mod property_keys;
pub mod server;
pub mod shutdown;
pub mod storage;
pub mod tls;
pub mod value;

/// Every allocation is counted, so that queries can be stopped before the server runs out of
/// memory (see [`alloc`]).
#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;
