//! Command line: parse, set up logging, dispatch to one command.

use crate::aws::CallContext;
use crate::aws::Clients;
use crate::job::handle::JobSettings;
use crate::job::poller::PollerSettings;
use crate::local::codepipeline::Config as CodePipelineConfig;
use crate::local::proxy::{FaultPlan, Proxy, ProxyOptions};
use crate::local::{LocalEnv, Playground, PlaygroundOptions};
use crate::logging::LogFormat;
use crate::tasks::runner::RunnerSettings;
use crate::worker::{TaskOptions, WorkerOptions};
use anyhow::{Context, Result};
use aws_sdk_codepipeline::types::{ActionCategory, ActionOwner, ActionTypeId};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "cpsf",
    version,
    about = "Run a CodePipeline deploy step through AWS Step Functions"
)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human, env = "CPSF_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve the custom Deploy action: poll CodePipeline for jobs and run
    /// each as a Step Functions execution.
    Worker(WorkerArgs),
    /// Deploy the sample app four times (create, update, no changes, a
    /// refused replacement) on the playground, with the worker in this
    /// process. Exits 0 if all four runs did what they should.
    Demo(DemoArgs),
    /// Show an execution's history: a timeline with durations, retries and
    /// the failed state, or JSON. TARGET is an execution ARN or a pipeline
    /// name (its newest cpsf action execution).
    History(HistoryArgs),
    /// Run a saved event (a job, a Lambda-style CodePipeline event, or a
    /// task handler's input) through the worker's own code, against the
    /// endpoints the environment names.
    Replay(ReplayArgs),
    /// Install cpsf in an AWS account: bootstrap/cpsf.yaml (action type,
    /// state machine, activities, roles, the worker's ECS service).
    Bootstrap(BootstrapArgs),
    /// Exit 0 if a worker's /healthz answers 200 (the container HEALTHCHECK).
    Healthcheck(HealthcheckArgs),
    /// The local playground: fakecloud plus a local CodePipeline service.
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
}

#[derive(Args)]
struct WorkerArgs {
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
    /// (repeat, or separate with commas).
    #[arg(
        long,
        env = "CPSF_RECOVER_FROM",
        value_delimiter = ',',
        value_name = "STATE_MACHINE_ARN"
    )]
    recover_from: Vec<String>,
    /// Where continuation jobs are recorded between acknowledgement and
    /// report, so a restarted worker can answer them: s3://bucket[/prefix].
    #[arg(long, env = "CPSF_JOURNAL", value_name = "S3_URI")]
    journal: Option<crate::job::journal::JournalLocation>,
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
    /// How often a working task handler sends a heartbeat.
    #[arg(long, env = "CPSF_HEARTBEAT_EVERY", value_parser = humantime::parse_duration, default_value = "20s")]
    heartbeat_every: Duration,
    /// How long one wait-stack task blocks before the state machine asks again.
    #[arg(long, env = "CPSF_WAIT_CAP", value_parser = humantime::parse_duration, default_value = "1h")]
    wait_cap: Duration,
    /// S3 bucket for templates over 51,200 bytes (passed by TemplateURL).
    #[arg(long, env = "CPSF_STAGING_BUCKET")]
    staging_bucket: Option<String>,
    /// Serve /healthz and /metrics here, e.g. 127.0.0.1:9090.
    #[arg(long, env = "CPSF_LISTEN")]
    listen: Option<std::net::SocketAddr>,
}

/// Shown in the execution history as the activity worker: host and pid.
async fn history(args: HistoryArgs) -> Result<()> {
    use crate::history::{fetch, view::View};
    let sdk = crate::aws::load(None).await;
    let clients = Clients::new(&sdk);
    let arn = fetch::resolve(&clients, &args.target, args.pipeline_execution.as_deref()).await?;
    let events = if args.follow {
        let quiet = args.json;
        fetch::follow(&clients, &arn, |event, at| {
            if !quiet {
                println!(
                    "{:>9}  {}",
                    format!("+{at:.2}s"),
                    crate::history::view::event_line(event)
                );
            }
        })
        .await?
    } else {
        fetch::all_events(&clients, &arn).await?
    };
    let view = View::new(&arn, &events);
    if let Some(path) = &args.graph {
        let described = clients
            .sfn
            .describe_state_machine_for_execution()
            .execution_arn(&arn)
            .send()
            .await
            .call_context("DescribeStateMachineForExecution")?;
        let definition: serde_json::Value = serde_json::from_str(described.definition())
            .context("the state machine's definition is not JSON")?;
        let graph = crate::history::graph::build(
            &definition,
            &crate::history::timeline::timeline(&events),
        )?;
        crate::history::graph::write(&graph, path)?;
        eprintln!("wrote {}", path.display());
    }
    if args.json {
        println!("{}", view.json());
    } else {
        if args.follow {
            println!();
        }
        print!("{}", view.text());
    }
    if args.follow && view.status != "SUCCEEDED" {
        anyhow::bail!("the execution ended {}", view.status);
    }
    Ok(())
}

