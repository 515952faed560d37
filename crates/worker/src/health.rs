//! The worker's HTTP endpoint: `/healthz` for liveness checks (ECS,
//! Kubernetes) and `/metrics` for Prometheus.

use crate::metrics::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct HealthState {
    metrics: Metrics,
    shutdown: CancellationToken,
}

pub fn router(metrics: Metrics, shutdown: CancellationToken) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(HealthState { metrics, shutdown })
}

/// Serves until `stop` is cancelled. `shutdown` (the worker's own signal)
/// turns `/healthz` to 503 while in-flight jobs drain. With the approval
/// page's limits (`listen.rs`): `--listen` may face a network too.
pub async fn serve(
    listener: TcpListener,
    metrics: Metrics,
    shutdown: CancellationToken,
    stop: CancellationToken,
) {
    let router = router(metrics, shutdown);
    crate::listen::serve(listener, router, crate::listen::Limits::default(), stop).await
}

async fn healthz(State(state): State<HealthState>) -> impl IntoResponse {
    if state.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    } else {
        (StatusCode::OK, "ok\n")
    }
}

async fn metrics_text(State(state): State<HealthState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::http_status;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    #[tokio::test]
    async fn healthz_turns_503_at_shutdown_and_metrics_are_served() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let endpoint = format!("http://{addr}");
        let (metrics, shutdown, stop) = (
            Metrics::default(),
            CancellationToken::new(),
            CancellationToken::new(),
        );
        metrics.job("succeeded");
        let server = tokio::spawn(serve(listener, metrics, shutdown.clone(), stop.clone()));

        assert_eq!(
            http_status(&endpoint, "GET", "/healthz").await.unwrap(),
            200
        );
        let text = get(addr, "/metrics").await;
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(
            text.contains("cpsf_jobs_total{outcome=\"succeeded\"} 1"),
            "{text}"
        );
        shutdown.cancel();
        assert_eq!(
            http_status(&endpoint, "GET", "/healthz").await.unwrap(),
            503
        );
        stop.cancel();
        server.await.unwrap();
    }
}
