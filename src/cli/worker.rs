//! `cpsf worker`: its flags and how they become the worker's options.

use super::parse_key_value;
use crate::aws::Clients;
use crate::job::handle::JobSettings;
use crate::job::journal::JournalLocation;
use crate::job::poller::PollerSettings;
use crate::tasks::runner::RunnerSettings;
use crate::worker::{TaskOptions, WorkerOptions};
use anyhow::Result;
use aws_sdk_codepipeline::types::{ActionCategory, ActionOwner, ActionTypeId};
use clap::Args;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Args)]
pub struct WorkerArgs {
    /// Action type category.
    #[arg(long, env = "CPSF_ACTION_CATEGORY", default_value = "Deploy")]
    category: String,
    /// Action type owner.
    #[arg(long, env = "CPSF_ACTION_OWNER", default_value = "Custom")]
    owner: String,
    /// Action type provider.
    #[arg(
        long,
        env = "CPSF_ACTION_PROVIDER",
        default_value = "StepFunctionsDeploy"
    )]
    provider: String,
    /// Action type version.
    #[arg(
        long = "action-version",
        env = "CPSF_ACTION_VERSION",
        default_value = "1"
    )]
    action_version: String,
    /// Only take jobs whose queryable property has this value (KEY=VALUE).
    #[arg(long, env = "CPSF_QUERY_PARAM", value_parser = parse_key_value)]
    query_param: Option<(String, String)>,
    /// Most jobs handled at once.
    #[arg(long, env = "CPSF_MAX_IN_FLIGHT", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_in_flight: u32,
    /// First pause after a poll that found nothing.
    #[arg(long, env = "CPSF_POLL_MIN", value_parser = humantime::parse_duration, default_value = "100ms")]
    poll_min: Duration,
    /// Longest pause between polls when idle (jitter included).
    #[arg(long, env = "CPSF_POLL_MAX", value_parser = humantime::parse_duration, default_value = "1500ms")]
    poll_max: Duration,
    /// Longest pause between polls while jobs are in flight.
    #[arg(long, env = "CPSF_POLL_BUSY", value_parser = humantime::parse_duration, default_value = "250ms")]
    poll_busy: Duration,
    /// How long one job follows a running execution before handing it back
    /// to CodePipeline as a continuation.
    #[arg(long, env = "CPSF_FOLLOW_FOR", value_parser = humantime::parse_duration, default_value = "10s")]
    follow_for: Duration,
    /// At start, look in this state machine's recent executions for jobs a
    /// stopped worker acknowledged but never answered, and hand them back
    /// (repeat, or separate with commas). Default: the state machines of
    /// the pipelines that use this action type.
    #[arg(
        long,
        env = "CPSF_RECOVER_FROM",
        value_delimiter = ',',
        value_name = "STATE_MACHINE_ARN"
    )]
    recover_from: Vec<String>,
    /// Where continuation jobs are recorded between acknowledgement and
    /// report, so a restarted worker can answer them: s3://bucket[/prefix],
    /// or a directory. Default: $XDG_STATE_HOME/cpsf/journal (else
    /// ~/.local/state/cpsf/journal), on this machine's disk.
    #[arg(long, env = "CPSF_JOURNAL", value_name = "S3_URI_OR_DIR")]
    journal: Option<JournalLocation>,
    /// An SQS queue fed by an EventBridge rule with Step Functions'
    /// execution status changes: an execution's end wakes the job following
    /// it at once (the paced checks stay as the safety net).
    #[arg(long, env = "CPSF_EVENTS_QUEUE", value_name = "SQS_URL")]
    events_queue: Option<String>,
    /// How long in-flight jobs get to finish after SIGINT/SIGTERM.
    #[arg(long, env = "CPSF_SHUTDOWN_GRACE", value_parser = humantime::parse_duration, default_value = "30s")]
    shutdown_grace: Duration,
    /// Attempts per AWS call, retries included (default: the SDK's, 3, or AWS_MAX_ATTEMPTS).
    #[arg(long, env = "CPSF_AWS_MAX_ATTEMPTS")]
    aws_max_attempts: Option<u32>,
    /// Serve only the job poller, not the activity task handlers.
    #[arg(long, env = "CPSF_JOBS_ONLY", conflicts_with = "tasks_only")]
    jobs_only: bool,
    /// Serve only the activity task handlers, not the job poller.
    #[arg(long, env = "CPSF_TASKS_ONLY")]
    tasks_only: bool,
    /// Activity names are <prefix>check-stack, <prefix>create-stack, …
    #[arg(long, env = "CPSF_ACTIVITY_PREFIX", default_value = "cpsf-")]
    activity_prefix: String,
    /// Most tasks of each activity handled at once.
    #[arg(long, env = "CPSF_TASK_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    task_concurrency: u32,
    /// Most wait-stack tasks handled at once: a wait holds its task for
    /// the stack's whole operation but costs little.
    #[arg(long, env = "CPSF_WAIT_CONCURRENCY", default_value_t = crate::tasks::runner::DEFAULT_MAX_WAITS as u32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    wait_concurrency: u32,
    /// Most DescribeStacks (and DescribeChangeSet) calls a second all waits
    /// make together; each wait's pause grows with their number.
    #[arg(long, env = "CPSF_DESCRIBE_RATE", default_value_t = crate::tasks::pace::DEFAULT_PER_SECOND, value_parser = positive_rate)]
    describe_rate: f64,
    /// How often a working task handler sends a heartbeat.
    #[arg(long, env = "CPSF_HEARTBEAT_EVERY", value_parser = humantime::parse_duration, default_value = "20s")]
    heartbeat_every: Duration,
    /// How long one wait-stack task blocks before the state machine asks again.
    #[arg(long, env = "CPSF_WAIT_CAP", value_parser = humantime::parse_duration, default_value = "1h")]
    wait_cap: Duration,
    /// Tear down (`"operation": "delete"`) only stacks whose names start
    /// with this: the prefix the worker's role may deploy (bootstrap's
    /// DeployedStackPrefix). Without it, a teardown still deletes only a
    /// stack tagged as that environment.
    #[arg(long, env = "CPSF_STACK_PREFIX", value_name = "PREFIX")]
    stack_prefix: Option<String>,
    /// S3 bucket for templates over 51,200 bytes (passed by TemplateURL).
    #[arg(long, env = "CPSF_STAGING_BUCKET")]
    staging_bucket: Option<String>,
    /// Serve /healthz and /metrics here, e.g. 127.0.0.1:9090.
    #[arg(long, env = "CPSF_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// Take approval requests from this SQS queue (the deploy state
    /// machine's RequestApproval sends them there), keep them and notify.
    /// Needs --approval-store and the key in CPSF_APPROVAL_KEY.
    #[arg(long, env = "CPSF_APPROVALS_QUEUE", value_name = "SQS_URL")]
    approvals_queue: Option<String>,
    /// Where approvals are kept until decided: s3://bucket[/prefix].
    #[arg(long, env = "CPSF_APPROVAL_STORE", value_name = "S3_URI")]
    approval_store: Option<String>,
    /// The approval page's public base URL, which links in notifications
    /// start with (e.g. https://approvals.example.com). Without it,
    /// notifications say to decide with `cpsf approve`.
    #[arg(long, env = "CPSF_APPROVAL_URL", value_name = "URL")]
    approval_url: Option<String>,
    /// Serve the approval page here, e.g. 127.0.0.1:8080 (behind the load
    /// balancer --approval-url names). Off by default.
    #[arg(long, env = "CPSF_APPROVAL_LISTEN", value_name = "ADDR")]
    approval_listen: Option<std::net::SocketAddr>,
}

