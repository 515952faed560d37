//! `cpsf healthcheck`, the container's HEALTHCHECK, against a worker's
//! health endpoint: 0 while it runs, non-zero once it shuts down.

use cpsf_worker::metrics::Metrics;
use std::process::Command;
use tokio_util::sync::CancellationToken;

fn healthcheck(listen: &str) -> bool {
    Command::new(env!("CARGO_BIN_EXE_cpsf"))
        .args(["healthcheck", "--listen", listen])
        .status()
        .unwrap()
        .success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_follows_the_workers_health() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listen = listener.local_addr().unwrap().to_string();
    let (shutdown, stop) = (CancellationToken::new(), CancellationToken::new());
    let server = tokio::spawn(cpsf_worker::health::serve(
        listener,
        Metrics::default(),
        shutdown.clone(),
        stop.clone(),
    ));
    let check = |listen: String| tokio::task::spawn_blocking(move || healthcheck(&listen));
    assert!(
        check(listen.clone()).await.unwrap(),
        "healthy while running"
    );
    shutdown.cancel();
    assert!(
        !check(listen.clone()).await.unwrap(),
        "unhealthy while shutting down"
    );
    stop.cancel();
    server.await.unwrap();
    assert!(
        !check(listen).await.unwrap(),
        "unhealthy when nothing listens"
    );
}
