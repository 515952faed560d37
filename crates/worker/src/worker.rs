//! `cpsf worker`: the job poller (and, later, the activity task handlers)
//! in one process, with the health/metrics endpoint beside them.

use crate::aws::Clients;
use crate::events::EventsQueue;
use crate::job::handle::{JobRunner, JobSettings};
use crate::job::journal::Journal;
use crate::job::poller::{Poller, PollerSettings};
use crate::job::recover::{self, Recovery};
use crate::job::report::Reporter;
use crate::metrics::Metrics;
use crate::nudge::Nudges;
use crate::sfn::Sfn;
use crate::tasks::RunnerSettings;
use crate::tasks::{Handler, TaskContext};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct WorkerOptions {
    /// The job poller; None with `--tasks-only`.
    pub poller: Option<PollerSettings>,
    pub job: JobSettings,
    /// The activity task handlers; None with `--jobs-only`.
    pub tasks: Option<TaskOptions>,
    /// Where `/healthz` and `/metrics` are served, if anywhere.
    pub listen: Option<SocketAddr>,
    /// Approvals by link (`approval/`), when asked for.
    pub approvals: Option<ApprovalOptions>,
}

/// `--approvals-queue`, `--approval-store`, `--approval-url`,
/// `--approval-listen` and the key.
pub struct ApprovalOptions {
    pub queue: Option<String>,
    pub store: String,
    /// The signing key: never logged (no Debug).
    pub key: String,
    pub url: Option<String>,
    pub listen: Option<SocketAddr>,
}

/// How long one task waits on a stack before handing back (`TaskOptions`'s
/// default), and how long `cpsf environments prune` waits for one delete,
/// which it waits on with the wait-teardown task's own code. Well below the
/// deploy state machine's WaitForStack TimeoutSeconds (4 h): the state
/// machine asks again.
pub const WAIT_CAP: Duration = Duration::from_secs(3600);

/// The activity task handlers; `Default` is `cpsf worker`'s (the flags
/// under "Task handlers" show these values).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskOptions {
    pub runner: RunnerSettings,
    pub staging_bucket: Option<String>,
    /// How long one task waits on a stack before handing back.
    pub wait_cap: Duration,
    /// Bounds of the pause between two describes of a stack (or change
    /// set) a task waits on (`TaskContext::watch`): not the job poll's
    /// `PollerSettings::poll_*`.
    pub watch_min: Duration,
    pub watch_max: Duration,
    /// Describe calls a second all waits make together, at most (pace.rs).
    pub describe_rate: f64,
    /// A teardown deletes only stacks whose names start with this
    /// (`--stack-prefix`); None: any stack tagged as the environment.
    pub stack_prefix: Option<String>,
}

impl Default for TaskOptions {
    fn default() -> Self {
        Self {
            runner: RunnerSettings::default(),
            staging_bucket: None,
            wait_cap: WAIT_CAP,
            watch_min: TaskContext::WATCH_MIN,
            watch_max: TaskContext::WATCH_MAX,
            describe_rate: crate::activity::pace::DEFAULT_PER_SECOND,
            stack_prefix: None,
        }
    }
}

impl TaskOptions {
    /// Every handler under its default activity name with `prefix` in
    /// place of `cpsf-`.
    pub fn activities(prefix: &str) -> Vec<(Handler, String)> {
        crate::activity::runner::activities(prefix)
    }
}

