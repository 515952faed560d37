//! `cpsf worker`: its flags and how they become the worker's options.
//!
//! The flags come in groups, one help heading each. A flag's default is
//! read from its settings struct's `Default` (`PollerSettings`,
//! `JobSettings`, `RunnerSettings`, `TaskOptions`), never typed here, so
//! `--help` shows what the worker runs with.

use super::parse_key_value;
use anyhow::Result;
use aws_sdk_codepipeline::types::{ActionCategory, ActionOwner, ActionTypeId};
use clap::Args;
use cpsf_worker::aws::Clients;
use cpsf_worker::job::handle::JobSettings;
use cpsf_worker::job::journal::JournalLocation;
use cpsf_worker::job::poller::PollerSettings;
use cpsf_worker::tasks::RunnerSettings;
use cpsf_worker::worker::{TaskOptions, WorkerOptions};
use std::fmt;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    action: ActionTypeArgs,
    #[command(flatten)]
    jobs: JobArgs,
    #[command(flatten)]
    follow: FollowArgs,
    #[command(flatten)]
    tasks: TaskArgs,
    #[command(flatten)]
    approvals: ApprovalArgs,
    #[command(flatten)]
    process: ProcessArgs,
}

/// Which jobs are this worker's (`PollerSettings::action_type`, `query`).
#[derive(Args)]
#[command(next_help_heading = "Action type")]
struct ActionTypeArgs {
    /// Action type category.
    #[arg(long, env = "CPSF_ACTION_CATEGORY", default_value_t = default_action().category().as_str().to_owned())]
    category: String,
    /// Action type owner.
    #[arg(long, env = "CPSF_ACTION_OWNER", default_value_t = default_action().owner().as_str().to_owned())]
    owner: String,
    /// Action type provider.
    #[arg(long, env = "CPSF_ACTION_PROVIDER", default_value_t = default_action().provider().to_owned())]
    provider: String,
    /// Action type version.
    #[arg(
        long = "action-version",
        env = "CPSF_ACTION_VERSION",
        default_value_t = default_action().version().to_owned()
    )]
    action_version: String,
    /// Only take jobs whose queryable property has this value (KEY=VALUE).
    #[arg(long, env = "CPSF_QUERY_PARAM", value_parser = parse_key_value)]
    query_param: Option<(String, String)>,
}

/// Polling CodePipeline for jobs (`PollerSettings`).
#[derive(Args)]
#[command(next_help_heading = "Jobs (polling CodePipeline)")]
struct JobArgs {
    /// Most jobs handled at once.
    #[arg(long, env = "CPSF_MAX_IN_FLIGHT", default_value_t = PollerSettings::default().max_in_flight as u32, value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_in_flight: u32,
    /// First pause after a poll that found nothing.
    #[arg(long, env = "CPSF_POLL_MIN", default_value_t = FlagDuration(PollerSettings::default().poll_min))]
    poll_min: FlagDuration,
    /// Longest pause between polls when idle (jitter included).
    #[arg(long, env = "CPSF_POLL_MAX", default_value_t = FlagDuration(PollerSettings::default().poll_max))]
    poll_max: FlagDuration,
    /// Longest pause between polls while jobs are in flight.
    #[arg(long, env = "CPSF_POLL_BUSY", default_value_t = FlagDuration(PollerSettings::default().poll_busy))]
    poll_busy: FlagDuration,
    /// Serve only the job poller, not the activity task handlers.
    #[arg(long, env = "CPSF_JOBS_ONLY", conflicts_with = "tasks_only")]
    jobs_only: bool,
}

/// A job's execution, from its start to its report (`JobSettings`).
#[derive(Args)]
#[command(next_help_heading = "Following executions")]
struct FollowArgs {
    /// How long one job follows a running execution before handing it back
    /// to CodePipeline as a continuation.
    #[arg(long, env = "CPSF_FOLLOW_FOR", default_value_t = FlagDuration(JobSettings::default().follow_for))]
    follow_for: FlagDuration,
    /// An SQS queue fed by EventBridge rules with Step Functions'
    /// execution status changes and CodePipeline's action starts: an
    /// execution's end wakes the job following it at once, an action's
    /// start the job poller (paced checks and polls stay as the safety net).
    #[arg(long, env = "CPSF_EVENTS_QUEUE", value_name = "SQS_URL")]
    events_queue: Option<String>,
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
}

