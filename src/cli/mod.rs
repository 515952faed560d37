//! Command line: parse, set up logging, dispatch to one command.

mod approve;
#[cfg(feature = "playground")]
mod demo;
mod environments;
#[cfg(feature = "playground")]
mod local;
mod worker;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use cpsf_worker::aws::CallContext;
use cpsf_worker::aws::Clients;
use cpsf_worker::logging::LogFormat;
use std::path::PathBuf;
use std::time::Duration;

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
    Worker(worker::WorkerArgs),
    #[cfg(feature = "playground")]
    /// Deploy the sample app four times (create, update, no changes, a
    /// refused replacement) on the playground, with the worker in this
    /// process. Exits 0 if all four runs did what they should.
    Demo(demo::DemoArgs),
    /// Show an execution's history: a timeline with durations, retries and
    /// the failed state, or JSON. TARGET is an execution ARN or a pipeline
    /// name (its newest cpsf action execution).
    History(HistoryArgs),
    /// Approve (or with --reject, reject) the change set a deploy waits
    /// on: the approval page's decision, for people with AWS access.
    Approve(approve::ApproveArgs),
    /// Run a saved event (a job, a Lambda-style CodePipeline event, or a
    /// task handler's input) through the worker's own code, against the
    /// endpoints the environment names.
    Replay(ReplayArgs),
    /// Branch environments (stacks deployed with "environment"): list
    /// them, or prune the stale ones.
    Environments {
        #[command(subcommand)]
        command: environments::EnvironmentsCommand,
    },
    /// Install cpsf in an AWS account: bootstrap/cpsf.yaml (action type,
    /// state machine, activities, roles, the worker's ECS service).
    Bootstrap(BootstrapArgs),
    /// Exit 0 if a worker's /healthz answers 200 (the container HEALTHCHECK).
    Healthcheck(HealthcheckArgs),
    #[cfg(feature = "playground")]
    /// The local playground: an AWS emulator (MiniStack or fakecloud) plus a
    /// local CodePipeline service.
    Local {
        #[command(subcommand)]
        command: local::LocalCommand,
    },
}

