//! An established TLS connection, as the Bolt session reads and writes it (and the load
//! generator, `boltd bench`, on its side, so that its own overhead stays out of the figures).
//!
//! It adds two things to `tokio_openssl::SslStream`.
//!
//! Idle connections give their record buffers back. OpenSSL's `SSL_MODE_RELEASE_BUFFERS` does
//! that after every record, which costs two allocations of about 17 KiB per round trip (3% of a
//! TLS round trip's CPU); here the buffers are freed (`SSL_free_buffers`) once a connection has
//! moved no byte for [`IDLE`], so a busy connection keeps them and a pool of idle ones holds
//! about 34 KiB less each.
//!
//! A read that cannot produce anything is not handed to OpenSSL. After each request the session reads again, and that read almost
//! always finds nothing; through OpenSSL it costs a pass through the record layer, the BIO and
//! the error queue (about a thousand instructions on OpenSSL 3.0) only to report "want read".
//! Here it costs a look at two flags: OpenSSL holds no byte, decrypted or not
//! (`SSL_has_pending`), and the socket has not been readable since it last ran dry.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_openssl::SslStream;

// In libssl since 1.1.0; openssl-sys does not declare them.
extern "C" {
    fn SSL_free_buffers(s: *mut openssl_sys::SSL) -> libc::c_int;
    fn SSL_has_pending(s: *const openssl_sys::SSL) -> libc::c_int;
}

/// How long a connection moves no byte before its record buffers are freed.
pub const IDLE: Duration = Duration::from_secs(1);

/// The encrypted stream of one connection.
pub struct TlsStream {
    inner: SslStream<TcpStream>,
    /// Fires [`IDLE`] after it was armed; armed while OpenSSL may hold buffers.
    idle: Pin<Box<Sleep>>,
    armed: bool,
    /// Bytes moved since the timer was armed: the connection was not idle after all.
    active: bool,
    /// OpenSSL may hold record buffers (anything was read or written since they were freed).
    holding: bool,
}

impl TlsStream {
    /// Wraps an established stream; must be called inside the runtime (it makes a timer).
    pub fn new(stream: SslStream<TcpStream>) -> Self {
        TlsStream {
            inner: stream,
            idle: Box::pin(tokio::time::sleep(IDLE)),
            armed: false,
            active: false,
            holding: true,
        }
    }

    pub fn ssl(&self) -> &openssl::ssl::SslRef {
        self.inner.ssl()
    }

    /// Called when a read found nothing: arms the idle timer, or, when it has fired with no byte
    /// moved since, frees the buffers. Polling the timer registers the task to be woken for it.
    fn watch_idle(&mut self, cx: &mut Context<'_>) {
        if !self.holding {
            return;
        }
        if !self.armed {
            self.idle.as_mut().reset(Instant::now() + IDLE);
            self.armed = true;
            self.active = false;
        }
        while self.idle.as_mut().poll(cx).is_ready() {
            if self.active {
                self.idle.as_mut().reset(Instant::now() + IDLE);
                self.active = false;
                continue;
            }
            self.armed = false;
            self.holding = !self.free_buffers();
            return;
        }
    }

    /// `SSL_free_buffers`: frees both record buffers unless they hold data; true if freed.
    #[allow(unsafe_code)]
    fn free_buffers(&mut self) -> bool {
        use foreign_types::ForeignTypeRef;
        // SAFETY: the pointer is this stream's live SSL, used for this call only, while no read
        // or write is in progress on it (both go through `&mut self`); OpenSSL refuses when a
        // buffer holds unread or unsent data.
        unsafe { SSL_free_buffers(self.inner.ssl().as_ptr()) == 1 }
    }

    fn moved(&mut self) {
        self.active = true;
        self.holding = true;
    }