/// The deploy state machine's activities (`RunnerSettings`, `TaskOptions`).
#[derive(Args)]
#[command(next_help_heading = "Task handlers (Step Functions activities)")]
struct TaskArgs {
    /// Serve only the activity task handlers, not the job poller.
    #[arg(long, env = "CPSF_TASKS_ONLY")]
    tasks_only: bool,
    /// Activity names are <prefix>check-stack, <prefix>create-stack, …
    #[arg(long, env = "CPSF_ACTIVITY_PREFIX", default_value_t = cpsf_worker::activity::runner::DEFAULT_ACTIVITY_PREFIX.to_owned())]
    activity_prefix: String,
    /// Most tasks of each activity handled at once.
    #[arg(long, env = "CPSF_TASK_CONCURRENCY", default_value_t = RunnerSettings::default().max_concurrent as u32, value_parser = clap::value_parser!(u32).range(1..=256))]
    task_concurrency: u32,
    /// Most wait-stack tasks handled at once: a wait holds its task for
    /// the stack's whole operation but costs little.
    #[arg(long, env = "CPSF_WAIT_CONCURRENCY", default_value_t = RunnerSettings::default().max_waits as u32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    wait_concurrency: u32,
    /// Most DescribeStacks (and DescribeChangeSet) calls a second all waits
    /// make together; each wait's pause grows with their number.
    #[arg(long, env = "CPSF_DESCRIBE_RATE", default_value_t = TaskOptions::default().describe_rate, value_parser = positive_rate)]
    describe_rate: f64,
    /// How often a working task handler sends a heartbeat.
    #[arg(long, env = "CPSF_HEARTBEAT_EVERY", default_value_t = FlagDuration(RunnerSettings::default().heartbeat_every))]
    heartbeat_every: FlagDuration,
    /// How long one wait-stack task blocks before the state machine asks again.
    #[arg(long, env = "CPSF_WAIT_CAP", default_value_t = FlagDuration(TaskOptions::default().wait_cap))]
    wait_cap: FlagDuration,
    /// Tear down (`"operation": "delete"`) only stacks whose names start
    /// with this: the prefix the worker's role may deploy (bootstrap's
    /// DeployedStackPrefix). Without it, a teardown still deletes only a
    /// stack tagged as that environment.
    #[arg(long, env = "CPSF_STACK_PREFIX", value_name = "PREFIX")]
    stack_prefix: Option<String>,
    /// S3 bucket for templates over 51,200 bytes (passed by TemplateURL).
    #[arg(long, env = "CPSF_STAGING_BUCKET")]
    staging_bucket: Option<String>,
}

/// Approvals by link (`ApprovalOptions`).
#[derive(Args)]
#[command(next_help_heading = "Approvals")]
struct ApprovalArgs {
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

/// What the whole process shares: health, shutdown, AWS calls.
#[derive(Args)]
#[command(next_help_heading = "Process")]
struct ProcessArgs {
    /// Serve /healthz and /metrics here, e.g. 127.0.0.1:9090.
    #[arg(long, env = "CPSF_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// How long in-flight jobs get to finish after SIGINT/SIGTERM.
    #[arg(long, env = "CPSF_SHUTDOWN_GRACE", default_value_t = FlagDuration(cpsf_worker::shutdown::GRACE))]
    shutdown_grace: FlagDuration,
    /// Attempts per AWS call, retries included (default: the SDK's, 3, or AWS_MAX_ATTEMPTS).
    #[arg(long, env = "CPSF_AWS_MAX_ATTEMPTS")]
    aws_max_attempts: Option<u32>,
}

/// The action type `cpsf worker` serves unless told otherwise.
fn default_action() -> ActionTypeId {
    PollerSettings::default().action_type
}

/// A duration as a flag reads it (humantime: "250ms", "30s", "1h") and
/// shows its default: whole seconds as humantime writes them, else in
/// milliseconds ("1500ms" rather than humantime's "1s 500ms").
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct FlagDuration(pub(super) Duration);

impl std::str::FromStr for FlagDuration {
    type Err = humantime::DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(text).map(Self)
    }
}

