//! TLS on OpenSSL: building acceptors from PEM files and the actor that owns the current one.
//!
//! [`acceptor`] turns a certificate and key file into a validated `SslAcceptor`; [`manager`] holds
//! the live acceptor and swaps it on reload; [`accept`](mod@accept) is the one server-side handshake, which
//! every listener uses; [`placement`] decides per ClientHello whether it runs where it was accepted
//! or on the handshake threads ([`pool`]); [`stream`] is the established connection the Bolt
//! session uses. Nothing outside the manager ever holds a mutable
//! acceptor: connections get an `Arc` snapshot at handshake time and keep it for their life.

pub mod accept;
pub mod acceptor;
pub mod manager;
pub mod placement;
pub mod pool;
pub mod stream;
pub mod time;
pub mod watch;

pub use accept::{accept, AcceptError, Handshake, Handshakes};
pub use acceptor::{CertSummary, ClientAuth, LoadedAcceptor, MinVersion, TlsSettings};
pub use manager::{ReloadTrigger, TlsHandle, TlsManager, TlsStatus};
pub use stream::TlsStream;

use std::path::PathBuf;

/// Why a certificate/key pair could not be turned into an acceptor. The messages keep Memgraph's
/// prefixes (`Couldn't load server certificate from file <path>. Error: `), which scripts match,
/// and put OpenSSL's own reason after them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("Couldn't load server certificate from file {}. Error: {reason}", .path.display())]
    Certificate { path: PathBuf, reason: String },
    #[error("Couldn't load server private key from file {}. Error: {reason}", .path.display())]
    PrivateKey { path: PathBuf, reason: String },
    #[error("Couldn't set up TLS with certificate {} and key {}. Error: {reason}", .cert.display(), .key.display())]
    Context {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("Couldn't load CA certificates from file {}. Error: {reason}", .path.display())]
    CaFile { path: PathBuf, reason: String },
    #[error("{0}")]
    Policy(String),
    #[error("Unable to reload SSL configuration because key or certificate file aren't set.")]
    NotConfigured,
    #[error("the TLS manager has stopped (the server is shutting down)")]
    ManagerGone,
}