/// Runs until `shutdown` is cancelled and in-flight work has drained.
pub async fn run(
    clients: Clients,
    mut options: WorkerOptions,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if let Some(location) = &options.job.journal
        && let Err(error) = Journal::new(clients.s3(), location.clone()).prepare().await
    {
        tracing::warn!(error = %format!("{error:#}"), "running without a journal");
        options.job.journal = None;
    }
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
    // The task handlers tell the jobs when an execution moved on.
    let nudges = Nudges::default();
    // Action start events wake the job poller (`pickup/`).
    let pickup = crate::pickup::Pickup::default();
    let tasks = options.tasks.map(|tasks| {
        let ctx = TaskContext {
            watch_min: tasks.watch_min,
            watch_max: tasks.watch_max,
            stopping: shutdown.clone(),
            pace: crate::activity::pace::Pace::new(tasks.describe_rate),
            stack_prefix: tasks.stack_prefix,
            ..TaskContext::new(&clients, tasks.staging_bucket, tasks.wait_cap)
        };
        let serve = crate::activity::runner::run(
            clients.sfn_long_poll(),
            Arc::new(ctx),
            tasks.runner,
            metrics.clone(),
            nudges.clone(),
            shutdown.clone(),
        );
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let result = serve.await;
            if let Err(error) = &result {
                // Without its activities the worker is not doing its job.
                tracing::error!(error = %format!("{error:#}"), "task handlers stopped; stopping the worker");
                shutdown.cancel();
            }
            result
        })
    });
    if let Some(approvals) = &options.approvals {
        serve_approvals(&clients, approvals, shutdown.clone()).await?;
    }
    let events = if let (Some(poller), Some(url)) = (&options.poller, &options.job.events_queue) {
        tracing::info!(queue = %url, "execution events wake the jobs following them, action starts the job poller");
        Some(tokio::spawn(
            EventsQueue {
                sqs: clients.sqs_long_poll(),
                url: url.clone(),
                nudges: nudges.clone(),
                pickup: pickup.clone(),
                action_type: poller.action_type.clone(),
            }
            .run(shutdown.clone()),
        ))
    } else {
        None
    };
    if let Some(poller) = options.poller {
        tokio::spawn(
            Recovery {
                sfn: clients.sfn.clone(),
                reporter: Reporter::new(clients.codepipeline.clone()),
                state_machines: options.job.recover_from.clone(),
                discover: options
                    .job
                    .recover_from_pipelines
                    .then(|| (clients.codepipeline.clone(), poller.action_type.clone())),
                journal: options
                    .job
                    .journal
                    .clone()
                    .map(|location| Journal::new(clients.s3(), location)),
                lease: recover::lease(options.job.follow_for),
            }
            .run(shutdown.clone()),
        );
        let runner = JobRunner::new(
            Reporter::new(clients.codepipeline.clone()),
            Sfn::new(clients.sfn.clone()),
            clients.sdk.clone(),
            options.job,
            metrics.clone(),
            nudges.clone(),
            shutdown.clone(),
        );
        let action = &poller.action_type;
        tracing::info!(
            action_type = %format!("{}/{}/{}/{}", action.category.as_str(), action.owner.as_str(), action.provider, action.version),
            max_in_flight = poller.max_in_flight,
            "polling for jobs"
        );
        Poller::new(clients.codepipeline, runner, poller, metrics)
            .with_pickup(pickup)
            .run(shutdown.clone())
            .await;
    }
    let result = match tasks {
        Some(tasks) => tasks
            .await
            .context("the task runner stopped unexpectedly")?,
        None => Ok(()),
    };
    // The queue's loop sends the deletes it holds as it stops.
    if let Some(events) = events {
        let _ = events.await;
    }
    stop_http.cancel();
    if let Some(http) = http {
        let _ = http.await;
    }
    tracing::info!("worker stopped");
    result
}

/// Takes approval requests from the queue and serves the page, as asked.
async fn serve_approvals(
    clients: &Clients,
    options: &ApprovalOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let approvals = Arc::new(
        crate::approval::service::Approvals::new(
            &clients.sdk,
            &options.store,
            &options.key,
            options.url.clone(),
        )
        .map_err(anyhow::Error::msg)?,
    );
    if let Some(queue) = &options.queue {
        tracing::info!(queue = %queue, "taking approval requests");
        tokio::spawn(
            crate::approval::inbox::Inbox {
                approvals: approvals.clone(),
                sqs: clients.sqs_long_poll(),
                queue_url: queue.clone(),
            }
            .run(shutdown.clone()),
        );
    }
    if let Some(addr) = options.listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("could not listen on {addr} for the approval page"))?;
        tracing::info!(addr = %listener.local_addr()?, "serving the approval page");
        // Anyone who reaches the port can open connections: limited, so
        // slow clients cannot hold the worker's memory (listen.rs).
        tokio::spawn(crate::listen::serve(
            listener,
            crate::approval::server::router(approvals),
            crate::listen::Limits::default(),
            shutdown,
        ));
    }
    Ok(())
}
