//! Serving a router on a TCP port with limits (issue 27), for the approval
//! page and the health endpoint: whoever reaches the port must not hold
//! the process's memory or sockets, and the process is the job worker.
//! `axum::serve` runs with no timer, so a client that trickles its request
//! head, or sends nothing, kept its connection (~20 KiB) for ever: 5,000
//! held 104 MB, and ~20,000 would end a 512 MiB task.
//!
//! Each connection serves one request and is closed (`Connection: close`):
//! the page is one GET and, minutes later, one POST, and a load balancer
//! in front opens a connection per request to a target that answers so.
//! No keep-alive means no idle connection to time out, and no race between
//! closing one and a load balancer reusing it. The [`Limits`]:
//! - at most `connections` at once. At the cap the listener stops
//!   accepting: new clients wait in the kernel's listen queue until a slot
//!   frees (the limits below free every slot in time) rather than being
//!   turned away;
//! - the request head must have arrived `header_read` after accepting
//!   (hyper's header read timeout, which needs a timer), else the
//!   connection is closed;
//! - the handler, reading the body included, answers within `request`,
//!   else the answer is 503;
//! - whatever happens (a client that never reads its answer), the
//!   connection ends `connection` after it was accepted.

use axum::Router;
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub connections: usize,
    /// From accepting to the request head's end.
    pub header_read: Duration,
    /// From the request head to the answer (the body read included).
    pub request: Duration,
    /// From accepting to closing, whatever happens.
    pub connection: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            // Room for 1,000 slow clients and the ordinary ones beside them
            // (the figure). Measured: ~18 KiB a client that
            // trickles its head (2,000 held 37 MB); a full head
            // (MAX_BUFFER_BYTES) and form (approval/server.rs) add at most
            // 32 KiB: ~100 MB of the 512 MiB task at the cap, at worst.
            connections: 2048,
            // A browser or a load balancer sends its head at once; ten
            // seconds allow for a slow mobile link.
            header_read: Duration::from_secs(10),
            // The handlers make two to four AWS calls, normally in well
            // under a second; a decision still goes on after its request
            // is cut (approval/server.rs).
            request: Duration::from_secs(20),
            // Above both, and under the 45 s: no client holds a
            // slot longer.
            connection: Duration::from_secs(30),
        }
    }
}

/// The most a connection's read buffer grows to, so the longest request
/// head. hyper's default is ~400 KiB, which 2,048 trickling clients would
/// fill to 800 MB; 16 KiB is Node.js's and about nginx's default limit.
/// A longer head is answered 431.
const MAX_BUFFER_BYTES: usize = 16 * 1024;

/// Serves `router` on `listener` until `stop` is cancelled; then takes no
/// new client, lets each request in flight finish (within its limits),
/// closes the idle connections, and returns once all are closed.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(limits.connections));
    let connections = TaskTracker::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(false)
        .max_buf_size(MAX_BUFFER_BYTES);
    loop {
        let slot = tokio::select! {
            _ = stop.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    pause_after(&error, &stop).await;
                    continue;
                }
            },
        };
        let conn = http.serve_connection(
            TokioIo::new(stream),
            limited(router.clone(), limits.request),
        );
        let stop = stop.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut conn = std::pin::pin!(conn);
            let served = async {
                tokio::select! {
                    served = conn.as_mut() => return served,
                    _ = stop.cancelled() => {}
                }
                // Closes an idle connection now, and this one once its
                // request in flight is answered.
                conn.as_mut().graceful_shutdown();
                conn.await
            };
            match tokio::time::timeout(limits.connection, served).await {
                Ok(Ok(())) => {}
                // A client that went away, or sent a bad or late head.
                Ok(Err(error)) => tracing::debug!(%error, "connection closed"),
                Err(_) => tracing::debug!("connection closed: over its time limit"),
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// `router`, answering 503 to a request it has not answered in `limit`.
fn limited(
    router: Router,
    limit: Duration,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |request: Request<Incoming>| {
        let mut router = router.clone();
        async move {
            // Router is always ready (axum's Service impl); its error is
            // Infallible.
            let answer = tower_service::Service::call(&mut router, request);
            match tokio::time::timeout(limit, answer).await {
                Ok(answered) => answered,
                Err(_) => Ok((
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::CACHE_CONTROL, "no-store")],
                    "the request took too long\n",
                )
                    .into_response()),
            }
        }
    })
}

/// After a failed accept: a client that left before it was accepted is
/// nothing; anything else (out of file descriptors) is said, and the
/// loop waits a second rather than spin, as `axum::serve` does.
async fn pause_after(error: &std::io::Error, stop: &CancellationToken) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(%error, "could not accept a connection");
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
}

#[cfg(test)]
#[path = "listen_tests.rs"]
mod tests;
