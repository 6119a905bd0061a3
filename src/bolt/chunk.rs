//! Bolt's chunked framing.
//!
//! A message travels as chunks of `u16 BE size` + bytes and ends with an empty chunk (`00 00`). An
//! empty chunk between messages is a NOOP keep-alive (Bolt 4.1+) and is skipped. Reassembly is
//! bounded: a message larger than the caller's limit is refused as soon as its size passes the
//! limit, so one client can never make the server buffer more than `limit + 64 KiB`.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest chunk payload (the size field is 16 bits).
pub const MAX_CHUNK: usize = 65_535;
/// How much is read from the socket at once.
const READ_BUFFER: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("connection closed in the middle of a message")]
    UnexpectedEof,
    #[error("message larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
}

/// How a transport under the chunking (the WebSocket adapter, `websocket.rs`) says that it
/// refused a message for its size: an I/O error carrying this, which the reader turns into
/// [`ChunkError::TooLarge`], so the session answers it exactly as it answers an oversized chunked
/// message on a plain socket.
#[derive(Debug, thiserror::Error)]
#[error("message larger than the limit of {limit} bytes")]
pub struct Oversized {
    pub limit: usize,
}

impl ChunkError {
    fn from_io(e: std::io::Error) -> Self {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Oversized>())
        {
            Some(Oversized { limit }) => ChunkError::TooLarge { limit: *limit },
            None => ChunkError::Io(e),
        }
    }
}

/// Reassembles messages from a byte stream.
pub struct ChunkReader<R> {
    inner: R,
    /// Bytes read from the socket but not yet consumed.
    buf: Vec<u8>,
    /// Start of the unconsumed part of `buf`.
    pos: usize,
}

