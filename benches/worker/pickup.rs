//! Event-driven pickup and an idle worker's cost (issue 31), in one run:
//!
//! - idle: workers side by side, each idle for a while after its start-up,
//!   each with one more source than the one before (jobs only, polling
//!   once a second; jobs with the events queue; as deployed: jobs, the
//!   deploy state machine's activities, approvals, events queue): each
//!   one's AWS calls a minute by operation (from its counting proxy), CPU
//!   and RSS. A source's cost is the step from one worker to the next.
//! - pickup and per job: every duration class served by cpsf polling once
//!   a second (the baseline: no queue) and by cpsf with the events queue
//!   (action starts and execution ends), side by side: pickup (job queued,
//!   which on the playground is the action's start, to acknowledged, and
//!   to dispatched), CPU and AWS calls per job above idle.
//!
//! `CPSF_BENCH_ONLY=pickup cargo bench --bench worker [-- --quick]` writes
//! bench/results/pickup-<emulator>.{json,md}; with `CPSF_BENCH_CPSF=<an
//! older cpsf>` and `CPSF_BENCH_PICKUP_AS=before`, the same for that
//! binary as pickup-<emulator>-before, which the report then shows beside.
//! Needs the playground's events (MiniStack).

use crate::latency::{ClassResult, Shape, classes_side_by_side, side_by_side_results};
use crate::report::{class_name, ms};
use crate::world::{Worker, World};
use crate::{Plan, futures_join};
use cpsf_worker::bootstrap::definition::{DEPLOY_ASL, install, with_timeout};
use cpsf_worker::worker::TaskOptions;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Issue 31's targets, checked and reported, never asserted.
struct Targets {
    pickup_p50: f64,
    pickup_p99: f64,
    idle_cpu_ms: f64,
    idle_polls: f64,
    cpu_ms_per_job: f64,
    calls_per_job: f64,
    idle_rss_mb: f64,
}

const TARGETS: Targets = Targets {
    pickup_p50: 0.1,
    pickup_p99: 0.3,
    idle_cpu_ms: 0.5,
    idle_polls: 6.0,
    cpu_ms_per_job: 2.0,
    calls_per_job: 8.0,
    idle_rss_mb: 20.0,
};

/// One idle worker's figures.
#[derive(Debug, serde::Serialize)]
struct Idle {
    worker: &'static str,
    seconds: f64,
    calls_per_minute: BTreeMap<String, f64>,
    cpu_ms_per_second: f64,
    rss_mb: f64,
}

pub async fn pickup(world: &World, plan: &Plan) -> anyhow::Result<Value> {
    let queue = world.playground.env().events_queue.clone();
    anyhow::ensure!(
        queue.is_some(),
        "the playground has no events queue here: run on MiniStack"
    );
    let started = Instant::now();
    let idle = idle_sources(world, plan).await?;
    eprintln!("==> idle done ({:.0} s)", started.elapsed().as_secs_f64());
    let classes: Vec<ClassResult> = classes_side_by_side(
        world,
        plan,
        &[("poll", Shape::Ours), ("pick", Shape::Events)],
    )
    .await?;
    let mut results = side_by_side_results(world, plan, started, classes);
    results["binary"] = json!(std::env::var("CPSF_BENCH_CPSF").unwrap_or("this build".into()));
    results["idle"] = json!(idle);
    Ok(results)
}