async fn history(args: HistoryArgs) -> Result<()> {
    use cpsf_worker::history::{fetch, view::View};
    let sdk = cpsf_worker::aws::load_checked(None).await?;
    let clients = Clients::new(&sdk);
    let arn = fetch::resolve(&clients, &args.target, args.pipeline_execution.as_deref()).await?;
    let events = if args.follow {
        let quiet = args.json;
        fetch::follow(&clients, &arn, |event, at| {
            if !quiet {
                println!(
                    "{:>9}  {}",
                    format!("+{at:.2}s"),
                    cpsf_worker::history::view::event_line(event)
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
        let graph = cpsf_worker::history::graph::build(&definition, &events)?;
        cpsf_worker::history::graph::write(&graph, path)?;
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
        print!("{}", cpsf_worker::replay::template(kind)?);
        return Ok(());
    }
    let path = args.event.expect("clap requires it without --new");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("could not read {}", path.display()))?;
    let hints = cpsf_worker::replay::Hints {
        task: args.task,
        action_type: args.action_type,
    };
    let event = cpsf_worker::replay::detect(&text, &hints)?;
    let sdk = cpsf_worker::aws::load_checked(None).await?;
    let result = cpsf_worker::replay::run(&Clients::new(&sdk), event, args.send).await?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}

async fn bootstrap(args: BootstrapArgs) -> Result<()> {
    let sdk = cpsf_worker::aws::load_checked(None).await?;
    let options = cpsf_worker::bootstrap::BootstrapOptions {
        stack_name: args.stack_name.clone(),
        definition_bucket: args.definition_bucket,
        parameters: args.parameters,
        resets: args.resets,
    };
    let outputs = cpsf_worker::bootstrap::run(&Clients::new(&sdk), &options).await?;
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
        cpsf_worker::probe::http_status(&endpoint, "GET", "/healthz"),
    )
    .await
    .map_err(|_| anyhow::anyhow!("{endpoint}/healthz did not answer within 3 s"))?
    .with_context(|| format!("{endpoint}/healthz"))?;
    anyhow::ensure!(status == 200, "{endpoint}/healthz answered {status}");
    Ok(())
}

pub(crate) fn parse_key_value(text: &str) -> Result<(String, String), String> {
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
    task: Option<cpsf_worker::tasks::Handler>,
    /// For jobs: print the report instead of sending it (the default).
    #[arg(long, conflicts_with = "send")]
    dry_run: bool,
    /// For jobs: really report to CodePipeline.
    #[arg(long)]
    send: bool,
    /// The action type a Lambda event's job is taken for (a Lambda invoke
    /// event names none).
    #[arg(long, value_name = "CATEGORY/OWNER/PROVIDER/VERSION", value_parser = cpsf_worker::replay::lambda::ActionType::parse, default_value_t = cpsf_worker::replay::lambda::ActionType::cpsf())]
    action_type: cpsf_worker::replay::lambda::ActionType,
    /// Print a template event instead: job, continuation, lambda-event,
    /// check-stack, create-stack, update-stack, delete-stack, wait-stack.
    #[arg(long, value_name = "KIND")]
    new: Option<String>,
}

fn parse_handler(name: &str) -> Result<cpsf_worker::tasks::Handler, String> {
    cpsf_worker::tasks::Handler::ALL
        .into_iter()
        .find(|h| h.default_activity().trim_start_matches("cpsf-") == name)
        .ok_or_else(|| {
            let names: Vec<&str> = cpsf_worker::tasks::Handler::ALL
                .iter()
                .map(|h| h.name())
                .collect();
            format!("unknown task '{name}': {}", names.join(", "))
        })
}

#[derive(Args)]
struct BootstrapArgs {
    /// An S3 bucket for the state machine's definition and the template
    /// (over CloudFormation's 51,200 inline bytes, so sent by URL).
    #[arg(long)]
    definition_bucket: String,
    /// The CloudFormation stack to create or update.
    #[arg(long, default_value = "cpsf")]
    stack_name: String,
    /// A template parameter, KEY=VALUE (repeat): WorkerImage, VpcId, Subnets,
    /// ArtifactBucketName, DeployedStackPrefix, NamePrefix, … (see README).
    /// On an update, a parameter not given keeps the value the stack has.
    #[arg(long = "parameter", value_parser = parse_key_value)]
    parameters: Vec<(String, String)>,
    /// Return a parameter to its template default on an update (repeat).
    #[arg(long = "reset", value_name = "PARAM")]
    resets: Vec<String>,
}

#[derive(Args)]
struct HealthcheckArgs {
    /// The worker's --listen address.
    #[arg(long, env = "CPSF_LISTEN", default_value = "127.0.0.1:9090")]
    listen: String,
}

pub async fn run(cli: Cli) -> Result<()> {
    // The demo draws its own progress; the worker's logs would tear it.
    #[cfg(feature = "playground")]
    let quiet = matches!(cli.command, Command::Demo(_));
    #[cfg(not(feature = "playground"))]
    let quiet = false;
    let default_level = if quiet { "warn" } else { "info" };
    cpsf_worker::logging::init(cli.log_format, default_level);
    match cli.command {
        Command::Worker(args) => worker::run(args).await,
        #[cfg(feature = "playground")]
        Command::Demo(args) => demo::run(args).await,
        Command::Healthcheck(args) => healthcheck(args).await,
        Command::History(args) => history(args).await,
        Command::Approve(args) => approve::run(args).await,
        Command::Environments { command } => environments::run(command).await,
        Command::Replay(args) => replay(args).await,
        Command::Bootstrap(args) => bootstrap(args).await,
        #[cfg(feature = "playground")]
        Command::Local {
            command: local::LocalCommand::Up(args),
        } => local::up(args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    /// A Lambda event's job is taken for the action type `cpsf worker`
    /// serves unless `--action-type` says otherwise.
    #[test]
    fn replay_takes_lambda_events_for_the_workers_action_type() {
        let matches = Cli::command()
            .try_get_matches_from(["cpsf", "replay", "event.json"])
            .unwrap();
        let Command::Replay(args) = Cli::from_arg_matches(&matches).unwrap().command else {
            unreachable!("parsed `cpsf replay`")
        };
        assert_eq!(
            args.action_type,
            cpsf_worker::replay::lambda::ActionType::cpsf()
        );
        let worker = cpsf_worker::job::poller::PollerSettings::default().action_type;
        assert_eq!(args.action_type.provider, worker.provider());
        assert_eq!(args.action_type.version, worker.version());
    }
}
