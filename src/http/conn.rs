//! Connection timeouts, so that idle or slow clients cannot hold the bridge's sockets.
//!
//! - **Header read**: a request's head must arrive within `header_read_timeout_secs` of the
//!   connection's opening, or of the first byte of a further request on a kept-alive
//!   connection; a client that trickles a header byte at a time is cut off all the same.
//! - **Idle keep-alive**: a kept-alive connection with no request for `idle_timeout_secs`
//!   is closed.
//! - **Body read**: the whole body must arrive within `body_read_timeout_secs` of the
//!   handler's start (408 otherwise), and at most `max_body_bytes` of it (413).
//!
//! poem's server offers only an inactivity timeout (any byte resets it), so the header and
//! idle deadlines are kept by [`TimedIo`], which wraps each accepted socket and fails a read
//! that waits past the deadline of the connection's phase. A request in progress has no
//! socket deadline: [`Guarded`] marks its connection busy (found by the peer address, which
//! identifies an open TCP connection) and reads its body under the body deadline.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use poem::error::ReadBodyError;
use poem::http::StatusCode;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::payload::Json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::problem::Problem;
use crate::config::Config;

/// The connection limits of one server, shared by its acceptor and its endpoint.
pub struct ConnLimits {
    header_read: Duration,
    body_read: Duration,
    idle: Duration,
    max_body_bytes: usize,
    open: Mutex<HashMap<SocketAddr, Arc<ConnState>>>,
}

/// What a socket's wrapper needs to know of the requests on it.
#[derive(Default)]
struct ConnState {
    /// Requests being handled (more than one only with HTTP/2).
    busy: AtomicUsize,
    /// Requests started on the connection so far: a request handled between two reads
    /// is seen by the second read, which then waits for the next request.
    started: AtomicUsize,
    /// The task that last waited on a read: woken when the last request ends, so that the
    /// idle deadline is armed (hyper does not read again until it is woken).
    reader: Mutex<Option<Waker>>,
}

impl ConnLimits {
    pub fn new(config: &Config) -> Arc<Self> {
        Arc::new(ConnLimits {
            header_read: config.header_read_timeout_secs.duration(),
            body_read: config.body_read_timeout_secs.duration(),
            idle: config.idle_timeout_secs.duration(),
            max_body_bytes: config.max_body_bytes.get(),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Wraps `inner` so that each accepted socket keeps the header and idle deadlines.
    pub fn acceptor<A: Acceptor>(self: &Arc<Self>, inner: A) -> TimedAcceptor<A> {
        TimedAcceptor {
            inner,
            limits: self.clone(),
        }
    }

    /// Wraps the application: marks the connection busy and reads the body under its limits.
    pub fn endpoint<E: Endpoint>(self: &Arc<Self>, inner: E) -> Guarded<E> {
        Guarded {
            inner,
            limits: self.clone(),
        }
    }

    fn register(&self, peer: SocketAddr) -> Arc<ConnState> {
        let state = Arc::new(ConnState::default());
        if let Ok(mut open) = self.open.lock() {
            open.insert(peer, state.clone());
        }
        state
    }

    fn forget(&self, peer: SocketAddr, state: &Arc<ConnState>) {
        if let Ok(mut open) = self.open.lock()
            && open.get(&peer).is_some_and(|s| Arc::ptr_eq(s, state))
        {
            open.remove(&peer);
        }
    }

    fn busy(&self, peer: SocketAddr) -> Option<BusyGuard> {
        let state = self.open.lock().ok()?.get(&peer)?.clone();
        state.busy.fetch_add(1, Ordering::AcqRel);
        state.started.fetch_add(1, Ordering::AcqRel);
        Some(BusyGuard(state))
    }
}

/// Marks a connection busy while a request on it is handled.
struct BusyGuard(Arc<ConnState>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, Ordering::AcqRel) == 1
            && let Some(waker) = self.0.reader.lock().ok().and_then(|mut w| w.take())
        {
            waker.wake();
        }
    }
}

/// An acceptor whose sockets keep the header and idle deadlines.
pub struct TimedAcceptor<A> {
    inner: A,
    limits: Arc<ConnLimits>,
}

impl<A: Acceptor> Acceptor for TimedAcceptor<A> {
    type Io = TimedIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(
        &mut self,
    ) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        let (io, local, remote, scheme) = self.inner.accept().await?;
        let peer = remote.as_socket_addr().copied();
        let state = match peer {
            Some(peer) => self.limits.register(peer),
            None => Arc::new(ConnState::default()),
        };
        let deadline = Instant::now() + self.limits.header_read;
        let io = TimedIo {
            inner: io,
            state,
            peer,
            limits: self.limits.clone(),
            phase: Phase::Head,
            seen_started: 0,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
        };
        Ok((io, local, remote, scheme))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for (the rest of) a request head: the header deadline runs.
    Head,
    /// A request is being handled: no socket deadline.
    Busy,
    /// Waiting for the next request on a kept-alive connection: the idle deadline runs.
    Idle,
}

/// A socket that fails a read waiting past its phase's deadline, which closes the connection.
pub struct TimedIo<T> {
    inner: T,
    state: Arc<ConnState>,
    peer: Option<SocketAddr>,
    limits: Arc<ConnLimits>,
    phase: Phase,
    /// `ConnState::started` when this socket last looked.
    seen_started: usize,
    deadline: Pin<Box<Sleep>>,
}

impl<T> TimedIo<T> {
    fn enter(&mut self, phase: Phase, timeout: Duration) {
        self.phase = phase;
        self.deadline.as_mut().reset(Instant::now() + timeout);
    }

