//! `cpsf local up`: the playground, optionally behind a fault proxy.

use anyhow::Result;
use clap::{Args, Subcommand};
use cpsf_playground::codepipeline::Config as CodePipelineConfig;
use cpsf_playground::proxy::{FaultPlan, Proxy, ProxyOptions};
use cpsf_playground::{LocalEnv, Playground, PlaygroundOptions};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Subcommand)]
pub enum LocalCommand {
    /// Start the playground and run until SIGINT or SIGTERM.
    Up(UpArgs),
}

#[derive(Args)]
pub struct UpArgs {
    /// Where to write the `export` lines that point AWS tools at the playground.
    #[arg(long, default_value = ".cpsf/local.env")]
    env_file: PathBuf,
    /// The AWS emulator: ministack (installs in seconds, precise change
    /// sets) or fakecloud (enforces activity timeouts; a long build).
    #[arg(long, value_enum, env = cpsf_playground::emulator::ENV_VAR, default_value_t)]
    emulator: cpsf_playground::Emulator,
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

pub async fn up(args: UpArgs) -> Result<()> {
    let mut options = PlaygroundOptions::for_emulator(args.emulator)?;
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
                emulator: playground.env().aws_endpoint.clone(),
                faults: FaultPlan::all_kinds_on(rate.min(1.0), args.emulator),
                hook: None,
                keep_orphaned_tasks: false,
                checks: None,
            })
            .await?,
        ),
        _ => None,
    };
    let env = match &proxy {
        Some(proxy) => LocalEnv {
            aws_endpoint: proxy.endpoint(),
            codepipeline_endpoint: proxy.endpoint(),
            ..playground.env().clone()
        },
        None => playground.env().clone(),
    };
    env.write(&args.env_file)?;
    print!("{}", env.export_lines());
    tracing::info!(
        env_file = %args.env_file.display(),
        emulator = %args.emulator,
        "playground is up on {}; `source {}` to point AWS tools at it; Ctrl-C stops it",
        args.emulator,
        args.env_file.display()
    );
    if let Some(profiles) = &env.profiles {
        tracing::info!(
            role = %profiles.worker.arn,
            stack_prefix = %profiles.worker.stack_prefix,
            "`AWS_PROFILE={} cpsf worker` runs a worker as bootstrap/cpsf.yaml's worker role; \
             without AWS_PROFILE, tools act as the account's root",
            cpsf_playground::worker_role::PROFILE
        );
    }
    cpsf_worker::shutdown::signal().await;
    tracing::info!("stopping the playground");
    if let Some(proxy) = proxy {
        tracing::info!(stats = %serde_json::to_string(&proxy.stats())?, "fault proxy: calls and faults");
    }
    playground.stop().await;
    // A stale env file would point tools at ports nobody serves.
    let _ = std::fs::remove_file(&args.env_file);
    Ok(())
}
