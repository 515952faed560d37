use super::*;
use axum::routing::{get, post};
use std::net::SocketAddr;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The production limits scaled down so the tests run in seconds.
fn quick(connections: usize) -> Limits {
    Limits {
        connections,
        header_read: Duration::from_secs(1),
        request: Duration::from_secs(2),
        connection: Duration::from_secs(3),
    }
}

fn router() -> Router {
    Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/echo", post(|body: String| async move { body }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                "done"
            }),
        )
        .route(
            "/stuck",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never"
            }),
        )
}

async fn start(limits: Limits) -> (SocketAddr, CancellationToken, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let served = tokio::spawn(serve(listener, router(), limits, stop.clone()));
    (addr, stop, served)
}

/// Waits for `serve` to return after its stop.
async fn stopped(served: tokio::task::JoinHandle<()>) {
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("serve returns when stopped")
        .unwrap();
}

/// An ordinary request and its whole answer.
async fn get_text(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    let read = stream.read_to_string(&mut answer);
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    answer
}

/// A client that started and stalls: `kind` 0 sends nothing, 1 half a
/// request head, 2 a head and part of the body it announced.
async fn stalled(addr: SocketAddr, kind: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let sent: &[u8] = match kind % 3 {
        0 => b"",
        1 => b"GET /ok HTTP/1.1\r\nHost: x\r\nUser-Agent: sl",
        _ => b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nname=sl",
    };
    stream.write_all(sent).await.unwrap();
    stream
}

/// Whether the server closed `stream` (end of stream or reset) by `deadline`.
async fn closed_by(mut stream: TcpStream, deadline: tokio::time::Instant) -> bool {
    let mut sink = Vec::new();
    tokio::time::timeout_at(deadline, stream.read_to_end(&mut sink))
        .await
        .is_ok()
}

/// Issue 27: with 1,000 slow clients held, an ordinary request answers
/// within 2 s, and every slow one is closed by the server in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_closed_and_an_ordinary_request_still_answers() {
    let limits = quick(1100);
    let (addr, stop, served) = start(limits).await;
    let began = tokio::time::Instant::now();
    let mut slow = Vec::new();
    for kind in 0..1000 {
        slow.push(stalled(addr, kind).await);
    }

    let asked = Instant::now();
    let answer = get_text(addr, "/ok").await;
    let took = asked.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // Each is closed once its own limit passes (the last opened, within a
    // second of the first); none is left after the connection's limit.
    let deadline = began + limits.connection + Duration::from_secs(2);
    let closed = futures_util::future::join_all(slow.into_iter().map(|s| closed_by(s, deadline)))
        .await
        .into_iter()
        .filter(|closed| *closed)
        .count();
    assert_eq!(closed, 1000, "slow clients closed by the server");
    stop.cancel();
    stopped(served).await;
}

/// The production limits meet the figures: room for 1,000 slow
/// clients and an ordinary one, and every connection closed within 45 s.
#[test]
fn production_limits_close_slow_clients_within_45_seconds() {
    let limits = Limits::default();
    assert!(limits.connections > 1000);
    assert!(limits.header_read <= limits.connection && limits.request <= limits.connection);
    assert!(limits.connection < Duration::from_secs(45));
}

/// At the cap, a new client waits in the listen queue until a slot frees
/// (here: a stalled client's head times out), then it is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_a_new_client_waits_for_a_slot() {
    let limits = quick(4);
    let (addr, stop, served) = start(limits).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(stalled(addr, 0).await);
    }
    let asked = Instant::now();
    let answer = get_text(addr, "/ok").await;
    let took = asked.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        took >= limits.header_read - Duration::from_millis(200)
            && took < limits.header_read + Duration::from_secs(1),
        "took {took:?}"
    );
    stop.cancel();
    stopped(served).await;
}

/// A request that runs past its limit is answered 503, not left open.
#[tokio::test]
async fn a_request_past_its_limit_is_answered_503() {
    let limits = quick(8);
    let (addr, stop, served) = start(limits).await;
    let asked = Instant::now();
    let answer = get_text(addr, "/stuck").await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(asked.elapsed() < limits.request + Duration::from_millis(500));
    stop.cancel();
    stopped(served).await;
}

/// Stopping takes no new client, lets the request in flight finish and
/// closes the stalled ones at once.
#[tokio::test]
async fn stopping_finishes_the_request_in_flight() {
    let (addr, stop, served) = start(quick(8)).await;
    let idle = stalled(addr, 1).await;
    let in_flight = tokio::spawn(get_text(addr, "/slow"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let asked_to_stop = Instant::now();
    stop.cancel();
    let answer = in_flight.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("done"), "{answer}");
    stopped(served).await;
    assert!(asked_to_stop.elapsed() < Duration::from_secs(1));
    assert!(
        closed_by(
            idle,
            tokio::time::Instant::now() + Duration::from_millis(200)
        )
        .await
    );
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}
