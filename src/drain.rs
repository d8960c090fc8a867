//! Graceful shutdown of the HTTP server: answer what was accepted, refuse the rest.
//!
//! On shutdown the [`DrainingAcceptor`] keeps new connections out of the listening socket's
//! queue, takes every connection the kernel has already queued (a client whose connection
//! was established may have sent its request already), then closes the listening socket, so
//! a later connection is refused before anything is sent. Connections that have not sent a
//! byte yet get up to [`FIRST_REQUEST`] to send their request (the server would close them
//! unread: it cannot tell HTTP/1 from HTTP/2 before their first bytes). Only then does the
//! server begin its own graceful shutdown: a request being read or handled is finished and
//! answered (a webhook only once it is durable) with `connection: close`, and a keep-alive
//! connection with no request in progress is closed. Whatever is still open when the grace
//! period ends is closed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

/// How long the acceptor keeps taking queued connections once draining began, at most.
const DRAIN_QUEUED: Duration = Duration::from_secs(1);
/// A pause with no queued connection after which the queue counts as empty: long enough
/// for a handshake under way when draining began to complete on a busy machine.
const QUIET: Duration = Duration::from_millis(50);
/// How long an accepted connection that has sent nothing yet is waited for (a client whose
/// connection the kernel completed may send its request a moment later), at most.
pub const FIRST_REQUEST: Duration = Duration::from_secs(5);

/// What the server, its acceptor and its connections share about a shutdown.
struct Shared {
    /// Set once the acceptor has taken the queued connections and closed the listener.
    closed: AtomicBool,
    /// Accepted connections that have not sent a byte yet.
    fresh: AtomicUsize,
    changed: Notify,
}

impl Shared {
    /// Waits until `done` holds, re-checked whenever the shared state changes.
    async fn until(&self, done: impl Fn(&Shared) -> bool) {
        loop {
            let notified = self.changed.notified();
            if done(self) {
                return;
            }
            notified.await;
        }
    }
}

/// The shutdown of one server: hands out its acceptor and drives the drain.
pub struct Drain {
    draining: watch::Sender<bool>,
    shared: Arc<Shared>,
}

impl Default for Drain {
    fn default() -> Self {
        Self::new()
    }
}

impl Drain {
    pub fn new() -> Self {
        Drain {
            draining: watch::channel(false).0,
            shared: Arc::new(Shared {
                closed: AtomicBool::new(false),
                fresh: AtomicUsize::new(0),
                changed: Notify::new(),
            }),
        }
    }

    /// The server's acceptor on `listener`, stopped by [`Drain::stop_accepting`].
    pub fn acceptor(&self, listener: TcpListener) -> std::io::Result<DrainingAcceptor> {
        let local = LocalAddr(listener.local_addr()?.into());
        Ok(DrainingAcceptor {
            listener: Some(listener),
            local,
            draining: self.draining.subscribe(),
            shared: self.shared.clone(),
            drain_until: None,
        })
    }

    /// Takes the connections already queued and closes the listener, then waits for the
    /// first bytes of every connection that has sent none yet (at most [`FIRST_REQUEST`]);
    /// returns after `limit` at the latest.
    pub async fn stop_accepting(&self, limit: Duration) {
        let _ = self.draining.send(true);
        let shared = &self.shared;
        let _ = tokio::time::timeout(limit, async {
            shared.until(|s| s.closed.load(Ordering::Acquire)).await;
            let _ = tokio::time::timeout(
                FIRST_REQUEST,
                shared.until(|s| s.fresh.load(Ordering::Acquire) == 0),
            )
            .await;
        })
        .await;
    }
}

/// An accepted connection, counted as fresh until its first byte arrives.
pub struct Connection {
    inner: TcpStream,
    fresh: Option<Arc<Shared>>,
}

impl Connection {
    fn new(inner: TcpStream, shared: &Arc<Shared>) -> Self {
        shared.fresh.fetch_add(1, Ordering::AcqRel);
        Connection {
            inner,
            fresh: Some(shared.clone()),
        }
    }