async fn replay(args: ReplayArgs) -> Result<()> {
    if let Some(kind) = &args.new {
        print!("{}", crate::replay::template(kind)?);
        return Ok(());
    }
    let path = args.event.expect("clap requires it without --new");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("could not read {}", path.display()))?;
    let event = crate::replay::detect(&text, args.task)?;
    let sdk = crate::aws::load(None).await;
    let result = crate::replay::run(&Clients::new(&sdk), event, args.send).await?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}

async fn bootstrap(args: BootstrapArgs) -> Result<()> {
    let sdk = crate::aws::load(None).await;
    let options = crate::bootstrap::BootstrapOptions {
        stack_name: args.stack_name.clone(),
        definition_bucket: args.definition_bucket,
        parameters: args.parameters,
    };
    let outputs = crate::bootstrap::run(&Clients::new(&sdk), &options).await?;
    println!("stack {} is ready:", args.stack_name);
    for (key, value) in outputs {
        println!("  {key:<30} {value}");
    }
    Ok(())
}

async fn healthcheck(args: HealthcheckArgs) -> Result<()> {
    let endpoint = format!("http://{}", args.listen);
    let status = tokio::time::timeout(
        Duration::from_secs(3),
        crate::local::probe::http_status(&endpoint, "GET", "/healthz"),
    )
    .await
    .map_err(|_| anyhow::anyhow!("{endpoint}/healthz did not answer within 3 s"))?
    .with_context(|| format!("{endpoint}/healthz"))?;
    anyhow::ensure!(status == 200, "{endpoint}/healthz answered {status}");
    Ok(())
}

async fn demo(args: DemoArgs) -> Result<()> {
    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            crate::shutdown::signal().await;
            shutdown.cancel();
        }
    });
    let options = crate::demo::DemoOptions {
        keep: args.keep,
        env_file: args.env_file,
    };
    if crate::demo::run(options, shutdown).await? {
        Ok(())
    } else {
        anyhow::bail!("the demo's runs did not all do what they should (see the summary above)")
    }
}

fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "cpsf".into());
    format!("{host}-{}", std::process::id())
        .chars()
        .take(80)
        .collect()
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got '{text}'")),
    }
}

#[derive(Args)]
struct HistoryArgs {
    /// An execution ARN, or a pipeline name.
    target: String,
    /// With a pipeline name: this pipeline execution instead of the newest.
    #[arg(long)]
    pipeline_execution: Option<String>,
    /// Stream new events until the execution ends; exit 0 only if it succeeded.
    #[arg(long)]
    follow: bool,
    /// Print the stable JSON form (see README) instead of the timeline.
    #[arg(long)]
    json: bool,
    /// Also draw the state machine with the path taken: FILE.svg, .png,
    /// .dot or .mmd (Mermaid).
    #[arg(long, value_name = "FILE")]
    graph: Option<PathBuf>,
}

#[derive(Args)]
struct ReplayArgs {
    /// The event file (see test_events/).
    #[arg(required_unless_present = "new")]
    event: Option<PathBuf>,
    /// The task handler, when a task input does not tell.
    #[arg(long, value_parser = parse_handler)]
    task: Option<crate::tasks::Handler>,
    /// For jobs: print the report instead of sending it (the default).
    #[arg(long, conflicts_with = "send")]
    dry_run: bool,
    /// For jobs: really report to CodePipeline.
    #[arg(long)]
    send: bool,
    /// Print a template event instead: job, continuation, lambda,
    /// check-stack, create-stack, update-stack, delete-stack, wait-stack.
    #[arg(long, value_name = "KIND")]
    new: Option<String>,
}

fn parse_handler(name: &str) -> Result<crate::tasks::Handler, String> {
    crate::tasks::Handler::ALL
        .into_iter()
        .find(|h| h.default_activity().trim_start_matches("cpsf-") == name)
        .ok_or_else(|| format!("unknown task '{name}': check-stack, create-stack, update-stack, delete-stack, wait-stack"))
}