/// The idle workers, side by side.
async fn idle_sources(world: &World, plan: &Plan) -> anyhow::Result<Vec<Idle>> {
    let queue = world
        .playground
        .env()
        .events_queue
        .clone()
        .unwrap_or_default();
    // The activities the deployed worker polls exist (a deploy machine).
    install(
        &world.sfn,
        "bench-idle-deploy",
        crate::world::ROLE,
        &TaskOptions::activities("cpsf-"),
        &with_timeout(DEPLOY_ASL, 3600),
        None,
    )
    .await?;
    for provider in ["IdlePoll", "IdleEvents", "IdleDeployed"] {
        world.action_type(provider).await?;
    }
    // A minute either way: a few of every source's long polls and timers.
    let seconds = if plan.quick { 60.0 } else { 120.0 };
    let events = ["--events-queue", queue.as_str()];
    let workers = [
        (
            "jobs, polling once a second",
            Worker::start(world, "IdlePoll", &[]).await?,
        ),
        (
            "jobs, events queue",
            Worker::start(world, "IdleEvents", &events).await?,
        ),
        (
            "as deployed: jobs, activities, approvals, events queue",
            Worker::start_deployed(world, "IdleDeployed", &events).await?,
        ),
    ];
    let measured = workers.iter().map(|(name, worker)| async move {
        worker.settle().await;
        let (calls, cpu) = (worker.calls(), worker.cpu_time());
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        let (after, cpu_after) = (worker.calls(), worker.cpu_time());
        let calls_per_minute = after
            .calls
            .iter()
            .map(|(op, n)| {
                let before = calls.calls.get(op).copied().unwrap_or(0);
                (op.clone(), n.saturating_sub(before) as f64 * 60.0 / seconds)
            })
            .filter(|(_, n)| *n > 0.0)
            .collect();
        anyhow::Ok(Idle {
            worker: name,
            seconds,
            calls_per_minute,
            cpu_ms_per_second: (cpu_after - cpu).as_secs_f64() * 1000.0 / seconds,
            rss_mb: worker.rss_bytes() as f64 / 1e6,
        })
    });
    futures_join(measured.collect()).await
}

fn f(value: &Value, path: &[&str]) -> f64 {
    path.iter()
        .fold(value, |v, k| &v[*k])
        .as_f64()
        .unwrap_or_default()
}

