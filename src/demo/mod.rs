//! `cpsf demo`: the whole job on the playground. It starts the playground
//! (or uses the one the environment names), installs the same definitions
//! everything else uses, runs the worker in this process, and deploys the
//! sample app four times: create, update, no changes, and a change that
//! would replace a resource, which the replacement policy refuses.
//!
//! With `--targets`, one run instead: the sample app rolled out to two
//! accounts × two regions in waves (`targets.rs`, MiniStack only). With
//! `--environments`, three branch environments from one pipeline, listed,
//! one torn down, the rest pruned (`environments.rs`). With `--approval`,
//! a risky change through README's approval by link: the notification,
//! the page, the decision, the deploy going on (`approval.rs`).
//!
//! - `setup.rs`: buckets, action type, state machine, pipeline
//! - `watch.rs`: live progress
//! - `targets.rs`: the rollout run
//! - `environments.rs`: the branch environments' steps
//! - `approval.rs`: the approval's steps
//! - `upstream.rs`: the stacks whose outputs those deploys read
//! - `canary.rs`: `--canary`, a Lambda alias shifted in steps, then rolled back
//! - here: the runs, their checks and the summary

pub mod approval;
pub mod canary;
pub mod environments;
mod pipeline;
pub mod setup;
pub mod targets;
pub mod upstream;
pub mod watch;

use anyhow::Context;
use cpsf_playground::{LocalEnv, Playground, PlaygroundOptions};
use cpsf_worker::aws::Clients;
use cpsf_worker::job::handle::JobSettings;
use cpsf_worker::metrics::Metrics;
use cpsf_worker::worker::{ApprovalOptions, WorkerOptions};
use pipeline::{action_summary, deploy_action, execution_timeline, start_with};
use serde_json::Value;
use setup::{PIPELINE, SOURCE_BUCKET, SOURCE_KEY};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use watch::Display;

/// The sample application, compiled in so the demo runs from anywhere.
const APP_TEMPLATE: &str = include_str!("../../app/template.yaml");
const APP_DEPLOY: &str = include_str!("../../app/deploy.json");

pub struct DemoOptions {
    /// Leave the playground (and the worker) running afterwards.
    pub keep: bool,
    /// The emulator of a playground the demo starts itself.
    pub emulator: cpsf_playground::Emulator,
    pub env_file: PathBuf,
    /// Roll the app out to several accounts and regions instead of the
    /// four runs (`targets.rs`).
    pub targets: bool,
    /// Branch environments instead of the four runs (`environments.rs`).
    pub environments: bool,
    /// A risky change approved by link instead of the four runs
    /// (`approval.rs`).
    pub approval: bool,
    /// A canary of a Lambda alias instead of the four runs (`canary.rs`).
    pub canary: bool,
}

/// One pipeline run of the demo and what it must end with.
struct Run {
    label: &'static str,
    greeting: &'static str,
    /// Rename the queue's logical id: CloudFormation would replace it.
    rename_queue: bool,
    /// The pipeline execution's status when the run did what it should.
    status: &'static str,
    /// What the action's result then says.
    expect: &'static str,
}

const RUNS: [Run; 4] = [
    Run {
        label: "1/4 create",
        greeting: "hello from cpsf",
        rename_queue: false,
        status: "Succeeded",
        expect: "succeeded: created",
    },
    Run {
        label: "2/4 update",
        greeting: "hello again from cpsf",
        rename_queue: false,
        status: "Succeeded",
        expect: "succeeded: updated",
    },
    Run {
        label: "3/4 no changes",
        greeting: "hello again from cpsf",
        rename_queue: false,
        status: "Succeeded",
        expect: "succeeded: no changes",
    },
    Run {
        label: "4/4 refused",
        greeting: "hello again from cpsf",
        rename_queue: true,
        status: "Failed",
        expect: "Cpsf.UnsafeChange",
    },
];

struct RunResult {
    label: &'static str,
    ok: bool,
    status: String,
    duration: Duration,
    summary: String,
    outputs: Vec<(String, String)>,
    timeline: String,
}

