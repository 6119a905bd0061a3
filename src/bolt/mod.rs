//! The Bolt protocol: handshake, chunked framing, PackStream, messages, the server's session state
//! machine, Bolt over WebSocket (the upgrade and the byte-stream adapter), and the one Bolt client
//! (used by `boltd bench` and the tests).
//!
//! This layer knows nothing about the graph store, the parser, users or TLS: the session hands
//! each RUN's text to the dispatcher ([`crate::admin`]) and streams the rows it gets back, all in
//! terms of [`crate::value`].

pub mod chunk;
pub mod client;
pub mod handshake;
pub mod message;
pub mod packstream;
pub mod route;
pub mod session;
pub mod target;
pub mod websocket;
