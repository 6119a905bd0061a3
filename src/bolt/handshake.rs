//! The Bolt handshake: the magic preamble and version negotiation.
//!
//! The client sends `60 60 B0 17` and four 4-byte proposals `[00, range, minor, major]`, often in
//! several TCP segments (mgclient makes five writes), so exactly 20 bytes are read before anything
//! is decided. The first proposal, in the client's order, that names a supported version wins;
//! within a range the highest supported minor is taken. The manifest slot `00 00 01 FF` (Bolt 5.7+
//! drivers) is skipped, which every driver studied handles by falling back to its other slots.

use std::fmt;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The Bolt preamble.
pub const MAGIC: [u8; 4] = [0x60, 0x60, 0xB0, 0x17];

/// A negotiated protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
}

impl Version {
    pub const fn new(major: u8, minor: u8) -> Self {
        Version { major, minor }
    }

    /// Whether `HELLO` carries no credentials and a `LOGON` must follow (Bolt 5.1+).
    pub fn has_logon(self) -> bool {
        self >= Version::new(5, 1)
    }

    /// Whether empty chunks may arrive as keep-alives (Bolt 4.1+).
    pub fn allows_noop(self) -> bool {
        self >= Version::new(4, 1)
    }

    /// Whether `ROUTE` exists (Bolt 4.3+).
    pub fn has_route(self) -> bool {
        self >= Version::new(4, 3)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The versions boltd speaks, covering pymgclient/mgclient (4.4, 4.3, 4.1), neo4rs (4.0, 4.1) and
/// the neo4j 5.x/6.x drivers (4.4 and 5.x).
pub const SUPPORTED: &[Version] = &[
    Version::new(4, 0),
    Version::new(4, 1),
    Version::new(4, 2),
    Version::new(4, 3),
    Version::new(4, 4),
    Version::new(5, 0),
    Version::new(5, 1),
    Version::new(5, 2),
    Version::new(5, 3),
    Version::new(5, 4),
];

/// Why a handshake did not produce a version.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The first four bytes were not the Bolt magic: not a Bolt client (a TLS ClientHello on a
    /// plaintext port, an HTTP request, a port scanner).
    #[error("not a Bolt client: expected the preamble 60 60 B0 17, got {0}")]
    BadMagic(String),
    /// A Bolt client none of whose proposals we speak; it has been told with `00 00 00 00`.
    #[error("no common Bolt version: the client offered {0}")]
    NoCommonVersion(String),
    #[error("connection closed during the Bolt handshake")]
    Eof,
    /// The peer closed without sending a single byte: a health check, a port probe, or a TLS
    /// client that only wanted the handshake. Not worth an info line per connection.
    #[error("connection closed before the Bolt handshake began")]
    ClosedSilently,
    #[error("I/O error during the Bolt handshake: {0}")]
    Io(std::io::Error),
}

/// Reads the preamble and proposals, answers with the chosen version (or `00 00 00 00`), and
/// returns the version.
pub async fn negotiate<S>(stream: &mut S, newest: Version) -> Result<Version, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let preamble = read_preamble(stream).await?;
    negotiate_after(stream, preamble, newest).await
}

/// Reads the first four bytes, which a caller may look at before deciding what the connection
/// speaks (the Bolt port also takes WebSocket upgrades, which start with `GET `).
pub async fn read_preamble<S>(stream: &mut S) -> Result<[u8; 4], HandshakeError>
where
    S: AsyncRead + Unpin,
{
    let mut preamble = [0u8; 4];
    let first = stream
        .read(&mut preamble)
        .await
        .map_err(HandshakeError::Io)?;
    if first == 0 {
        return Err(HandshakeError::ClosedSilently);
    }
    read_exact(stream, &mut preamble[first..]).await?;
    Ok(preamble)
}