/// Runs the demo; true when all four runs (or the rollout, or the
/// environments' steps) did what they should.
pub async fn run(options: DemoOptions, shutdown: CancellationToken) -> anyhow::Result<bool> {
    if (options.targets || options.canary)
        && options.emulator != cpsf_playground::Emulator::Ministack
        && LocalEnv::from_process_env().is_none()
    {
        let what = if options.canary {
            "--canary needs Lambda versions and weighted aliases, which only MiniStack emulates"
        } else {
            "--targets rolls out to two accounts, which only MiniStack emulates (a 12-digit \
             access key is the account)"
        };
        anyhow::bail!("{what}: run it with --emulator ministack");
    }
    let (playground, mut env) = match LocalEnv::from_process_env() {
        Some(env) => {
            cpsf_worker::preflight::check_endpoints(&[
                ("AWS_ENDPOINT_URL", &env.aws_endpoint),
                ("AWS_ENDPOINT_URL_CODEPIPELINE", &env.codepipeline_endpoint),
            ])
            .await?;
            println!(
                "Using the playground at {} and {}",
                env.aws_endpoint, env.codepipeline_endpoint
            );
            (None, env)
        }
        None => {
            println!(
                "Starting the playground ({} + the local CodePipeline service)…",
                options.emulator
            );
            let playground =
                Playground::start(PlaygroundOptions::for_emulator(options.emulator)?).await?;
            let env = playground.env().clone();
            (Some(playground), env)
        }
    };
    let sdk = env.sdk_config().await;
    let clients = Clients {
        codepipeline: env.codepipeline_client(&sdk),
        sfn: aws_sdk_sfn::Client::new(&sdk),
        sdk,
    };
    let deploy: Value = serde_json::from_str(APP_DEPLOY).context("app/deploy.json")?;
    let stack = deploy["stackName"]
        .as_str()
        .context("app/deploy.json has no stackName")?
        .to_string();
    // The playground's approvals (a playground named only by its
    // endpoints has none yet: made here).
    let approvals = match env.approvals.clone() {
        Some(approvals) => approvals,
        None => {
            cpsf_playground::approvals::install(&clients.sdk, &env.s3_client(&clients.sdk)).await?
        }
    };
    println!("Installing the action type, the deploy state machine and the pipeline {PIPELINE}…");
    let prepared = setup::prepare(&clients, &stack, Some(&approvals.queue)).await?;
    let machine = prepared.state_machine;
    // The worker takes the approval requests from the queue the state
    // machine sends them to; the env file (--keep) names that queue, and
    // the store and key `cpsf approve` decides with.
    let approvals = cpsf_playground::approvals::LocalApprovals {
        queue: prepared.approvals_queue.unwrap_or(approvals.queue),
        ..approvals
    };
    // A playground this demo did not start (`cpsf local up`) wrote its env
    // file before the bootstrap stack existed: on fakecloud, the pipeline's
    // requests go to that stack's queue, not the file's. The file is
    // brought up to date so a worker started from it takes them.
    if playground.is_none()
        && env
            .approvals
            .as_ref()
            .is_some_and(|a| a.queue != approvals.queue)
    {
        let updated =
            env.update_file(&options.env_file, "CPSF_APPROVALS_QUEUE", &approvals.queue)?;
        println!(
            "The pipeline's approval requests go to {} (bootstrap/cpsf.yaml's ApprovalsQueue){}",
            approvals.queue,
            if updated {
                format!(
                    ": {} now names it; source it again before starting a worker of your own",
                    options.env_file.display()
                )
            } else {
                format!(
                    ": a worker of your own takes them with CPSF_APPROVALS_QUEUE={}",
                    approvals.queue
                )
            }
        );
    }
    env.approvals = Some(approvals.clone());

    // The worker runs as bootstrap/cpsf.yaml's worker role where the
    // playground checks IAM (MiniStack: `local/worker_role.rs`), with the
    // role's credentials assumed through STS; the demo's own calls act as
    // the account's root.
    let worker_sdk = env.worker_sdk_config().await;
    let worker_clients = Clients {
        codepipeline: env.codepipeline_client(&worker_sdk),
        sfn: aws_sdk_sfn::Client::new(&worker_sdk),
        sdk: worker_sdk,
    };
    // With --approval the worker serves the page the notification links
    // to, on a loopback port of its own.
    let page = if options.approval {
        Some(free_loopback_port()?)
    } else {
        None
    };
    let worker_stop = CancellationToken::new();
    let worker = tokio::spawn(cpsf_worker::worker::run(
        worker_clients,
        worker_options(env.events_queue.clone(), approvals, page),
        Metrics::default(),
        worker_stop.clone(),
    ));
    let all_ok = if options.targets {
        targets::run(&clients, &machine, &deploy, &stack).await?
    } else if options.canary {
        canary::run(&clients).await?
    } else if options.environments {
        environments::run(&clients, &machine, &deploy).await?
    } else if options.approval {
        // By hand: a person decides, from the page or a second terminal
        // that sourced the env file, written now for it.
        let by_hand = options.keep && std::io::stdin().is_terminal();
        let env_hint = if playground.is_none() {
            "(with this playground's environment, as this shell has it)".to_string()
        } else if options.keep {
            env.write(&options.env_file)?;
            format!("source {}", options.env_file.display())
        } else {
            format!(
                "source {}     (run the demo with --keep to have it written)",
                options.env_file.display()
            )
        };
        let decide = approval::Decide {
            by_hand,
            env_hint: &env_hint,
        };
        approval::run(&clients, &deploy, &stack, decide).await?
    } else {
        let mut results = Vec::new();
        for run in &RUNS {
            if shutdown.is_cancelled() {
                break;
            }
            results.push(run_once(&clients, run, &deploy, &stack).await?);
        }
        print_summary(&results, playground.is_none() || options.keep);
        results.len() == RUNS.len() && results.iter().all(|r| r.ok)
    };

    if options.keep && playground.is_some() && !shutdown.is_cancelled() {
        env.write(&options.env_file)?;
        print_keep_instructions(&env, &options.env_file);
        shutdown.cancelled().await;
        let _ = std::fs::remove_file(&options.env_file);
    }
    worker_stop.cancel();
    worker.await.context("the worker task failed")??;
    if let Some(playground) = playground {
        playground.stop().await;
    }
    Ok(all_ok)
}