#[derive(Args)]
struct BootstrapArgs {
    /// An S3 bucket for the state machine's definition.
    #[arg(long)]
    definition_bucket: String,
    /// The CloudFormation stack to create or update.
    #[arg(long, default_value = "cpsf")]
    stack_name: String,
    /// A template parameter, KEY=VALUE (repeat): WorkerImage, VpcId, Subnets,
    /// ArtifactBucketName, DeployedStackPrefix, NamePrefix, … (see README).
    #[arg(long = "parameter", value_parser = parse_key_value)]
    parameters: Vec<(String, String)>,
}

#[derive(Args)]
struct HealthcheckArgs {
    /// The worker's --listen address.
    #[arg(long, env = "CPSF_LISTEN", default_value = "127.0.0.1:9090")]
    listen: String,
}

#[derive(Args)]
struct DemoArgs {
    /// Leave the playground and the worker running afterwards (Ctrl-C stops them).
    #[arg(long)]
    keep: bool,
    /// With --keep: where to write the playground's `export` lines.
    #[arg(long, default_value = ".cpsf/local.env")]
    env_file: PathBuf,
}

#[derive(Subcommand)]
enum LocalCommand {
    /// Start the playground and run until SIGINT or SIGTERM.
    Up(UpArgs),
}

#[derive(Args)]
struct UpArgs {
    /// Where to write the `export` lines that point AWS tools at the playground.
    #[arg(long, default_value = ".cpsf/local.env")]
    env_file: PathBuf,
    /// How long a dispatched job waits for AcknowledgeJob before it is queued again.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "60s")]
    dispatch_timeout: Duration,
    /// How long a job may go without a result before it times out.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "24h")]
    job_timeout: Duration,
    /// Put a fault proxy in front that fails this share (0..1) of all calls:
    /// throttled, 5xx, dropped after taking effect, or slow.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
}

pub async fn run(cli: Cli) -> Result<()> {
    // The demo draws its own progress; the worker's logs would tear it.
    let default_level = if matches!(cli.command, Command::Demo(_)) {
        "warn"
    } else {
        "info"
    };
    crate::logging::init(cli.log_format, default_level);
    match cli.command {
        Command::Worker(args) => worker(args).await,
        Command::Demo(args) => demo(args).await,
        Command::Healthcheck(args) => healthcheck(args).await,
        Command::History(args) => history(args).await,
        Command::Replay(args) => replay(args).await,
        Command::Bootstrap(args) => bootstrap(args).await,
        Command::Local {
            command: LocalCommand::Up(args),
        } => local_up(args).await,
    }
}

async fn worker(args: WorkerArgs) -> Result<()> {
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
                heartbeat_every: args.heartbeat_every,
                worker_name: worker_name(),
                shutdown_grace: args.shutdown_grace,
            },
            staging_bucket: args.staging_bucket,
            wait_cap: args.wait_cap,
            poll_min: Duration::from_millis(500),
            poll_max: Duration::from_secs(5),
        }),
        job: JobSettings {
            follow_for: args.follow_for,
            recover_from: args.recover_from,
            journal: args.journal,
            ..JobSettings::default()
        },
        listen: args.listen,
    };
    let sdk = crate::aws::load(args.aws_max_attempts).await;
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

async fn local_up(args: UpArgs) -> Result<()> {
    let mut options = PlaygroundOptions::from_env()?;
    options.codepipeline = CodePipelineConfig {
        dispatch_timeout: args.dispatch_timeout,
        job_timeout: args.job_timeout,
        ..CodePipelineConfig::default()
    };
    let playground = Playground::start(options).await?;
    // With faults, tools are pointed at the fault proxy instead.
    let proxy = match args.fault_rate {
        rate if rate > 0.0 => Some(
            Proxy::start(ProxyOptions {
                codepipeline: playground.env().codepipeline_endpoint.clone(),
                fakecloud: playground.env().aws_endpoint.clone(),
                faults: FaultPlan::all_kinds(rate.min(1.0)),
                hook: None,
            })
            .await?,
        ),
        _ => None,
    };
    let env = match &proxy {
        Some(proxy) => LocalEnv {
            aws_endpoint: proxy.endpoint(),
            codepipeline_endpoint: proxy.endpoint(),
        },
        None => playground.env().clone(),
    };
    env.write(&args.env_file)?;
    print!("{}", env.export_lines());
    tracing::info!(
        env_file = %args.env_file.display(),
        "playground is up; `source {}` to point AWS tools at it; Ctrl-C stops it",
        args.env_file.display()
    );
    crate::shutdown::signal().await;
    tracing::info!("stopping the playground");
    if let Some(proxy) = proxy {
        tracing::info!(stats = %serde_json::to_string(&proxy.stats())?, "fault proxy: calls and faults");
    }
    playground.stop().await;
    // A stale env file would point tools at ports nobody serves.
    let _ = std::fs::remove_file(&args.env_file);
    Ok(())
}