impl fmt::Display for FlagDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.subsec_nanos();
        if nanos != 0 && nanos.is_multiple_of(1_000_000) {
            write!(f, "{}ms", self.0.as_millis())
        } else {
            write!(f, "{}", humantime::format_duration(self.0))
        }
    }
}

impl WorkerArgs {
    /// The options these flags ask for. The journal's default, this
    /// machine's state directory, is left to `run`, which says so.
    fn options(self) -> Result<WorkerOptions> {
        let action_type = ActionTypeId::builder()
            .category(ActionCategory::from(self.action.category.as_str()))
            .owner(ActionOwner::from(self.action.owner.as_str()))
            .provider(self.action.provider)
            .version(self.action.action_version)
            .build()?;
        let shutdown_grace = self.process.shutdown_grace.0;
        let follow = self.follow;
        Ok(WorkerOptions {
            poller: (!self.tasks.tasks_only).then_some(PollerSettings {
                action_type,
                query: self.action.query_param,
                max_in_flight: self.jobs.max_in_flight as usize,
                poll_min: self.jobs.poll_min.0,
                poll_max: self.jobs.poll_max.0,
                poll_busy: self.jobs.poll_busy.0,
                shutdown_grace,
                ..PollerSettings::default()
            }),
            tasks: (!self.jobs.jobs_only).then(|| {
                let tasks = self.tasks;
                TaskOptions {
                    runner: RunnerSettings {
                        activities: TaskOptions::activities(&tasks.activity_prefix),
                        max_concurrent: tasks.task_concurrency as usize,
                        max_waits: tasks.wait_concurrency as usize,
                        heartbeat_every: tasks.heartbeat_every.0,
                        shutdown_grace,
                        // The worker's name: its host and pid.
                        ..RunnerSettings::default()
                    },
                    staging_bucket: tasks.staging_bucket,
                    wait_cap: tasks.wait_cap.0,
                    describe_rate: tasks.describe_rate,
                    stack_prefix: tasks.stack_prefix,
                    // The pauses between a wait's describes have no flag.
                    ..TaskOptions::default()
                }
            }),
            job: JobSettings {
                follow_for: follow.follow_for.0,
                recover_from_pipelines: follow.recover_from.is_empty(),
                recover_from: follow.recover_from,
                journal: follow.journal,
                events_queue: follow.events_queue,
                ..JobSettings::default()
            },
            listen: self.process.listen,
            approvals: approval_options(self.approvals)?,
        })
    }
}