pub async fn run(args: WorkerArgs) -> Result<()> {
    // First: a missing region or credentials is the one line a user sees.
    let sdk = crate::aws::load_checked(args.aws_max_attempts).await?;
    let action_type = ActionTypeId::builder()
        .category(ActionCategory::from(args.category.as_str()))
        .owner(ActionOwner::from(args.owner.as_str()))
        .provider(args.provider)
        .version(args.action_version)
        .build()?;
    let options = WorkerOptions {
        poller: (!args.tasks_only).then_some(PollerSettings {
            action_type,
            query: args.query_param,
            max_in_flight: args.max_in_flight as usize,
            poll_min: args.poll_min,
            poll_max: args.poll_max,
            poll_busy: args.poll_busy,
            shutdown_grace: args.shutdown_grace,
        }),
        tasks: (!args.jobs_only).then(|| TaskOptions {
            runner: RunnerSettings {
                activities: TaskOptions::activities(&args.activity_prefix),
                max_concurrent: args.task_concurrency as usize,
                max_waits: args.wait_concurrency as usize,
                heartbeat_every: args.heartbeat_every,
                worker_name: worker_name(),
                shutdown_grace: args.shutdown_grace,
            },
            staging_bucket: args.staging_bucket,
            wait_cap: args.wait_cap,
            poll_min: Duration::from_millis(500),
            poll_max: Duration::from_secs(5),
            describe_rate: args.describe_rate,
            stack_prefix: args.stack_prefix,
        }),
        job: JobSettings {
            follow_for: args.follow_for,
            recover_from_pipelines: args.recover_from.is_empty(),
            recover_from: args.recover_from,
            journal: journal_or_default(args.journal),
            events_queue: args.events_queue,
            ..JobSettings::default()
        },
        listen: args.listen,
        approvals: approval_options(
            args.approvals_queue,
            args.approval_store,
            args.approval_url,
            args.approval_listen,
        )?,
    };
    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            crate::shutdown::signal().await;
            tracing::info!("shutdown requested: no new jobs; finishing the ones in flight");
            shutdown.cancel();
        }
    });
    crate::worker::run(
        Clients::new(&sdk),
        options,
        crate::metrics::Metrics::default(),
        shutdown,
    )
    .await
}

