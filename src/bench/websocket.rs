//! `--websocket`: the bench's Bolt sessions run over WebSocket as a browser's do, `ws://` on a
//! plaintext port and `wss://` (inside the TLS `connect` already did) with `--tls`, so that
//! `roundtrip` can set the cost of the framing against plain TLS. The byte-stream adapter is the
//! server's own (`bolt::websocket`), in the client role.

use slog::{o, Discard, Logger};

use crate::bolt::client::Stream;
use crate::bolt::websocket;

use super::{BenchArgs, Error};

/// The upgrade on a connection `connect::open` made.
pub(super) async fn upgrade(
    stream: Box<dyn Stream>,
    args: &BenchArgs,
) -> Result<Box<dyn Stream>, Error> {
    let scheme = if args.tls { "wss" } else { "ws" };
    let url = format!("{scheme}://{}/", args.addr);
    let ws = websocket::connect(stream, &url, Logger::root(Discard, o!()))
        .await
        .map_err(|e| format!("WebSocket upgrade to {url} failed: {e}"))?;
    Ok(Box::new(ws))
}
