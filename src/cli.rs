//! Command line: parse, set up logging, dispatch to one command.

use crate::local::codepipeline::Config as CodePipelineConfig;
use crate::local::{Playground, PlaygroundOptions};
use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
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

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// The local playground: fakecloud plus a local CodePipeline service.
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
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
}

pub async fn run(cli: Cli) -> Result<()> {
    init_logging(cli.log_format);
    match cli.command {
        Command::Local {
            command: LocalCommand::Up(args),
        } => local_up(args).await,
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn local_up(args: UpArgs) -> Result<()> {
    let mut options = PlaygroundOptions::from_env()?;
    options.codepipeline = CodePipelineConfig {
        dispatch_timeout: args.dispatch_timeout,
        job_timeout: args.job_timeout,
        ..CodePipelineConfig::default()
    };
    let playground = Playground::start(options).await?;
    playground.env().write(&args.env_file)?;
    print!("{}", playground.env().export_lines());
    tracing::info!(
        env_file = %args.env_file.display(),
        "playground is up; `source {}` to point AWS tools at it; Ctrl-C stops it",
        args.env_file.display()
    );
    crate::shutdown::signal().await;
    tracing::info!("stopping the playground");
    playground.stop().await;
    // A stale env file would point tools at ports nobody serves.
    let _ = std::fs::remove_file(&args.env_file);
    Ok(())
}
