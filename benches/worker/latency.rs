//! The duration classes: pipelines started at random over a spread, each
//! execution lasting the class's time, served by cpsf or by the ancestor's
//! shape; pickup and completion latencies from the local CodePipeline
//! service's job timings, AWS calls per job from the proxy, CPU per job.
//! The events comparison (events.rs) runs the same classes.

use crate::Plan;
use crate::stats::{Percentiles, percentiles};
use crate::world::{Worker, World};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

/// cpsf's worker as deployed (defaults), and the ancestor's fixed poll.
const OURS: &[&str] = &[];
const BASELINE_POLL: &[&str] = &["--poll-min", "30s", "--poll-max", "30s"];

#[derive(Debug, serde::Serialize)]
pub struct ClassResult {
    pub label: String,
    pub baseline: bool,
    /// cpsf with `--events-queue` (events.rs).
    pub events: bool,
    pub seconds: f64,
    pub jobs: usize,
    pub pickup: Percentiles,
    /// Queued to dispatched: PollForJobs handed the job out (pickup.rs).
    pub pickup_dispatched: Percentiles,
    pub pickup_samples: Vec<f64>,
    pub continuation_pickup: Percentiles,
    pub completion: Percentiles,
    pub completion_samples: Vec<f64>,
    pub calls_per_job: f64,
    pub calls_by_operation: BTreeMap<String, f64>,
    /// Calls the worker made at start-up, before its first job (`settle`):
    /// once per worker, left out of the per-job figures.
    pub startup_calls: BTreeMap<String, u64>,
    pub transitions: Percentiles,
    pub cpu_ms_per_job: f64,
    /// The worker's CPU while it had no job (after its start-up), per
    /// second: its long polls and timers, spent however many jobs it runs.
    pub idle_cpu_ms_per_second: f64,
    /// `cpu_ms_per_job` less that idle rate over the class's run.
    pub cpu_ms_per_job_above_idle: f64,
}

/// The samples `of` every class cpsf ran (`baseline` false) or the
/// baseline ran (true), pooled.
pub fn pooled(
    classes: &[ClassResult],
    baseline: bool,
    of: fn(&ClassResult) -> &Vec<f64>,
) -> Vec<f64> {
    classes
        .iter()
        .filter(|c| c.baseline == baseline)
        .flat_map(|c| of(c).iter().copied())
        .collect()
}

/// The worker a duration class runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// cpsf's blocking task and defaults.
    Ours,
    /// The same, with an events queue fed by a rule on this class's machine.
    Events,
    /// The ancestor's Wait loop and fixed 30 s poll.
    Baseline,
}

