//! Many long stack operations at once, served by one worker with default
//! flags (issue 14, item 11: with one slot limit for all handlers, the 9th
//! concurrent deploy's WaitForStack was never polled).
//!
//! Each of `deploys` pipelines runs the real deploy state machine
//! (statemachines/) on the sample app of app/, with its own stack. The
//! template holds a WaitCondition whose CreationPolicy waits for one
//! signal (CloudFormation user guide, "CreationPolicy attribute"), so every
//! stack stays CREATE_IN_PROGRESS until the benchmark signals it with
//! SignalResource. Emulators complete stacks at once otherwise; MiniStack
//! holds such a resource as AWS does (fakecloud completes it at once, so
//! there the waits are short and the figures say little).
//!
//! Measured: how many deploys reached WaitForStack (the worker's
//! wait-stack slots in use), the worker's RSS, its DescribeStacks calls a
//! second while all wait (through its counting proxy), and the time from
//! the signals to every pipeline execution Succeeded.

use crate::world::{ROLE, SOURCE_BUCKET, Worker, World};
use cpsf_worker::base::limits::DEFAULT_TIMEOUT_SECONDS;
use cpsf_worker::bootstrap::definition::{DEPLOY_ASL, install, with_timeout};
use cpsf_worker::worker::TaskOptions;
use serde_json::{Value, json};
use std::io::Write;
use std::time::{Duration, Instant};

const APP_TEMPLATE: &str = include_str!("../../app/template.yaml");
const APP_DEPLOY: &str = include_str!("../../app/deploy.json");
const PROVIDER: &str = "BenchWaits";
const BUSY_WAITS: &str = "cpsf_task_slots_busy{handler=\"wait-stack\"}";

/// The sample app as deploy `i`: its own stack, its own SSM parameter
/// (named after the environment), and a gate that holds the create.
fn app(i: usize) -> (String, String) {
    let mut deploy: Value = serde_json::from_str(APP_DEPLOY).expect("app/deploy.json");
    deploy["stackName"] = stack(i).into();
    deploy["parameters"]["Environment"] = format!("bench-waits-{i}").into();
    let gate = "Resources:
  Gate:
    Type: AWS::CloudFormation::WaitCondition
    CreationPolicy:
      ResourceSignal:
        Count: 1
        Timeout: PT10M
";
    let template = APP_TEMPLATE.replacen("Resources:\n", gate, 1);
    (deploy.to_string(), template)
}

fn stack(i: usize) -> String {
    format!("bench-waits-{i}")
}

fn zip_of(files: &[(&str, &str)]) -> anyhow::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in files {
        writer.start_file(*name, zip::write::SimpleFileOptions::default())?;
        writer.write_all(content.as_bytes())?;
    }
    Ok(writer.finish()?.into_inner())
}