/// The journal named, else one in this machine's state directory, said
/// at start with the flag that moves it where a restart elsewhere finds it.
fn journal_or_default(named: Option<JournalLocation>) -> Option<JournalLocation> {
    if named.is_some() {
        return named;
    }
    let state = std::env::var("XDG_STATE_HOME").ok();
    let home = std::env::var("HOME").ok();
    match crate::job::journal::default_directory(state.as_deref(), home.as_deref()) {
        Some(dir) => {
            tracing::info!(
                journal = %dir.display(),
                "journal of jobs between acknowledgement and report on this machine's disk; \
                 a worker that restarts on another machine or container needs --journal s3://bucket/prefix"
            );
            Some(JournalLocation::Directory(dir))
        }
        None => {
            tracing::warn!(
                "no journal (neither XDG_STATE_HOME nor HOME is set): a crash while following a \
                 continuation job leaves it to CodePipeline's timeout; set --journal s3://bucket/prefix"
            );
            None
        }
    }
}

/// A rate a second: a positive, finite number.
fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "{text:?} is not a positive number of calls a second"
        )),
    }
}

/// Shown in the execution history as the activity worker: host and pid.
fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "cpsf".into());
    format!("{host}-{}", std::process::id())
        .chars()
        .take(80)
        .collect()
}

/// The approval options, when the queue or the page is asked for; the key
/// comes from the environment only (a flag would show in `ps`).
fn approval_options(
    queue: Option<String>,
    store: Option<String>,
    url: Option<String>,
    listen: Option<std::net::SocketAddr>,
) -> Result<Option<crate::worker::ApprovalOptions>> {
    if queue.is_none() && listen.is_none() {
        return Ok(None);
    }
    let key_variable = crate::approval::service::KEY_VARIABLE;
    let (Some(store), Ok(key)) = (store, std::env::var(key_variable)) else {
        anyhow::bail!(
            "--approvals-queue and --approval-listen need --approval-store s3://bucket[/prefix] \
             and the signing key in {key_variable} (at least 32 random bytes)"
        );
    };
    if let Some(url) = url
        .as_deref()
        .filter(|u| !crate::approval::service::safe_base_url(u))
    {
        anyhow::bail!(
            "--approval-url {url}: a link is a secret, so it must be https:// (or http:// to a \
             loopback address such as 127.0.0.1, on one machine)"
        );
    }
    Ok(Some(crate::worker::ApprovalOptions {
        queue,
        store,
        key,
        url,
        listen,
    }))
}