impl<R: AsyncRead + Unpin> ChunkReader<R> {
    pub fn new(inner: R) -> Self {
        ChunkReader {
            inner,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Whether a whole message is already buffered, so the caller can answer pipelined requests
    /// in one write instead of flushing after each. Only a complete message counts: waiting for
    /// the rest of a partial one while holding replies back could stall a client that waits for
    /// those replies.
    pub fn has_complete_message(&self) -> bool {
        let pending = &self.buf[self.pos..];
        let mut at = 0;
        let mut started = false;
        while let Some(header) = pending.get(at..at + 2) {
            let size = usize::from(u16::from_be_bytes([header[0], header[1]]));
            at += 2;
            if size == 0 {
                if started {
                    return true;
                }
                continue;
            }
            started = true;
            at += size;
        }
        false
    }

    /// Reads the next message. `Ok(None)` is a clean end of stream between messages.
    pub async fn read_message(&mut self, max_size: usize) -> Result<Option<Vec<u8>>, ChunkError> {
        let mut message: Vec<u8> = Vec::new();
        let mut started = false;
        loop {
            let header = match self.take(2, started).await? {
                Some(h) => u16::from_be_bytes([h[0], h[1]]) as usize,
                None => return Ok(None),
            };
            if header == 0 {
                if started {
                    self.consume_taken();
                    return Ok(Some(message));
                }
                // A NOOP between messages.
                continue;
            }
            started = true;
            if message.len() + header > max_size {
                return Err(ChunkError::TooLarge { limit: max_size });
            }
            let body = self
                .take(header, true)
                .await?
                .ok_or(ChunkError::UnexpectedEof)?;
            message.extend_from_slice(body);
            self.consume_taken();
        }
    }

    /// Makes `n` bytes available and returns them (consumed). `Ok(None)` on EOF before any byte
    /// when `mid_message` is false; EOF anywhere else is an error.
    async fn take(&mut self, n: usize, mid_message: bool) -> Result<Option<&[u8]>, ChunkError> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        while self.buf.len() - self.pos < n {
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            let have = self.buf.len();
            // Into the spare capacity, which is never zeroed first: zeroing 16 KiB per message
            // cost as much as a TLS record's encryption.
            self.buf.reserve((n - have).max(READ_BUFFER));
            let got = self
                .inner
                .read_buf(&mut self.buf)
                .await
                .map_err(ChunkError::from_io)?;
            if got == 0 {
                return if have == 0 && !mid_message {
                    Ok(None)
                } else {
                    Err(ChunkError::UnexpectedEof)
                };
            }
        }
        let start = self.pos;
        self.pos += n;
        Ok(Some(&self.buf[start..start + n]))
    }

    /// Releases buffer space once a chunk body has been copied out. When nothing is pending the
    /// buffer itself is freed: most connections sit idle between queries, and 16 KiB each adds up
    /// at ten thousand connections; the next read allocates again.
    fn consume_taken(&mut self) {
        if self.pos == self.buf.len() {
            self.buf = Vec::new();
            self.pos = 0;
        }
    }
}

/// Appends `message` to `out` as chunks of at most [`MAX_CHUNK`] bytes and the end marker. No
/// empty chunk is ever written before a message: mgclient-based clients read one as an empty
/// message and fail.
pub fn write_chunked(out: &mut Vec<u8>, message: &[u8]) {
    out.reserve(message.len() + 2 * (message.len() / MAX_CHUNK + 2));
    for chunk in message.chunks(MAX_CHUNK) {
        out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&[0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn framed(message: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for c in message.chunks(chunk) {
            out.extend_from_slice(&(c.len() as u16).to_be_bytes());
            out.extend_from_slice(c);
        }
        out.extend_from_slice(&[0, 0]);
        out
    }

    #[tokio::test]
    async fn single_and_multi_chunk_messages_with_noops() {
        let big: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
        let mut input = vec![0, 0, 0, 0]; // two NOOPs
        input.extend(framed(b"hello", 100));
        input.extend([0, 0]);
        input.extend(framed(&big, 16384));
        let mut r = ChunkReader::new(&input[..]);
        assert_eq!(r.read_message(1 << 20).await.unwrap().unwrap(), b"hello");
        assert_eq!(r.read_message(1 << 20).await.unwrap().unwrap(), big);
        assert!(r.read_message(1 << 20).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn byte_at_a_time() {
        let (mut tx, rx) = tokio::io::duplex(1);
        let bytes = framed(b"abcdefgh", 3);
        let writer = tokio::spawn(async move {
            for b in bytes {
                tx.write_all(&[b]).await.unwrap();
            }
        });
        let mut r = ChunkReader::new(rx);
        assert_eq!(r.read_message(100).await.unwrap().unwrap(), b"abcdefgh");
        writer.await.unwrap();
        assert!(r.read_message(100).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn eof_inside_a_message_is_an_error() {
        let mut input = framed(b"abc", 10);
        input.truncate(input.len() - 2); // no end marker
        let mut r = ChunkReader::new(&input[..]);
        assert!(matches!(
            r.read_message(100).await,
            Err(ChunkError::UnexpectedEof)
        ));
        let mut r = ChunkReader::new(&[0u8][..]); // half a header
        assert!(matches!(
            r.read_message(100).await,
            Err(ChunkError::UnexpectedEof)
        ));
        let mut r = ChunkReader::new(&[0u8, 5, 1, 2][..]); // short body
        assert!(matches!(
            r.read_message(100).await,
            Err(ChunkError::UnexpectedEof)
        ));
    }

    #[tokio::test]
    async fn size_limit_is_enforced_before_buffering() {
        let input = framed(&[7u8; 1000], 300);
        let mut r = ChunkReader::new(&input[..]);
        assert!(matches!(
            r.read_message(500).await,
            Err(ChunkError::TooLarge { limit: 500 })
        ));
        let mut r = ChunkReader::new(&input[..]);
        assert_eq!(r.read_message(1000).await.unwrap().unwrap().len(), 1000);
    }

    #[tokio::test]
    async fn complete_message_detection() {
        let mut input = framed(b"one", 10);
        input.extend(framed(b"two", 2));
        input.extend([0, 5, 1]); // the start of a third
        let mut r = ChunkReader::new(&input[..]);
        assert!(!r.has_complete_message(), "nothing read yet");
        r.read_message(100).await.unwrap();
        assert!(r.has_complete_message(), "\"two\" is buffered");
        r.read_message(100).await.unwrap();
        assert!(!r.has_complete_message(), "only part of the third");
    }

    /// A transport whose every read fails with the error `make` gives.
    struct Failing(fn() -> std::io::Error);

    impl tokio::io::AsyncRead for Failing {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Err((self.0)()))
        }
    }

    #[tokio::test]
    async fn a_transport_refusal_for_size_is_too_large() {
        let oversized =
            || std::io::Error::new(std::io::ErrorKind::InvalidData, Oversized { limit: 42 });
        let mut r = ChunkReader::new(Failing(oversized));
        assert!(matches!(
            r.read_message(100).await,
            Err(ChunkError::TooLarge { limit: 42 })
        ));
        let mut r = ChunkReader::new(Failing(|| std::io::ErrorKind::BrokenPipe.into()));
        assert!(matches!(r.read_message(100).await, Err(ChunkError::Io(_))));
    }

    #[test]
    fn write_splits_at_the_chunk_limit() {
        for (len, chunks) in [(1usize, 1usize), (65_535, 1), (65_536, 2), (131_071, 3)] {
            let msg = vec![1u8; len];
            let mut out = Vec::new();
            write_chunked(&mut out, &msg);
            assert_eq!(out.len(), len + 2 * chunks + 2, "len {len}");
            assert_eq!(&out[out.len() - 2..], &[0, 0]);
            assert_eq!(&out[..2], &((len.min(65_535)) as u16).to_be_bytes());
        }
    }
}