/// `deploys` deploys held at their gates for `hold`, then signalled;
/// `reach_limit` is how long to wait for all of them to reach WaitForStack
/// (a worker that stalls them never does).
///
/// `CPSF_BENCH_WAITS_ARGS` adds flags to the worker, to compare: e.g.
/// `--wait-concurrency 8` (the old shared limit) or `--describe-rate 1000`
/// (no pacing).
pub async fn waits(
    world: &World,
    deploys: usize,
    hold: Duration,
    reach_limit: Duration,
) -> anyhow::Result<Value> {
    let action_type = world.action_type(PROVIDER).await?;
    let machine = install(
        &world.sfn,
        "bench-deploy",
        ROLE,
        &TaskOptions::activities("cpsf-"),
        &with_timeout(DEPLOY_ASL, DEFAULT_TIMEOUT_SECONDS),
        None,
    )
    .await?;
    let mut pipelines = Vec::with_capacity(deploys);
    for i in 0..deploys {
        let (name, key) = (format!("waits-{i}"), format!("waits-{i}.zip"));
        let (deploy, template) = app(i);
        world
            .s3
            .put_object()
            .bucket(SOURCE_BUCKET)
            .key(&key)
            .body(zip_of(&[("deploy.json", &deploy), ("template.yaml", &template)])?.into())
            .send()
            .await?;
        let configuration = [
            ("StateMachineArn", machine.as_str()),
            ("InputType", "FilePath"),
            ("Input", "deploy.json"),
        ];
        world
            .create_pipeline(&name, &key, &action_type, &configuration)
            .await?;
        pipelines.push(name);
    }
    // Default flags, as deployed: --task-concurrency 8, and the waits'
    // own limit and describe budget.
    let extra = std::env::var("CPSF_BENCH_WAITS_ARGS").unwrap_or_default();
    let args: Vec<&str> = extra.split_whitespace().collect();
    let worker = Worker::start_with_tasks(world, PROVIDER, &args).await?;
    let rss0 = worker.rss_bytes();

    let started = Instant::now();
    let ids = world.start_pipelines(&pipelines).await?;
    let runs: Vec<(String, String)> = pipelines.iter().cloned().zip(ids).collect();

    // Until every deploy's WaitForStack is with the worker.
    let mut peak_rss = 0u64;
    let mut reached = 0.0f64;
    let deadline = Instant::now() + reach_limit;
    while reached < deploys as f64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        reached = reached.max(worker.metric(BUSY_WAITS).await);
        peak_rss = peak_rss.max(worker.rss_bytes());
    }
    let reach_seconds = started.elapsed().as_secs_f64();
    let in_progress = stacks_in_progress(world, deploys).await;
    eprintln!(
        "==> waits: {reached} of {deploys} deploys reached WaitForStack in {reach_seconds:.1} s; \
         {in_progress} stacks in progress; holding {hold:?}"
    );

    // All wait: the worker's describe rate and memory.
    let describes = |w: &Worker| {
        w.calls()
            .calls
            .get("cloudformation:DescribeStacks")
            .copied()
            .unwrap_or(0)
    };
    let (held_from, describes0) = (Instant::now(), describes(&worker));
    let mut held_rss = Vec::new();
    while held_from.elapsed() < hold {
        tokio::time::sleep(Duration::from_millis(500)).await;
        held_rss.push(worker.rss_bytes());
    }
    let describe_rate =
        (describes(&worker) - describes0) as f64 / held_from.elapsed().as_secs_f64();
    let waits_at_signal = worker.metric(BUSY_WAITS).await;
    peak_rss = held_rss.iter().copied().fold(peak_rss, u64::max);

    // Signal every gate; time until every pipeline execution ended.
    let signalled = Instant::now();
    for chunk in (0..deploys).collect::<Vec<_>>().chunks(32) {
        let signals = chunk.iter().map(|i| {
            world
                .cfn
                .signal_resource()
                .stack_name(stack(*i))
                .logical_resource_id("Gate")
                .unique_id("bench")
                .status(aws_sdk_cloudformation::types::ResourceSignalStatus::Success)
                .send()
        });
        for signal in futures_util::future::join_all(signals).await {
            signal?;
        }
    }
    let mut open = runs.clone();
    let mut succeeded = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    while !open.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut still = Vec::new();
        for (name, id) in open {
            let status = world
                .cp
                .get_pipeline_execution()
                .pipeline_name(&name)
                .pipeline_execution_id(&id)
                .send()
                .await?
                .pipeline_execution
                .and_then(|e| e.status)
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            match status.as_str() {
                "InProgress" => still.push((name, id)),
                "Succeeded" => succeeded += 1,
                other => eprintln!("==> waits: {name} ended {other}"),
            }
        }
        peak_rss = peak_rss.max(worker.rss_bytes());
        open = still;
    }
    let done_seconds = signalled.elapsed().as_secs_f64();
    let mut slots_full = serde_json::Map::new();
    for handler in ["check-stack", "create-stack", "wait-stack"] {
        let sample = format!("cpsf_task_slots_full_seconds_total{{handler=\"{handler}\"}}");
        slots_full.insert(handler.into(), json!(worker.metric(&sample).await));
    }
    let mb = |bytes: u64| bytes as f64 / 1_048_576.0;
    Ok(json!({
        "worker_args": extra,
        "deploys": deploys,
        "reached_wait": reached,
        "reach_seconds": reach_seconds,
        "stacks_in_progress": in_progress,
        "waits_at_signal": waits_at_signal,
        "hold_seconds": hold.as_secs_f64(),
        "describe_stacks_per_second": describe_rate,
        "rss_mb_before": mb(rss0),
        "rss_mb_while_waiting": mb(held_rss.iter().copied().max().unwrap_or(0)),
        "peak_rss_mb": mb(peak_rss),
        "succeeded": succeeded,
        "signal_to_all_done_seconds": done_seconds,
        "slots_full_seconds": slots_full,
    }))
}

/// Stacks `bench-waits-*` whose operation is still in progress.
async fn stacks_in_progress(world: &World, deploys: usize) -> usize {
    let mut count = 0;
    for i in 0..deploys {
        let status = world
            .cfn
            .describe_stacks()
            .stack_name(stack(i))
            .send()
            .await
            .ok()
            .and_then(|d| Some(d.stacks().first()?.stack_status()?.as_str().to_string()));
        count += usize::from(status.is_some_and(|s| s.ends_with("_IN_PROGRESS")));
    }
    count
}

/// The markdown section of the results.
pub fn report(waits: &Value) -> String {
    let num = |k: &str| waits[k].as_f64().unwrap_or(f64::NAN);
    let flags = waits["worker_args"].as_str().unwrap_or_default();
    format!(
        "\nConcurrent long deploys, one worker with {} (stacks held by a \
         WaitCondition until signalled):\n\n\
         | deploys | reached WaitForStack | RSS while all wait | peak RSS | DescribeStacks/s while all wait | signal → all done | succeeded |\n\
         |---|---|---|---|---|---|---|\n\
         | {:.0} | {:.0} ({} stacks in progress) | {:.1} MB | {:.1} MB | {:.2} | {:.1} s | {:.0} |\n\n\
         Time all slots were busy (a task then waits in Step Functions): {}.\n",
        if flags.is_empty() {
            "default flags".to_string()
        } else {
            format!("`{flags}`")
        },
        num("deploys"),
        num("reached_wait"),
        waits["stacks_in_progress"],
        num("rss_mb_while_waiting"),
        num("peak_rss_mb"),
        num("describe_stacks_per_second"),
        num("signal_to_all_done_seconds"),
        num("succeeded"),
        waits["slots_full_seconds"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(h, s)| format!("{h} {:.1} s", s.as_f64().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
