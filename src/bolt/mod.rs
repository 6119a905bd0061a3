//! The Bolt protocol: handshake, chunked framing, PackStream, messages and the session state
//! machine. This layer knows nothing about the graph store; it speaks [`crate::value`] to the
//! engine through the `QueryEngine` trait.

pub mod chunk;
pub mod client;
pub mod handshake;
pub mod message;
pub mod packstream;
pub mod session;