/// The worker as the playground runs it (`local/preset.rs`), deploying
/// under the demo's stack prefix, with the playground's execution events
/// queue when its emulator sends them, and its approvals: requests taken
/// from their queue, decided with `cpsf approve`, and, on `page` (a
/// loopback port: `--approval`), on the page the notification links to.
fn worker_options(
    events_queue: Option<String>,
    approvals: cpsf_playground::approvals::LocalApprovals,
    page: Option<u16>,
) -> WorkerOptions {
    let preset = cpsf_playground::preset::worker(cpsf_playground::names::STACK_PREFIX);
    WorkerOptions {
        job: JobSettings {
            events_queue,
            ..preset.job
        },
        approvals: Some(ApprovalOptions {
            queue: Some(approvals.queue),
            store: approvals.store,
            key: approvals.key,
            url: page.map(|port| format!("http://127.0.0.1:{port}")),
            listen: page.map(|port| std::net::SocketAddr::from(([127, 0, 0, 1], port))),
        }),
        ..preset
    }
}

/// A free loopback port (bound, then let go, for the worker to bind).
fn free_loopback_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")
        .context("no free loopback port for the approval page")?
        .local_addr()?
        .port())
}

async fn run_once(
    clients: &Clients,
    run: &Run,
    deploy: &Value,
    stack: &str,
) -> anyhow::Result<RunResult> {
    let mut deploy = deploy.clone();
    deploy["parameters"]["Greeting"] = run.greeting.into();
    let template = if run.rename_queue {
        APP_TEMPLATE.replace("WorkQueue", "JobQueue")
    } else {
        APP_TEMPLATE.to_string()
    };
    let started = Instant::now();
    let id = start_with(clients, &deploy, &template).await?;
    let mut display = Display::new();
    let prefix = format!("run {}", run.label);
    let final_snapshot = loop {
        let snapshot = watch::snapshot(clients, PIPELINE, &id, stack).await;
        display.update(&prefix, snapshot.line());
        if snapshot.is_done() {
            break snapshot;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let duration = started.elapsed();
    let result = describe_run(clients, run, &id, final_snapshot.status, duration).await;
    let verdict = if result.ok { "ok" } else { "NOT OK" };
    display.finish(format!(
        "run {} — {} in {:.1}s: {} [{verdict}]",
        run.label,
        result.status,
        duration.as_secs_f64(),
        result.summary
    ));
    Ok(result)
}

/// Reads what the run did: its action's summary, outputs and timeline.
async fn describe_run(
    clients: &Clients,
    run: &Run,
    id: &str,
    status: String,
    duration: Duration,
) -> RunResult {
    let deploy = deploy_action(clients, PIPELINE, id).await;
    let summary = action_summary(deploy.as_ref());
    let result = deploy
        .as_ref()
        .and_then(|d| d.output())
        .and_then(|o| o.execution_result());
    let variables = deploy
        .as_ref()
        .and_then(|d| d.output())
        .and_then(|o| o.output_variables())
        .cloned()
        .unwrap_or_default();
    let mut outputs: Vec<(String, String)> = variables
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "ExecutionArn" | "StateMachineArn"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    outputs.sort();
    let timeline = match variables.get("ExecutionArn").or(result
        .and_then(|r| r.external_execution_id().map(str::to_string))
        .as_ref())
    {
        Some(arn) => execution_timeline(clients, arn).await,
        None => String::new(),
    };
    RunResult {
        label: run.label,
        ok: status == run.status && summary.contains(run.expect),
        status,
        duration,
        summary,
        outputs,
        timeline,
    }
}

/// `can_look`: the playground outlives the demo (the environment's, or --keep).
fn print_summary(results: &[RunResult], can_look: bool) {
    println!();
    println!("Summary");
    for result in results {
        let verdict = if result.ok { "ok" } else { "NOT OK" };
        println!(
            "  run {:<15} {:<9} {:>5.1}s  [{verdict}]",
            result.label,
            result.status,
            result.duration.as_secs_f64()
        );
        println!("    result:   {}", result.summary);
        if !result.outputs.is_empty() {
            let outputs: Vec<String> = result
                .outputs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            println!("    outputs:  {}", outputs.join("  "));
        }
        if !result.timeline.is_empty() {
            println!("    timeline: {}", result.timeline);
        }
    }
    let passed = results.iter().filter(|r| r.ok).count();
    println!();
    println!("{passed} of {} runs did what they should.", RUNS.len());
    if can_look {
        println!(
            "Run 4 was refused on purpose; see why with: cpsf history {PIPELINE}   (add --graph deploy.svg for a picture)"
        );
    } else {
        println!(
            "Run 4 was refused on purpose. To look into it yourself: run the demo with --keep, then in another \
             terminal: source .cpsf/local.env && cpsf history {PIPELINE}"
        );
    }
}

fn print_keep_instructions(env: &LocalEnv, env_file: &std::path::Path) {
    println!();
    println!("The playground keeps running (Ctrl-C stops it). Point any AWS tool at it:");
    println!();
    print!("{}", env.export_lines());
    println!();
    println!("(also written to {}). For example:", env_file.display());
    println!("  source {}", env_file.display());
    println!("  cpsf history {PIPELINE} --graph deploy.svg");
    println!("  aws codepipeline get-pipeline-state --name {PIPELINE}");
    println!("  aws cloudformation describe-stacks --stack-name cpsf-demo-app");
    println!(
        "  aws s3 cp app.zip s3://{SOURCE_BUCKET}/{SOURCE_KEY} && aws codepipeline start-pipeline-execution --name {PIPELINE}"
    );
    println!(
        "A deploy.json with an \"approval\" block (README, \"Approval by link\") waits for a decision:"
    );
    println!("  cpsf approve {PIPELINE} --comment \"ship it\"     (or --reject)");
    println!(
        "  (cpsf demo --approval walks that through: the notification, the page, the decision)"
    );
    if env.profiles.is_some() {
        println!(
            "  AWS_PROFILE={} cpsf worker   # another worker, as bootstrap/cpsf.yaml's worker role",
            cpsf_playground::worker_role::PROFILE
        );
        println!(
            "    (add --approval-listen 127.0.0.1:8080 --approval-url http://127.0.0.1:8080 to serve \
             approval pages; it takes requests from the queue the env file names)"
        );
    }
}