    fn remember(&self, waker: &Waker) {
        if let Ok(mut reader) = self.state.reader.lock()
            && !reader.as_ref().is_some_and(|w| w.will_wake(waker))
        {
            *reader = Some(waker.clone());
        }
    }
}

impl<T> Drop for TimedIo<T> {
    fn drop(&mut self) {
        if let Some(peer) = self.peer {
            self.limits.forget(peer, &self.state);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TimedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let started = this.state.started.load(Ordering::Acquire);
        if this.state.busy.load(Ordering::Acquire) > 0 {
            this.phase = Phase::Busy;
            this.seen_started = started;
        } else if this.phase == Phase::Busy || this.seen_started != started {
            this.seen_started = started;
            let idle = this.limits.idle;
            this.enter(Phase::Idle, idle);
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if this.phase == Phase::Idle && buf.filled().len() > before {
                    let header_read = this.limits.header_read;
                    this.enter(Phase::Head, header_read);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if this.phase != Phase::Busy => {
                this.remember(cx.waker());
                if this.deadline.as_mut().poll(cx).is_ready() {
                    let what = match this.phase {
                        Phase::Idle => "idle keep-alive timeout",
                        _ => "header read timeout",
                    };
                    tracing::debug!(peer = ?this.peer, "{what}: closing the connection");
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
                }
                Poll::Pending
            }
            Poll::Pending => {
                this.remember(cx.waker());
                Poll::Pending
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The application behind the connection limits: its connection is busy while a request
/// is handled, and the request's body is read first, under the body deadline and size cap.
pub struct Guarded<E> {
    inner: E,
    limits: Arc<ConnLimits>,
}

impl<E: Endpoint> Endpoint for Guarded<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let _busy = req
            .remote_addr()
            .as_socket_addr()
            .and_then(|peer| self.limits.busy(*peer));
        let body = req.take_body();
        let read = body.into_bytes_limit(self.limits.max_body_bytes);
        match tokio::time::timeout(self.limits.body_read, read).await {
            Ok(Ok(bytes)) => req.set_body(bytes),
            Ok(Err(ReadBodyError::PayloadTooLarge)) => {
                let problem = Problem::new(
                    "payload_too_large",
                    format!(
                        "the body exceeds the limit of {} bytes (max_body_bytes)",
                        self.limits.max_body_bytes
                    ),
                )
                .field("body");
                return Ok(refusal(StatusCode::PAYLOAD_TOO_LARGE, problem));
            }
            Ok(Err(e)) => {
                let problem =
                    Problem::new("unreadable_body", format!("could not read the body: {e}"))
                        .field("body");
                return Ok(refusal(StatusCode::BAD_REQUEST, problem));
            }
            Err(_) => {
                let problem = Problem::new(
                    "body_timeout",
                    format!(
                        "the body did not arrive within {} s (body_read_timeout_secs)",
                        self.limits.body_read.as_secs()
                    ),
                )
                .field("body");
                return Ok(refusal(StatusCode::REQUEST_TIMEOUT, problem));
            }
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

/// A JSON problem that also closes the connection: the rest of the body is not read.
fn refusal(status: StatusCode, problem: Problem) -> Response {
    let mut resp = Json(problem).into_response();
    resp.set_status(status);
    resp.headers_mut().insert(
        poem::http::header::CONNECTION,
        poem::http::HeaderValue::from_static("close"),
    );
    resp
}
