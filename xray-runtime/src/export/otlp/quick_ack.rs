//! The gRPC connection's TCP stream, which acknowledges what it receives at
//! once (Linux's `TCP_QUICKACK`, set again after every read).
//!
//! Why: many collectors leave Nagle's algorithm on for the connections they
//! accept. An HTTP/2 server writes small frames apart (a `WINDOW_UPDATE` as
//! it reads the request, then the answer's headers, data and trailers);
//! with Nagle, each small write waits until the one before it is
//! acknowledged. Linux delays acknowledgements (by up to 40 ms) while the
//! receiving side has nothing to send back, and a client waiting for its
//! answer has nothing to send: each answer then waits the full delay, and a
//! step of load that needs more than a few of them in flight loses spans
//! (measured: the loss-free rate into such a receiver was under half the
//! one into a receiver with `TCP_NODELAY`). Acknowledging at once lets the
//! server's next frame go a round trip later instead of 40 ms later. The
//! alternatives do not reach it: more requests in flight only spread the
//! waits, and HTTP/2 window settings change when the server sends
//! `WINDOW_UPDATE`s, not that its answer waits behind them. The option is
//! not sticky (the kernel falls back to delayed acknowledgements when
//! traffic looks interactive), hence set after each read: one `setsockopt`
//! per read, on the export's I/O thread. Elsewhere than Linux this is a
//! plain TCP stream.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tower_service::Service;

/// Connects like tonic's own connector (TCP, `TCP_NODELAY`, TLS on top
/// added by tonic), with [`QuickAckStream`]s.
#[derive(Clone, Debug)]
pub(super) struct QuickAckConnector {
    http: HttpConnector,
}

impl QuickAckConnector {
    pub(super) fn new(connect_timeout: Duration) -> Self {
        let mut http = HttpConnector::new();
        // `https://` endpoints too: tonic adds TLS over this stream.
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        Self { http }
    }
}

impl Service<Uri> for QuickAckConnector {
    type Response = TokioIo<QuickAckStream>;
    type Error = <HttpConnector as Service<Uri>>::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.http.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.http.call(uri);
        Box::pin(async move {
            let stream = connecting.await?.into_inner();
            let stream = QuickAckStream { stream };
            stream.acknowledge_now();
            Ok(TokioIo::new(stream))
        })
    }
}

/// A TCP stream that sets `TCP_QUICKACK` after each read that got bytes.
#[derive(Debug)]
pub(super) struct QuickAckStream {
    stream: TcpStream,
}

impl QuickAckStream {
    #[cfg(target_os = "linux")]
    fn acknowledge_now(&self) {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: the descriptor is this stream's open socket; the option
        // value points to a c_int that outlives the call, with its size.
        // A failure (not a TCP socket any more) changes nothing here.
        unsafe {
            libc::setsockopt(
                self.stream.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn acknowledge_now(&self) {}
}

impl AsyncRead for QuickAckStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.acknowledge_now();
        }
        read
    }
}

impl AsyncWrite for QuickAckStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