/// One duration class: `jobs` pipelines started at random over the spread,
/// each running an execution of `seconds`, served as `shape` says.
pub async fn latency_class(
    world: &World,
    plan: &Plan,
    label: &str,
    seconds: f64,
    shape: Shape,
) -> anyhow::Result<ClassResult> {
    let baseline = shape == Shape::Baseline;
    let provider = format!("Bench{label}");
    let action_type = world.action_type(&provider).await?;
    let machine = if baseline {
        world.wait_loop_machine(label).await?
    } else {
        world.blocking_machine(label).await?
    };
    let pipelines = world
        .pipelines(label, plan.jobs_per_class, &action_type, &machine, seconds)
        .await?;
    let mut args: Vec<String> = if baseline { BASELINE_POLL } else { OURS }
        .iter()
        .map(|a| a.to_string())
        .collect();
    if shape == Shape::Events {
        let sdk = world.playground.env().sdk_config().await;
        let queue = cpsf_playground::events_queue::install(
            &sdk,
            &format!("bench-{label}"),
            std::slice::from_ref(&machine),
            std::slice::from_ref(&provider),
        )
        .await?;
        args.extend(["--events-queue".to_string(), queue]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let worker = Worker::start(world, &provider, &args).await?;
    let (startup, startup_empty) = worker.settle().await;
    let idle_cpu_per_second = worker.idle_cpu_per_second().await;
    let cpu_before = worker.cpu_time();
    let measured_from = Instant::now();
    let mut offsets: Vec<f64> = pipelines
        .iter()
        .map(|_| rand_unit() * plan.spread)
        .collect();
    offsets.sort_by(f64::total_cmp);
    let t0 = Instant::now();
    for (name, offset) in pipelines.iter().zip(&offsets) {
        let wait = Duration::from_secs_f64(*offset).saturating_sub(t0.elapsed());
        tokio::time::sleep(wait).await;
        world.start_pipeline(name).await?;
    }
    let limit = Duration::from_secs_f64(seconds * 2.0 + 180.0);
    let finished = wait_for_answers(world, label, pipelines.len(), limit).await?;
    let cpu = worker.cpu_time() - cpu_before;
    let idle_cpu = idle_cpu_per_second * measured_from.elapsed().as_secs_f64();
    let calls = worker.calls();
    let jobs = pipelines.len() as f64;
    let mut by_operation: BTreeMap<String, f64> = calls
        .calls
        .iter()
        .map(|(op, n)| {
            let before = startup.calls.get(op).copied().unwrap_or(0);
            (op.clone(), n.saturating_sub(before) as f64 / jobs)
        })
        .filter(|(_, n)| *n > 0.0)
        .collect();
    // Long polls that came back empty are the worker's idle cost.
    for (operation, empty) in worker.empty_polls() {
        let since_startup =
            empty.saturating_sub(startup_empty.get(&operation).copied().unwrap_or(0));
        if let Some(calls) = by_operation.get_mut(&operation) {
            *calls -= since_startup as f64 / jobs;
        }
    }
    let per_job: f64 = by_operation.values().sum();
    Ok(ClassResult {
        label: label.to_string(),
        baseline,
        events: shape == Shape::Events,
        seconds,
        jobs: pipelines.len(),
        pickup: percentiles(&finished.pickup),
        pickup_dispatched: percentiles(&finished.dispatched),
        continuation_pickup: percentiles(&finished.continuation_pickup),
        completion: percentiles(&finished.completion),
        pickup_samples: finished.pickup,
        completion_samples: finished.completion,
        calls_per_job: per_job,
        calls_by_operation: by_operation,
        startup_calls: startup.calls,
        transitions: percentiles(
            &world
                .transitions(&machine)
                .await?
                .into_iter()
                .map(|n| n as f64)
                .collect::<Vec<_>>(),
        ),
        cpu_ms_per_job: cpu.as_secs_f64() * 1000.0 / jobs,
        idle_cpu_ms_per_second: idle_cpu_per_second * 1000.0,
        cpu_ms_per_job_above_idle: (cpu.as_secs_f64() - idle_cpu).max(0.0) * 1000.0 / jobs,
    })
}

/// Every duration class of `plan`, each served by every shape of
/// `shapes` (a label prefix and a shape), all at once.
pub async fn classes_side_by_side(
    world: &World,
    plan: &Plan,
    shapes: &[(&str, Shape)],
) -> anyhow::Result<Vec<ClassResult>> {
    let runs: Vec<_> = plan
        .classes
        .iter()
        .enumerate()
        .flat_map(|(i, seconds)| {
            shapes
                .iter()
                .map(move |(prefix, shape)| (format!("{prefix}{i}"), *seconds, *shape))
        })
        .map(|(label, seconds, shape)| async move {
            latency_class(world, plan, &label, seconds, shape).await
        })
        .collect();
    crate::futures_join(runs).await
}

/// A side-by-side run's results: when, the plan, the emulator, the
/// machine, how long it took (since `started`) and its classes.
pub fn side_by_side_results(
    world: &World,
    plan: &Plan,
    started: Instant,
    classes: Vec<ClassResult>,
) -> Value {
    serde_json::json!({
        "when": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        "plan": if plan.quick { "quick" } else { "full" },
        "emulator": world.playground.emulator().name(),
        "machine": crate::machine(),
        "seconds": started.elapsed().as_secs_f64(),
        "classes": classes,
    })
}

fn rand_unit() -> f64 {
    // The process-wide RNG of the rand crate cpsf already depends on.
    rand::random::<f64>()
}

pub struct Finished {
    pub pickup: Vec<f64>,
    pub dispatched: Vec<f64>,
    pub continuation_pickup: Vec<f64>,
    pub completion: Vec<f64>,
}

/// Waits until every execution named `<prefix>-…` has ended and its final
/// job was answered; then reads the latencies from the job timings.
pub async fn wait_for_answers(
    world: &World,
    prefix: &str,
    count: usize,
    limit: Duration,
) -> anyhow::Result<Finished> {
    let deadline = Instant::now() + limit;
    loop {
        let ended: Vec<(String, f64)> = world
            .ended
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, _)| name.starts_with(&format!("{prefix}-")))
            .map(|(n, t)| (n.clone(), *t))
            .collect();
        let timings = world.job_timings().await?;
        let ids: HashSet<String> = ended
            .iter()
            .map(|(name, _)| name[name.len().saturating_sub(36)..].to_string())
            .collect();
        let mine: Vec<&Value> = timings
            .iter()
            .filter(|t| ids.contains(t["actionExecutionId"].as_str().unwrap_or_default()))
            .collect();
        let answered_final = |id: &str| {
            mine.iter()
                .filter(|t| t["actionExecutionId"] == id && t["answered"].is_f64())
                .map(|t| t["answered"].as_f64().unwrap_or_default())
                .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))))
        };
        let open = mine
            .iter()
            .any(|t| t["status"] != "Succeeded" && t["status"] != "Failed");
        if ended.len() == count && !open {
            let mut finished = Finished {
                pickup: Vec::new(),
                dispatched: Vec::new(),
                continuation_pickup: Vec::new(),
                completion: Vec::new(),
            };
            for t in &mine {
                let queued = t["queued"].as_f64().unwrap_or_default();
                if t["continuation"] == true {
                    if let Some(d) = t["dispatched"].as_f64() {
                        finished.continuation_pickup.push(d - queued);
                    }
                } else {
                    if let Some(a) = t["acknowledged"].as_f64() {
                        finished.pickup.push(a - queued);
                    }
                    if let Some(d) = t["dispatched"].as_f64() {
                        finished.dispatched.push(d - queued);
                    }
                }
            }
            for (name, at) in &ended {
                if let Some(answered) = answered_final(&name[name.len().saturating_sub(36)..]) {
                    finished.completion.push((answered - at).max(0.0));
                }
            }
            return Ok(finished);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{prefix}: {} of {count} executions ended within {limit:?}",
            ended.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