pub async fn run(args: WorkerArgs) -> Result<()> {
    // First: a missing region or credentials is the one line a user sees.
    let sdk = cpsf_worker::aws::load_checked(args.process.aws_max_attempts).await?;
    let mut options = args.options()?;
    options.job.journal = journal_or_default(options.job.journal.take());
    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            cpsf_worker::shutdown::signal().await;
            tracing::info!("shutdown requested: no new jobs; finishing the ones in flight");
            shutdown.cancel();
        }
    });
    cpsf_worker::worker::run(
        Clients::new(&sdk),
        options,
        cpsf_worker::metrics::Metrics::default(),
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
    match cpsf_worker::job::journal::default_directory(state.as_deref(), home.as_deref()) {
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

/// The approval options, when the queue or the page is asked for; the key
/// comes from the environment only (a flag would show in `ps`).
fn approval_options(args: ApprovalArgs) -> Result<Option<cpsf_worker::worker::ApprovalOptions>> {
    let ApprovalArgs {
        approvals_queue: queue,
        approval_store: store,
        approval_url: url,
        approval_listen: listen,
    } = args;
    if queue.is_none() && listen.is_none() {
        return Ok(None);
    }
    let key_variable = cpsf_worker::approval::service::KEY_VARIABLE;
    let (Some(store), Ok(key)) = (store, std::env::var(key_variable)) else {
        anyhow::bail!(
            "--approvals-queue and --approval-listen need --approval-store s3://bucket[/prefix] \
             and the signing key in {key_variable} (at least 32 random bytes)"
        );
    };
    if let Some(url) = url
        .as_deref()
        .filter(|u| !cpsf_worker::approval::service::safe_base_url(u))
    {
        anyhow::bail!(
            "--approval-url {url}: a link is a secret, so it must be https:// (or http:// to a \
             loopback address such as 127.0.0.1, on one machine)"
        );
    }
    Ok(Some(cpsf_worker::worker::ApprovalOptions {
        queue,
        store,
        key,
        url,
        listen,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::{CommandFactory, FromArgMatches};

    /// `cpsf worker <words>`, whatever CPSF_* variables the environment
    /// running the test sets (a sourced .cpsf/local.env sets some).
    fn parse(words: &[&str]) -> WorkerArgs {
        let command = Cli::command().mut_subcommand("worker", |c| c.mut_args(|a| a.env(None)));
        let line = ["cpsf", "worker"].iter().chain(words);
        let matches = command.try_get_matches_from(line).unwrap();
        match Cli::from_arg_matches(&matches).unwrap().command {
            Command::Worker(args) => args,
            _ => unreachable!("parsed `cpsf worker`"),
        }
    }

    /// The flags' defaults are the settings structs' `Default`: shown by
    /// `--help`, read back by the parser, and mapped to the field they set.
    #[test]
    fn with_no_flags_the_worker_runs_each_settings_default() {
        let options = parse(&[]).options().unwrap();
        assert_eq!(options.poller, Some(PollerSettings::default()));
        assert_eq!(options.tasks, Some(TaskOptions::default()));
        assert_eq!(
            options.job,
            JobSettings {
                // No --recover-from: the pipelines' state machines.
                recover_from_pipelines: true,
                ..JobSettings::default()
            }
        );
        assert_eq!(options.listen, None);
        assert!(options.approvals.is_none());
    }

    /// Each flag reaches its own field (a default would hide a swap).
    #[test]
    fn each_flag_sets_its_own_setting() {
        let options = parse(&[
            "--poll-min=1ms",
            "--poll-max=2ms",
            "--poll-busy=3ms",
            "--max-in-flight=4",
            "--shutdown-grace=5s",
            "--follow-for=6s",
            "--task-concurrency=7",
            "--wait-concurrency=9",
            "--heartbeat-every=10s",
            "--wait-cap=11s",
            "--describe-rate=12",
            "--activity-prefix=x-",
        ])
        .options()
        .unwrap();
        let poller = options.poller.unwrap();
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        assert_eq!(
            (poller.poll_min, poller.poll_max, poller.poll_busy),
            (ms(1), ms(2), ms(3))
        );
        assert_eq!((poller.max_in_flight, poller.shutdown_grace), (4, s(5)));
        assert_eq!(options.job.follow_for, s(6));
        let tasks = options.tasks.unwrap();
        let runner = &tasks.runner;
        assert_eq!((runner.max_concurrent, runner.max_waits), (7, 9));
        assert_eq!(
            (runner.heartbeat_every, runner.shutdown_grace),
            (s(10), s(5))
        );
        assert_eq!((tasks.wait_cap, tasks.describe_rate), (s(11), 12.0));
        assert_eq!(runner.activities[0].1, "x-check-stack");
    }

    #[test]
    fn a_default_duration_is_shown_as_the_parser_reads_it() {
        for (shown, duration) in [
            ("100ms", Duration::from_millis(100)),
            ("1500ms", Duration::from_millis(1500)),
            ("30s", Duration::from_secs(30)),
            ("1h", Duration::from_secs(3600)),
        ] {
            assert_eq!(FlagDuration(duration).to_string(), shown);
            assert_eq!(shown.parse::<FlagDuration>().unwrap().0, duration);
        }
    }

    /// `cpsf worker --help` groups its flags: every one under a heading.
    #[test]
    fn every_worker_flag_is_under_a_heading() {
        let mut cli = Cli::command();
        let worker = cli.find_subcommand_mut("worker").unwrap();
        let loose: Vec<_> = worker
            .get_arguments()
            .filter(|a| a.get_help_heading().is_none())
            .map(|a| a.get_id().to_string())
            .collect();
        assert!(loose.is_empty(), "flags with no heading: {loose:?}");
        let help = worker.render_long_help().to_string();
        for heading in [
            "Action type:",
            "Jobs (polling CodePipeline):",
            "Following executions:",
            "Task handlers (Step Functions activities):",
            "Approvals:",
            "Process:",
        ] {
            assert!(help.contains(heading), "no {heading:?} in\n{help}");
        }
    }
}