/// The idle table of one run.
fn idle_table(results: &Value, label: &str) -> String {
    let mut out = String::new();
    for idle in results["idle"].as_array().into_iter().flatten() {
        let calls = idle["calls_per_minute"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(op, n)| format!("{op} {:.1}", n.as_f64().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let total: f64 = idle["calls_per_minute"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_f64).sum())
            .unwrap_or_default();
        out += &format!(
            "| {label} | {} | {calls} | {total:.1} | {:.2} ms/s | {:.1} MB |\n",
            idle["worker"].as_str().unwrap_or_default(),
            f(idle, &["cpu_ms_per_second"]),
            f(idle, &["rss_mb"]),
        );
    }
    out
}

/// The report of `results`, beside `before`'s idle table if given.
pub fn report(results: &Value, before: Option<&Value>) -> String {
    let mut out = format!(
        "Run {} ({} plan, on {}, {} CPUs, shared with other builds), {:.0} s: \
         `CPSF_BENCH_ONLY=pickup cargo bench --bench worker{}`.\n\n",
        results["when"].as_str().unwrap_or_default(),
        results["plan"].as_str().unwrap_or_default(),
        results["emulator"].as_str().unwrap_or_default(),
        results["machine"]["cpus"],
        f(results, &["seconds"]),
        if results["plan"] == "quick" {
            " -- --quick"
        } else {
            ""
        },
    );
    out += "## Idle: each source's calls and CPU\n\n";
    out += "Each worker idle after its start-up; a source's cost is the step from one row to the next of the same build. CPU time is read from the process's CPU-time clock, to the nanosecond.\n\n";
    out += "| build | worker | AWS calls a minute, by operation | calls a minute | CPU | RSS |\n|---|---|---|---|---|---|\n";
    if let Some(before) = before {
        out += &idle_table(
            before,
            &format!("before ({})", before["when"].as_str().unwrap_or("?")),
        );
    }
    out += &idle_table(results, "after");
    let classes = results["classes"].as_array().cloned().unwrap_or_default();
    out += "\n## Pickup and cost per job\n\n";
    out += "Pickup: the job queued (on the playground, the action's start) to acknowledged (after StartExecution) and to dispatched (PollForJobs handed it out). Per job: the worker's CPU over its class less its idle rate, and its AWS calls less its long polls that came back empty (PollForJobs with no job, ReceiveMessage with no message) and its start-up (discovery and both recovery sweeps).\n\n";
    out += "| execution | worker | jobs | pickup p50 / p99 (acknowledged) | dispatched p50 / p99 | calls per job | CPU per job above idle | idle CPU |\n|---|---|---|---|---|---|---|---|\n";
    for c in &classes {
        let dispatched = c["pickup_dispatched"].clone();
        out += &format!(
            "| {} | {} | {} | {} / {} | {} / {} | {:.1} | {:.2} ms | {:.2} ms/s |\n",
            class_name(f(c, &["seconds"])),
            if c["events"] == true {
                "cpsf, events queue"
            } else {
                "cpsf, polling once a second"
            },
            c["jobs"],
            ms(f(c, &["pickup", "p50"])),
            ms(f(c, &["pickup", "p99"])),
            ms(f(&dispatched, &["p50"])),
            ms(f(&dispatched, &["p99"])),
            f(c, &["calls_per_job"]),
            f(c, &["cpu_ms_per_job_above_idle"]),
            f(c, &["idle_cpu_ms_per_second"]),
        );
    }
    out += &targets(results, &classes);
    out
}

/// The targets, each with its figure and the same run's baseline.
fn targets(results: &Value, classes: &[Value]) -> String {
    let mut out = String::from(
        "\n## Targets (against the same run's worker polling once a second)\n\n| target | figure | baseline | ratio | met |\n|---|---|---|---|---|\n",
    );
    let mut row = |name: String, figure: f64, baseline: f64, unit: &str, met: bool| {
        let ratio = if figure > 0.0 {
            format!("{:.1}×", baseline / figure)
        } else {
            "—".into()
        };
        out += &format!(
            "| {name} | {figure:.2} {unit} | {baseline:.2} {unit} | {ratio} | {} |\n",
            if met { "yes" } else { "**no**" }
        );
    };
    for pair in classes.chunks(2) {
        let [poll, events] = pair else { continue };
        let class = class_name(f(events, &["seconds"]));
        let p50 = f(events, &["pickup", "p50"]);
        let p99 = f(events, &["pickup", "p99"]);
        row(
            format!("{class}: pickup p50 ≤ 100 ms"),
            p50 * 1e3,
            f(poll, &["pickup", "p50"]) * 1e3,
            "ms",
            p50 <= TARGETS.pickup_p50,
        );
        row(
            format!("{class}: pickup p99 ≤ 300 ms"),
            p99 * 1e3,
            f(poll, &["pickup", "p99"]) * 1e3,
            "ms",
            p99 <= TARGETS.pickup_p99,
        );
        let cpu = f(events, &["cpu_ms_per_job_above_idle"]);
        row(
            format!("{class}: CPU above idle ≤ 2 ms a job"),
            cpu,
            f(poll, &["cpu_ms_per_job_above_idle"]),
            "ms",
            cpu <= TARGETS.cpu_ms_per_job,
        );
        let calls = f(events, &["calls_per_job"]);
        row(
            format!("{class}: ≤ 8 calls a job"),
            calls,
            f(poll, &["calls_per_job"]),
            "",
            calls <= TARGETS.calls_per_job,
        );
    }
    let idle = results["idle"].as_array().cloned().unwrap_or_default();
    if let [polling, events, deployed] = idle.as_slice() {
        let polls = |i: &Value| f(i, &["calls_per_minute", "codepipeline:PollForJobs"]);
        row(
            "idle: ≤ 6 PollForJobs a minute".into(),
            polls(events),
            polls(polling),
            "/min",
            polls(events) <= TARGETS.idle_polls,
        );
        let cpu = |i: &Value| f(i, &["cpu_ms_per_second"]);
        row(
            "idle (jobs, events queue): ≤ 0.5 ms CPU a second".into(),
            cpu(events),
            cpu(polling),
            "ms/s",
            cpu(events) <= TARGETS.idle_cpu_ms,
        );
        row(
            "idle (as deployed): ≤ 0.5 ms CPU a second".into(),
            cpu(deployed),
            cpu(polling),
            "ms/s",
            cpu(deployed) <= TARGETS.idle_cpu_ms,
        );
        let rss = |i: &Value| f(i, &["rss_mb"]);
        row(
            "idle RSS (as deployed) ≤ 20 MB".into(),
            rss(deployed),
            rss(polling),
            "MB",
            rss(deployed) <= TARGETS.idle_rss_mb,
        );
    }
    out
}