    /// Whether OpenSSL buffers anything not yet read: decrypted bytes, or records read ahead.
    #[allow(unsafe_code)]
    fn has_pending(&self) -> bool {
        use foreign_types::ForeignTypeRef;
        // SAFETY: the pointer is this stream's live SSL, borrowed for the call only, and the
        // function only reads its buffers' state.
        unsafe { SSL_has_pending(self.inner.ssl().as_ptr()) != 0 }
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Registers for readiness when it returns Pending, so the task wakes when bytes come.
        let result = if !this.has_pending() && this.inner.get_ref().poll_read_ready(cx).is_pending()
        {
            Poll::Pending
        } else {
            Pin::new(&mut this.inner).poll_read(cx, buf)
        };
        match result {
            Poll::Pending => this.watch_idle(cx),
            Poll::Ready(Ok(())) => this.moved(),
            Poll::Ready(Err(_)) => {}
        }
        result
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(_)) = result {
            this.moved();
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ssl::{Ssl, SslConnector, SslMethod, SslVerifyMode};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A real TLS connection over loopback: the server side wrapped, the client side bare.
    async fn pair() -> (TlsStream, SslStream<TcpStream>) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ssl");
        let settings =
            super::super::TlsSettings::new(dir.join("server.pem"), dir.join("server.key"));
        let context = super::super::acceptor::build(&settings).unwrap().context;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
            b.set_verify(SslVerifyMode::NONE);
            let ssl = b
                .build()
                .configure()
                .unwrap()
                .into_ssl("localhost")
                .unwrap();
            let tcp = TcpStream::connect(addr).await.unwrap();
            let mut s = SslStream::new(ssl, tcp).unwrap();
            Pin::new(&mut s).connect().await.unwrap();
            s
        });
        let (tcp, _) = listener.accept().await.unwrap();
        let mut server = SslStream::new(Ssl::new(&context).unwrap(), tcp).unwrap();
        Pin::new(&mut server).accept().await.unwrap();
        (TlsStream::new(server), client.await.unwrap())
    }

    async fn echo_once(server: &mut TlsStream, client: &mut SslStream<TcpStream>, text: &[u8]) {
        client.write_all(text).await.unwrap();
        let mut buf = vec![0u8; text.len()];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, text);
        server.write_all(&buf).await.unwrap();
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, text);
    }

    #[tokio::test]
    async fn idle_connections_free_their_buffers_and_keep_working() {
        let (mut server, mut client) = pair().await;
        echo_once(&mut server, &mut client, b"hello").await;
        assert!(server.holding);
        // Waiting for bytes that do not come: after IDLE the buffers go.
        let mut buf = [0u8; 8];
        let waited = tokio::time::timeout(IDLE * 2, server.read(&mut buf)).await;
        assert!(waited.is_err(), "read something from a silent client");
        assert!(
            !server.holding,
            "the buffers were kept on an idle connection"
        );
        echo_once(&mut server, &mut client, b"after the release").await;
        assert!(server.holding);
    }

    #[tokio::test]
    async fn a_busy_connection_keeps_its_buffers() {
        let (mut server, mut client) = pair().await;
        let until = Instant::now() + IDLE * 2;
        while Instant::now() < until {
            echo_once(&mut server, &mut client, b"busy").await;
            // Let reads find nothing now and then, so the idle timer runs.
            let mut buf = [0u8; 4];
            let _ = tokio::time::timeout(IDLE / 4, server.read(&mut buf)).await;
            assert!(server.holding, "freed while in use");
        }
    }

    #[tokio::test]
    async fn records_read_ahead_are_not_left_behind() {
        let (mut server, mut client) = pair().await;
        // Two records in one segment: the second sits decrypted-or-not inside OpenSSL while the
        // socket has nothing more, which the readiness shortcut must not mistake for idle.
        client.write_all(b"one").await.unwrap();
        client.write_all(b"two").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut buf = [0u8; 3];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"one");
        let second =
            tokio::time::timeout(Duration::from_secs(2), server.read_exact(&mut buf)).await;
        assert!(second.is_ok(), "the second record was stranded");
        assert_eq!(&buf, b"two");
    }
}
