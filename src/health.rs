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
/// turns `/healthz` to 503 while in-flight jobs drain.
pub async fn serve(
    listener: TcpListener,
    metrics: Metrics,
    shutdown: CancellationToken,
    stop: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics, shutdown))
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
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
