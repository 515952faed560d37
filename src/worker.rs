//! `cpsf worker`: the job poller (and, later, the activity task handlers)
//! in one process, with the health/metrics endpoint beside them.

use crate::aws::Clients;
use crate::job::handle::{JobRunner, JobSettings};
use crate::job::poller::{Poller, PollerSettings};
use crate::job::report::Reporter;
use crate::metrics::Metrics;
use crate::sfn::Sfn;
use anyhow::Context;
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;

pub struct WorkerOptions {
    pub poller: PollerSettings,
    pub job: JobSettings,
    /// Where `/healthz` and `/metrics` are served, if anywhere.
    pub listen: Option<SocketAddr>,
}

/// Runs until `shutdown` is cancelled and in-flight work has drained.
pub async fn run(
    clients: Clients,
    options: WorkerOptions,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let stop_http = CancellationToken::new();
    let http = match options.listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("could not listen on {addr}"))?;
            tracing::info!(addr = %listener.local_addr()?, "serving /healthz and /metrics");
            Some(tokio::spawn(crate::health::serve(
                listener,
                metrics.clone(),
                shutdown.clone(),
                stop_http.clone(),
            )))
        }
        None => None,
    };
    let runner = JobRunner::new(
        Reporter::new(clients.codepipeline.clone()),
        Sfn::new(clients.sfn.clone()),
        clients.sdk.clone(),
        options.job,
        metrics.clone(),
        shutdown.clone(),
    );
    let action = &options.poller.action_type;
    tracing::info!(
        action_type = %format!("{}/{}/{}/{}", action.category.as_str(), action.owner.as_str(), action.provider, action.version),
        max_in_flight = options.poller.max_in_flight,
        "worker started"
    );
    Poller::new(clients.codepipeline, runner, options.poller, metrics)
        .run(shutdown)
        .await;
    stop_http.cancel();
    if let Some(http) = http {
        let _ = http.await;
    }
    tracing::info!("worker stopped");
    Ok(())
}
