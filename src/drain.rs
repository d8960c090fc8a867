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
/// A pause with no queued connection after which the queue counts as empty.
const QUIET: Duration = Duration::from_millis(5);
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
    /// Drops every packet that would open a new connection on the listening socket (a
    /// socket filter that accepts nothing). Connections already in its queue have sockets
    /// of their own and stay untouched, so the queue can be emptied; a client connecting
    /// now retries its SYN and is refused once the socket is closed.
    #[cfg(target_os = "linux")]
    fn gate(listener: &TcpListener) {
        /// `BPF_RET | BPF_K` with k = 0: keep no byte of any packet.
        const DROP_ALL: u16 = 0x06;
        let filter = [socket2::SockFilter::new(DROP_ALL, 0, 0, 0)];
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