    fn not_fresh(&mut self) {
        if let Some(shared) = self.fresh.take() {
            shared.fresh.fetch_sub(1, Ordering::AcqRel);
            shared.changed.notify_waiters();
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.not_fresh();
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        // Bytes, the end of the stream or an error: either way nothing is awaited any more.
        if polled.is_ready() {
            self.not_fresh();
        }
        polled
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The server's TCP acceptor: once its [`Drain`] begins, it stops new connections from
/// being queued, returns the connections already queued, then closes the listening socket.
pub struct DrainingAcceptor {
    listener: Option<TcpListener>,
    local: LocalAddr,
    draining: watch::Receiver<bool>,
    shared: Arc<Shared>,
    drain_until: Option<tokio::time::Instant>,
}

impl DrainingAcceptor {
    /// Drops every packet that would open a new connection on the listening socket: a
    /// socket filter that drops a segment with SYN set and ACK unset, and keeps every other
    /// one. A handshake already under way (SYN answered, the client's ACK still on its way)
    /// completes and joins the queue, so the client whose `connect` has returned is served;
    /// a client connecting now retries its SYN and is refused once the socket is closed.
    /// A listening socket sees each segment from its TCP header on (byte 13: the flags).
    #[cfg(target_os = "linux")]
    fn gate(listener: &TcpListener) {
        /// `BPF_LD | BPF_B | BPF_ABS`: load one byte at offset k.
        const LOAD_BYTE: u16 = 0x30;
        /// `BPF_ALU | BPF_AND | BPF_K`: A &= k.
        const AND: u16 = 0x54;
        /// `BPF_JMP | BPF_JEQ | BPF_K`: jump jt if A == k, else jf.
        const JUMP_IF_EQUAL: u16 = 0x15;
        /// `BPF_RET | BPF_K`: keep k bytes of the packet (0: drop it).
        const RETURN: u16 = 0x06;
        const TCP_FLAGS: u32 = 13;
        const SYN: u32 = 0x02;
        const ACK: u32 = 0x10;
        let filter = [
            socket2::SockFilter::new(LOAD_BYTE, 0, 0, TCP_FLAGS),
            socket2::SockFilter::new(AND, 0, 0, SYN | ACK),
            socket2::SockFilter::new(JUMP_IF_EQUAL, 0, 1, SYN),
            socket2::SockFilter::new(RETURN, 0, 0, 0),
            socket2::SockFilter::new(RETURN, 0, 0, u32::MAX),
        ];
        if let Err(e) = socket2::SockRef::from(listener).attach_filter(&filter) {
            tracing::warn!(error = %e, "cannot hold off new connections while draining");
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn gate(_listener: &TcpListener) {}

    fn close(&mut self) {
        // Dropping the socket closes it: connections that arrive later are refused.
        self.listener = None;
        self.shared.closed.store(true, Ordering::Release);
        self.shared.changed.notify_waiters();
        tracing::info!("stopped accepting connections");
    }
}

fn accepted(
    local: &LocalAddr,
    shared: &Arc<Shared>,
    (io, addr): (TcpStream, std::net::SocketAddr),
) -> (Connection, LocalAddr, RemoteAddr, Scheme) {
    (
        Connection::new(io, shared),
        local.clone(),
        RemoteAddr(addr.into()),
        Scheme::HTTP,
    )
}

impl Acceptor for DrainingAcceptor {
    type Io = Connection;

    fn local_addr(&self) -> Vec<LocalAddr> {
        vec![self.local.clone()]
    }

    async fn accept(&mut self) -> std::io::Result<(Connection, LocalAddr, RemoteAddr, Scheme)> {
        loop {
            let Some(listener) = self.listener.as_ref() else {
                // Closed: the server stops asking once its own shutdown begins.
                return std::future::pending().await;
            };
            if !*self.draining.borrow() {
                tokio::select! {
                    a = listener.accept() => return a.map(|a| accepted(&self.local, &self.shared, a)),
                    _ = self.draining.wait_for(|d| *d) => continue,
                }
            }
            // Draining: nothing new joins the queue; take what it holds (the reactor may
            // learn of a queued connection a little later, hence the short quiet window),
            // at most for `DRAIN_QUEUED` in all, then close.
            let until = match self.drain_until {
                Some(until) => until,
                None => {
                    Self::gate(listener);
                    *self
                        .drain_until
                        .insert(tokio::time::Instant::now() + DRAIN_QUEUED)
                }
            };
            let quiet = until
                .saturating_duration_since(tokio::time::Instant::now())
                .min(QUIET);
            match tokio::time::timeout(quiet, listener.accept()).await {
                Ok(Ok(a)) => return Ok(accepted(&self.local, &self.shared, a)),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot accept a queued connection");
                    self.close();
                }
                Err(_) => self.close(),
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Once gated, the listening socket completes no new handshake: the client's SYN is
    /// dropped (so its `connect` waits for a retry), while a connection the kernel had
    /// queued before the gate is still accepted and its bytes read.
    #[tokio::test]
    async fn gate_holds_off_new_connections_and_keeps_queued_ones() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut queued = TcpStream::connect(addr)
            .await
            .expect("connect before the gate");
        DrainingAcceptor::gate(&listener);

        let held_off =
            tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await;
        assert!(held_off.is_err(), "a handshake completed after the gate");

        tokio::io::AsyncWriteExt::write_all(&mut queued, b"ping")
            .await
            .expect("write");
        let (mut accepted, _) = listener.accept().await.expect("accept the queued one");
        let mut got = [0u8; 4];
        tokio::io::AsyncReadExt::read_exact(&mut accepted, &mut got)
            .await
            .expect("read");
        assert_eq!(&got, b"ping");
    }
}