/// [`negotiate`] once the first four bytes have been read (by [`read_preamble`]).
pub async fn negotiate_after<S>(
    stream: &mut S,
    preamble: [u8; 4],
    newest: Version,
) -> Result<Version, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if preamble != MAGIC {
        return Err(HandshakeError::BadMagic(hex(&preamble)));
    }
    let mut proposals = [0u8; 16];
    read_exact(stream, &mut proposals).await?;
    match choose(&proposals, newest) {
        Some(v) => {
            stream
                .write_all(&[0, 0, v.minor, v.major])
                .await
                .map_err(HandshakeError::Io)?;
            stream.flush().await.map_err(HandshakeError::Io)?;
            Ok(v)
        }
        None => {
            // Tell the client plainly, then let the caller close.
            let _ = stream.write_all(&[0, 0, 0, 0]).await;
            let _ = stream.flush().await;
            Err(HandshakeError::NoCommonVersion(describe(&proposals)))
        }
    }
}

async fn read_exact<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
) -> Result<(), HandshakeError> {
    match stream.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(HandshakeError::Eof),
        Err(e) => Err(HandshakeError::Io(e)),
    }
}

/// The newest version boltd speaks.
pub const NEWEST: Version = Version::new(5, 4);

/// Picks a version no newer than `newest` from the 16 proposal bytes, in the client's order of
/// preference.
pub fn choose(proposals: &[u8; 16], newest: Version) -> Option<Version> {
    proposals.chunks_exact(4).find_map(|p| {
        let (range, minor, major) = (p[1], p[2], p[3]);
        let lowest = minor.saturating_sub(range);
        (lowest..=minor)
            .rev()
            .map(|m| Version::new(major, m))
            .find(|v| SUPPORTED.contains(v) && *v <= newest)
    })
}

fn describe(proposals: &[u8; 16]) -> String {
    proposals
        .chunks_exact(4)
        .filter(|p| p != &[0, 0, 0, 0])
        .map(|p| {
            if p[1] == 0 {
                format!("{}.{}", p[3], p[2])
            } else {
                format!("{}.{}-{}.{}", p[3], p[2].saturating_sub(p[1]), p[3], p[2])
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(slots: [[u8; 4]; 4]) -> [u8; 16] {
        let mut out = [0u8; 16];
        for (i, s) in slots.iter().enumerate() {
            out[i * 4..i * 4 + 4].copy_from_slice(s);
        }
        out
    }

    #[test]
    fn pymgclient_offer_gets_4_4() {
        let p = offer([[0, 0, 4, 4], [0, 0, 3, 4], [0, 0, 1, 4], [0, 0, 0, 1]]);
        assert_eq!(choose(&p, NEWEST), Some(Version::new(4, 4)));
    }

    #[test]
    fn neo4j_offer_skips_manifest_and_takes_highest_in_range() {
        let p = offer([[0, 0, 1, 0xFF], [0, 8, 8, 5], [0, 2, 4, 4], [0, 0, 0, 3]]);
        assert_eq!(choose(&p, NEWEST), Some(Version::new(5, 4)));
    }

    #[test]
    fn client_order_wins_over_newest() {
        let p = offer([[0, 0, 3, 4], [0, 0, 4, 5], [0; 4], [0; 4]]);
        assert_eq!(choose(&p, NEWEST), Some(Version::new(4, 3)));
    }

    #[test]
    fn nothing_supported() {
        let p = offer([[0, 0, 0, 1], [0, 0, 0, 3], [0, 0, 0, 6], [0; 4]]);
        assert_eq!(choose(&p, NEWEST), None);
        assert_eq!(describe(&p), "1.0, 3.0, 6.0");
    }

    #[test]
    fn newest_caps_the_choice() {
        let p = offer([[0, 0, 1, 0xFF], [0, 8, 8, 5], [0, 2, 4, 4], [0, 0, 0, 3]]);
        assert_eq!(choose(&p, Version::new(4, 4)), Some(Version::new(4, 4)));
        assert_eq!(choose(&p, Version::new(5, 2)), Some(Version::new(5, 2)));
    }

    #[test]
    fn range_underflow_is_safe() {
        let p = offer([[0, 255, 2, 4], [0; 4], [0; 4], [0; 4]]);
        assert_eq!(choose(&p, NEWEST), Some(Version::new(4, 2)));
    }
}
