//! The worker benchmark, on the local playground, in one run:
//!
//! - pickup latency (job queued → acknowledged) and completion latency
//!   (execution's work answered → result reported), p50/p90/p99, from the
//!   local CodePipeline service's job timings;
//! - AWS calls per job by operation (a counting proxy in front of each
//!   worker), for executions lasting 1 s, 30 s and 5 min;
//! - state transitions per execution, cpsf's blocking-task shape against
//!   the ancestor's 10 s Wait loop;
//! - worker RSS and CPU time idle, with 100 and 1,000 jobs in flight, and CPU
//!   per job;
//! - throughput with growing concurrency, and which process is the
//!   bottleneck;
//! - 100 concurrent deploys of long stack operations served by one worker:
//!   all reach WaitForStack, memory, DescribeStacks a second (waits.rs);
//! - the same workload with the ancestor's fixed 30 s poll and Wait loop;
//! - peak worker RSS while 4 FilePath jobs read their input file out of
//!   200 MB artifacts at once (`artifacts.rs`; alone with
//!   `CPSF_BENCH_ONLY=artifacts`, which writes
//!   bench/results/artifacts-<emulator>.json).
//!
//! ```text
//! cargo bench --bench worker             # the full run, ~12 min
//! cargo bench --bench worker -- --quick  # a smaller run, ~3 min
//! CPSF_BENCH_ONLY=events cargo bench --bench worker  # each duration
//!     class with and without --events-queue, and the baseline (MiniStack):
//!     bench/results/events-<emulator>.{json,md}
//! CPSF_BENCH_ONLY=recovery cargo bench --bench worker   # only the cost
//!                                         # of a start's recovery sweep
//! CPSF_BENCH_ONLY=waits cargo bench --bench worker -- --quick  # only the
//!     concurrent deploys: bench/results/waits-<emulator>.{json,md}
//! ```
//!
//! Runs on the emulator `CPSF_EMULATOR` names (MiniStack by default) and
//! writes bench/results/results.{json,md}, latency.{svg,png} and
//! rss.{svg,png}, and a copy of the results as
//! results-<emulator>.{json,md}, so the two emulators' runs sit side by side. The targets are checked and reported, never asserted: a
//! benchmark measures, tests decide.

mod artifacts;
mod events;
mod plot;
mod recovery;
mod single;
mod stats;
mod waits;
mod world;

use serde_json::{Value, json};
use stats::{Percentiles, percentiles};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};
use world::{Worker, World};

struct Plan {
    quick: bool,
    idle_for: Duration,
    /// Execution durations, seconds.
    classes: Vec<f64>,
    jobs_per_class: usize,
    /// Pipeline starts are spread at random over this many seconds.
    spread: f64,
    footprint_jobs: usize,
    footprint_seconds: f64,
    throughput_jobs: usize,
    throughput_levels: Vec<usize>,
    /// Concurrent deploys held at a wait condition, and for how long.
    waits_deploys: usize,
    waits_hold: Duration,
    waits_reach_limit: Duration,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                quick,
                idle_for: Duration::from_secs(10),
                classes: vec![1.0, 5.0, 15.0],
                jobs_per_class: 8,
                spread: 5.0,
                footprint_jobs: 150,
                footprint_seconds: 20.0,
                throughput_jobs: 60,
                throughput_levels: vec![16, 64],
                waits_deploys: 100,
                waits_hold: Duration::from_secs(30),
                waits_reach_limit: Duration::from_secs(60),
            }
        } else {
            Self {
                quick,
                idle_for: Duration::from_secs(30),
                classes: vec![1.0, 30.0, 300.0],
                jobs_per_class: 20,
                spread: 20.0,
                footprint_jobs: 1000,
                footprint_seconds: 120.0,
                throughput_jobs: 300,
                throughput_levels: vec![16, 64, 256],
                waits_deploys: 100,
                waits_hold: Duration::from_secs(120),
                waits_reach_limit: Duration::from_secs(300),
            }
        }
    }
}

/// cpsf's worker as deployed (defaults), and the ancestor's fixed poll.
const OURS: &[&str] = &[];
const BASELINE_POLL: &[&str] = &["--poll-min", "30s", "--poll-max", "30s"];

/// Writes one scenario's results as bench/results/<name>.{json,md}.
fn keep(name: &str, results: &Value, markdown: &str) -> anyhow::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/results");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_string_pretty(results)?,
    )?;
    std::fs::write(dir.join(format!("{name}.md")), markdown)?;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let plan = Plan::new(std::env::args().any(|a| a == "--quick"));
    let started = Instant::now();
    let world = World::start().await?;
    eprintln!(
        "==> playground up; measuring ({})",
        if plan.quick { "quick" } else { "full" }
    );

    let only = std::env::var("CPSF_BENCH_ONLY").unwrap_or_default();
    if single::run(&only, &world, &plan).await? {
        world.playground.stop().await;
        return Ok(());
    }
    let footprint = footprint(&world, &plan).await?;
    if only == "footprint" {
        println!("{}", serde_json::to_string_pretty(&footprint)?);
        return Ok(());
    }
    eprintln!(
        "==> footprint done ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    let throughput = throughput(&world, &plan).await?;
    eprintln!(
        "==> throughput done ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    let large_artifacts = artifacts::large_artifacts(&world).await?;
    eprintln!(
        "==> large artifacts done ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    let waits = waits::waits(
        &world,
        plan.waits_deploys,
        plan.waits_hold,
        plan.waits_reach_limit,
    )
    .await?;
    eprintln!(
        "==> concurrent deploys done ({:.0} s)",
        started.elapsed().as_secs_f64()
    );

    // Latency and calls: ours and the baseline, every class side by side.
    let labels: Vec<(String, f64, bool)> = plan
        .classes
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            [
                (format!("ours{i}"), *s, false),
                (format!("base{i}"), *s, true),
            ]
        })
        .collect();
    let runs: Vec<_> = labels
        .iter()
        .map(|(label, seconds, baseline)| {
            let shape = if *baseline {
                Shape::Baseline
            } else {
                Shape::Ours
            };
            latency_class(&world, &plan, label, *seconds, shape)
        })
        .collect();
    let classes: Vec<ClassResult> = futures_join(runs).await?;
    eprintln!(
        "==> latency classes done ({:.0} s)",
        started.elapsed().as_secs_f64()
    );

    let emulator = world.playground.emulator().name();
    let results = json!({
        "when": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        "plan": if plan.quick { "quick" } else { "full" },
        "emulator": emulator,
        "machine": machine(),
        "footprint": footprint,
        "throughput": throughput,
        "large_artifacts": large_artifacts,
        "waits": waits,
        "classes": classes,
        "seconds": started.elapsed().as_secs_f64(),
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/results");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    let markdown = report(&results, &classes);
    std::fs::write(dir.join("results.md"), &markdown)?;
    std::fs::write(
        dir.join(format!("results-{emulator}.json")),
        serde_json::to_string_pretty(&results)?,
    )?;
    std::fs::write(dir.join(format!("results-{emulator}.md")), &markdown)?;
    charts(&classes, &footprint, &dir)?;
    print!("{markdown}");
    world.playground.stop().await;
    Ok(())
}

async fn futures_join<F, T>(futures: Vec<F>) -> anyhow::Result<Vec<T>>
where
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    futures_util::future::join_all(futures)
        .await
        .into_iter()
        .collect()
}

fn machine() -> Value {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    json!({"cpus": cpus, "memory": memory})
}

#[derive(Debug, serde::Serialize)]
struct ClassResult {
    label: String,
    baseline: bool,
    /// cpsf with `--events-queue` (events.rs).
    events: bool,
    seconds: f64,
    jobs: usize,
    pickup: Percentiles,
    pickup_samples: Vec<f64>,
    continuation_pickup: Percentiles,
    completion: Percentiles,
    completion_samples: Vec<f64>,
    calls_per_job: f64,
    calls_by_operation: BTreeMap<String, f64>,
    /// Calls the worker made at start-up, before its first job (`settle`):
    /// once per worker, left out of the per-job figures.
    startup_calls: BTreeMap<String, u64>,
    transitions: Percentiles,
    cpu_ms_per_job: f64,
    /// The worker's CPU while it had no job (after its start-up), per
    /// second: its long polls and timers, spent however many jobs it runs.
    idle_cpu_ms_per_second: f64,
    /// `cpu_ms_per_job` less that idle rate over the class's run.
    cpu_ms_per_job_above_idle: f64,
}

/// The worker a duration class runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// cpsf's blocking task and defaults.
    Ours,
    /// The same, with an events queue fed by a rule on this class's machine.
    Events,
    /// The ancestor's Wait loop and fixed 30 s poll.
    Baseline,
}

/// One duration class: `jobs` pipelines started at random over the spread,
/// each running an execution of `seconds`, served as `shape` says.
async fn latency_class(
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
    let empty = worker
        .empty_polls
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(startup_empty) as f64;
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
    if let Some(polls) = by_operation.get_mut("codepipeline:PollForJobs") {
        *polls -= empty / jobs;
    }
    let per_job: f64 = by_operation.values().sum();
    Ok(ClassResult {
        label: label.to_string(),
        baseline,
        events: shape == Shape::Events,
        seconds,
        jobs: pipelines.len(),
        pickup: percentiles(&finished.pickup),
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

fn rand_unit() -> f64 {
    // The process-wide RNG of the rand crate cpsf already depends on.
    rand::random::<f64>()
}

struct Finished {
    pickup: Vec<f64>,
    continuation_pickup: Vec<f64>,
    completion: Vec<f64>,
}

/// Waits until every execution named `<prefix>-…` has ended and its final
/// job was answered; then reads the latencies from the job timings.
async fn wait_for_answers(
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
                continuation_pickup: Vec::new(),
                completion: Vec::new(),
            };
            for t in &mine {
                let queued = t["queued"].as_f64().unwrap_or_default();
                if t["continuation"] == true {
                    if let Some(d) = t["dispatched"].as_f64() {
                        finished.continuation_pickup.push(d - queued);
                    }
                } else if let Some(a) = t["acknowledged"].as_f64() {
                    finished.pickup.push(a - queued);
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

/// Idle, then `footprint_jobs` held in flight at once.
async fn footprint(world: &World, plan: &Plan) -> anyhow::Result<Value> {
    let provider = "BenchFootprint";
    let action_type = world.action_type(provider).await?;
    let machine = world.blocking_machine("footprint").await?;
    let n = plan.footprint_jobs;
    let pipelines = world
        .pipelines(
            "footprint",
            n,
            &action_type,
            &machine,
            plan.footprint_seconds,
        )
        .await?;
    let in_flight = n.to_string();
    let args = ["--max-in-flight", &in_flight, "--follow-for", "10m"];
    let worker = Worker::start(world, provider, &args).await?;

    // Idle: nothing queued for this action type.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu0, calls0) = (worker.cpu_time(), worker.calls().total_calls());
    tokio::time::sleep(plan.idle_for).await;
    let idle_polls_per_second =
        (worker.calls().total_calls() - calls0) as f64 / plan.idle_for.as_secs_f64();
    let idle_cpu = worker.cpu_time() - cpu0;
    let idle_rss = worker.rss_bytes();
    let idle_rss_file = stats::rss_file_bytes(worker.pid());

    let cpu_before = worker.cpu_time();
    let starting = Instant::now();
    for chunk in pipelines.chunks(32) {
        let starts = chunk.iter().map(|name| world.start_pipeline(name));
        for result in futures_util::future::join_all(starts).await {
            result?;
        }
    }
    let start_seconds = starting.elapsed().as_secs_f64();
    let mut samples: Vec<(f64, f64)> = Vec::new();
    let mut peak_threads = 0;
    let mut peak_rss_file = 0;
    let deadline = Instant::now() + Duration::from_secs_f64(plan.footprint_seconds * 3.0 + 120.0);
    loop {
        let flying = worker.in_flight().await;
        samples.push((flying, worker.rss_bytes() as f64 / 1_048_576.0));
        peak_threads = peak_threads.max(stats::threads(worker.pid()));
        peak_rss_file = peak_rss_file.max(stats::rss_file_bytes(worker.pid()));
        let done = world
            .ended
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with("footprint-"))
            .count();
        if done == n && flying == 0.0 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "footprint: {done} of {n} executions ended"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let cpu = worker.cpu_time() - cpu_before;
    let peak_in_flight = samples.iter().map(|s| s.0).fold(0.0, f64::max);
    let rss_at = |level: f64| {
        samples
            .iter()
            .filter(|s| s.0 >= level)
            .map(|s| s.1)
            .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))))
    };
    Ok(json!({
        "idle_polls_per_second": idle_polls_per_second,
        "idle_rss_mb": idle_rss as f64 / 1_048_576.0,
        "idle_cpu_ms_per_second": idle_cpu.as_secs_f64() * 1000.0 / plan.idle_for.as_secs_f64(),
        "jobs": n,
        "start_seconds": start_seconds,
        "peak_in_flight": peak_in_flight,
        "rss_mb_at_100": rss_at(100.0),
        "rss_mb_at_peak": rss_at(peak_in_flight),
        "peak_rss_mb": samples.iter().map(|s| s.1).fold(0.0, f64::max),
        "peak_threads": peak_threads,
        "idle_rss_file_mb": idle_rss_file as f64 / 1_048_576.0,
        "peak_rss_file_mb": peak_rss_file as f64 / 1_048_576.0,
        "cpu_ms_per_job": cpu.as_secs_f64() * 1000.0 / n as f64,
        "samples": samples,
    }))
}

/// Jobs whose executions end at once, at growing concurrency: jobs per
/// second, and each process's share of a core while they ran.
async fn throughput(world: &World, plan: &Plan) -> anyhow::Result<Value> {
    let mut levels = Vec::new();
    for level in &plan.throughput_levels {
        let label = format!("tput{level}");
        let provider = format!("BenchTput{level}");
        let action_type = world.action_type(&provider).await?;
        let machine = world.blocking_machine(&label).await?;
        let pipelines = world
            .pipelines(&label, plan.throughput_jobs, &action_type, &machine, 0.0)
            .await?;
        let max = level.to_string();
        let worker = Worker::start(world, &provider, &["--max-in-flight", &max]).await?;
        let emulator = world.playground.emulator_pid().unwrap_or(0);
        let me = std::process::id();
        let cpu = |pid: u32| stats::cpu_time(pid).as_secs_f64();
        let before = (cpu(worker.pid()), cpu(emulator), cpu(me));
        let t0 = Instant::now();
        for chunk in pipelines.chunks(32) {
            let starts = chunk.iter().map(|name| world.start_pipeline(name));
            for result in futures_util::future::join_all(starts).await {
                result?;
            }
        }
        let limit = Duration::from_secs(600);
        wait_for_answers(world, &label, pipelines.len(), limit).await?;
        let wall = t0.elapsed().as_secs_f64();
        let share = |now: f64, then: f64| (now - then) / wall;
        levels.push(json!({
            "max_in_flight": level,
            "jobs": pipelines.len(),
            "seconds": wall,
            "jobs_per_second": pipelines.len() as f64 / wall,
            "core_share": {
                "worker": share(cpu(worker.pid()), before.0),
                "emulator": share(cpu(emulator), before.1),
                "local_codepipeline_and_bench": share(cpu(me), before.2),
            },
        }));
    }
    Ok(json!(levels))
}

fn ms(seconds: f64) -> String {
    format!("{:.0} ms", seconds * 1000.0)
}

fn class_name(seconds: f64) -> String {
    if seconds >= 60.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{seconds:.0} s")
    }
}

/// The markdown report: the tables, then each target met or missed.
fn report(results: &Value, classes: &[ClassResult]) -> String {
    let mut out = format!(
        "Run {} ({} plan, on {}, {} CPUs), {:.0} s.\n\n",
        results["when"].as_str().unwrap_or_default(),
        results["plan"].as_str().unwrap_or_default(),
        results["emulator"].as_str().unwrap_or("fakecloud"),
        results["machine"]["cpus"],
        results["seconds"].as_f64().unwrap_or_default()
    );
    out += "| execution | worker | jobs | pickup p50 / p90 / p99 | completion p50 / p90 / p99 | AWS calls per job | state transitions | CPU per job |\n|---|---|---|---|---|---|---|---|\n";
    for c in classes {
        out += &format!(
            "| {} | {} | {} | {} / {} / {} | {} / {} / {} | {:.1} | {:.0} | {:.2} ms |\n",
            class_name(c.seconds),
            if c.baseline {
                "baseline: 30 s poll, 10 s Wait loop"
            } else {
                "cpsf"
            },
            c.jobs,
            ms(c.pickup.p50),
            ms(c.pickup.p90),
            ms(c.pickup.p99),
            ms(c.completion.p50),
            ms(c.completion.p90),
            ms(c.completion.p99),
            c.calls_per_job,
            c.transitions.max,
            c.cpu_ms_per_job
        );
    }
    out += "\nRatios, baseline ÷ cpsf:\n\n| execution | pickup p50 | completion p50 | AWS calls per job | state transitions |\n|---|---|---|---|---|\n";
    for pair in classes.chunks(2) {
        let (ours, base) = (&pair[0], &pair[1]);
        let ratio = |b: f64, o: f64| {
            if o > 0.0 {
                format!("{:.1}×", b / o)
            } else {
                "—".into()
            }
        };
        out += &format!(
            "| {} | {} | {} | {} | {} |\n",
            class_name(ours.seconds),
            ratio(base.pickup.p50, ours.pickup.p50),
            ratio(base.completion.p50, ours.completion.p50),
            ratio(base.calls_per_job, ours.calls_per_job),
            ratio(base.transitions.max, ours.transitions.max)
        );
    }
    out += "\nAWS calls per job by operation (cpsf):\n\n| execution | calls |\n|---|---|\n";
    for c in classes.iter().filter(|c| !c.baseline) {
        let ops: Vec<String> = c
            .calls_by_operation
            .iter()
            .filter(|(_, n)| **n >= 0.05)
            .map(|(op, n)| format!("{op} {n:.1}"))
            .collect();
        out += &format!("| {} | {} |\n", class_name(c.seconds), ops.join(", "));
    }
    let f = &results["footprint"];
    out += &format!(
        "\nFootprint: idle {:.1} MB RSS, {:.2} PollForJobs calls/s, {:.2} ms CPU/s; {:.1} MB with ≥100 jobs in flight; {:.1} MB at the peak of {:.0} in flight ({} jobs); {:.2} ms CPU per job.\n",
        f["idle_rss_mb"].as_f64().unwrap_or_default(),
        f["idle_polls_per_second"].as_f64().unwrap_or_default(),
        f["idle_cpu_ms_per_second"].as_f64().unwrap_or_default(),
        f["rss_mb_at_100"].as_f64().unwrap_or_default(),
        f["rss_mb_at_peak"].as_f64().unwrap_or_default(),
        f["peak_in_flight"].as_f64().unwrap_or_default(),
        f["jobs"],
        f["cpu_ms_per_job"].as_f64().unwrap_or_default()
    );
    let a = &results["large_artifacts"];
    out += &format!(
        "\nLarge artifacts: {} FilePath jobs at once, each reading its input file out of a {:.0} MB zip: worker peak RSS {:.1} MB (at its start {:.1} MB), {} succeeded, {:.1} s.\n",
        a["jobs"],
        a["artifact_mb"].as_f64().unwrap_or_default(),
        a["peak_rss_mb"].as_f64().unwrap_or_default(),
        a["started_rss_mb"].as_f64().unwrap_or_default(),
        a["succeeded"],
        a["seconds"].as_f64().unwrap_or_default()
    );
    out += "\nThroughput (executions that end at once):\n\n| max in flight | jobs | jobs/s | worker | emulator | local CodePipeline + bench |\n|---|---|---|---|---|---|\n";
    for level in results["throughput"].as_array().into_iter().flatten() {
        let share = |k: &str| {
            format!(
                "{:.0}% of a core",
                level["core_share"][k].as_f64().unwrap_or_default() * 100.0
            )
        };
        out += &format!(
            "| {} | {} | {:.1} | {} | {} | {} |\n",
            level["max_in_flight"],
            level["jobs"],
            level["jobs_per_second"].as_f64().unwrap_or_default(),
            share("worker"),
            share("emulator"),
            share("local_codepipeline_and_bench")
        );
    }
    out += &waits::report(&results["waits"]);
    out += &targets(results, classes);
    out
}

/// Each target of the performance issue, met or not, with the figure.
fn targets(results: &Value, classes: &[ClassResult]) -> String {
    let ours: Vec<&ClassResult> = classes.iter().filter(|c| !c.baseline).collect();
    let all = |f: fn(&ClassResult) -> &Vec<f64>| -> Vec<f64> {
        ours.iter().flat_map(|c| f(c).clone()).collect()
    };
    let pickup = percentiles(&all(|c| &c.pickup_samples));
    let completion = percentiles(&all(|c| &c.completion_samples));
    let f = &results["footprint"];
    let w = &results["waits"];
    let num = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let transitions: Vec<f64> = ours.iter().map(|c| c.transitions.max).collect();
    let constant = transitions.windows(2).all(|w| w[0] == w[1]);
    // Logarithmic: 5 calls per doubling of the duration. Checking at a
    // fixed pace (every 2 s, say) would be linear and far above it.
    let calls_ok = ours
        .iter()
        .all(|c| c.calls_per_job <= 8.0 + 5.0 * (1.0 + c.seconds).log2());
    let cpu_per_job = num(&f["cpu_ms_per_job"]);
    let rows = [
        ("pickup p50 ≤ 0.5 s", pickup.p50 <= 0.5, ms(pickup.p50)),
        ("pickup p99 ≤ 2 s", pickup.p99 <= 2.0, ms(pickup.p99)),
        (
            "idle worker ≤ 1 PollForJobs/s",
            num(&f["idle_polls_per_second"]) <= 1.0,
            format!("{:.2}/s", num(&f["idle_polls_per_second"])),
        ),
        (
            "completion p50 ≤ 1 s",
            completion.p50 <= 1.0,
            ms(completion.p50),
        ),
        (
            "state transitions constant, ≤ 12",
            constant && transitions.iter().all(|t| *t <= 12.0),
            format!("{transitions:?}"),
        ),
        (
            "AWS calls per job ≤ 8 + 5·log2(1 + seconds)",
            calls_ok,
            ours.iter()
                .map(|c| format!("{}: {:.1}", class_name(c.seconds), c.calls_per_job))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "RSS ≤ 20 MB idle",
            num(&f["idle_rss_mb"]) <= 20.0,
            format!("{:.1} MB", num(&f["idle_rss_mb"])),
        ),
        (
            "RSS ≤ 64 MB with 1,000 in flight",
            num(&f["peak_in_flight"]) >= 1000.0 && num(&f["rss_mb_at_peak"]) <= 64.0,
            format!(
                "{:.1} MB at {:.0} in flight",
                num(&f["rss_mb_at_peak"]),
                num(&f["peak_in_flight"])
            ),
        ),
        (
            "every one of 100 concurrent long deploys reaches WaitForStack and succeeds",
            num(&w["deploys"]) >= 100.0
                && num(&w["reached_wait"]) >= num(&w["deploys"])
                && num(&w["succeeded"]) >= num(&w["deploys"]),
            format!(
                "{:.0} reached, {:.0} succeeded of {:.0}",
                num(&w["reached_wait"]),
                num(&w["succeeded"]),
                num(&w["deploys"])
            ),
        ),
        (
            "RSS ≤ 64 MB with 100 deploys waiting",
            num(&w["peak_rss_mb"]) <= 64.0,
            format!("{:.1} MB", num(&w["peak_rss_mb"])),
        ),
        (
            "RSS ≤ 100 MB while 4 jobs read input files from 200 MB artifacts",
            num(&results["large_artifacts"]["peak_rss_mb"]) <= 100.0
                && results["large_artifacts"]["succeeded"] == 4,
            format!(
                "{:.1} MB peak",
                num(&results["large_artifacts"]["peak_rss_mb"])
            ),
        ),
        (
            "CPU ≤ 2 ms per job",
            cpu_per_job <= 2.0,
            format!("{cpu_per_job:.2} ms"),
        ),
    ];
    let mut out = "\nTargets:\n\n| target | met | measured |\n|---|---|---|\n".to_string();
    for (target, met, figure) in rows {
        out += &format!(
            "| {target} | {} | {figure} |\n",
            if met { "yes" } else { "**no**" }
        );
    }
    out
}

fn charts(classes: &[ClassResult], footprint: &Value, dir: &std::path::Path) -> anyhow::Result<()> {
    let colors = [
        "#1f77b4", "#2ca02c", "#9467bd", "#d62728", "#ff7f0e", "#8c564b",
    ];
    let mut series = Vec::new();
    for (i, c) in classes.iter().filter(|c| !c.baseline).enumerate() {
        series.push(plot::Series {
            name: format!("pickup, {}", class_name(c.seconds)),
            color: colors[i % 3],
            points: plot::cdf(&c.pickup_samples),
        });
    }
    let base_pickup: Vec<f64> = classes
        .iter()
        .filter(|c| c.baseline)
        .flat_map(|c| c.pickup_samples.clone())
        .collect();
    series.push(plot::Series {
        name: "pickup, baseline".into(),
        color: colors[3],
        points: plot::cdf(&base_pickup),
    });
    let ours_completion: Vec<f64> = classes
        .iter()
        .filter(|c| !c.baseline)
        .flat_map(|c| c.completion_samples.clone())
        .collect();
    let base_completion: Vec<f64> = classes
        .iter()
        .filter(|c| c.baseline)
        .flat_map(|c| c.completion_samples.clone())
        .collect();
    series.push(plot::Series {
        name: "completion, cpsf".into(),
        color: colors[4],
        points: plot::cdf(&ours_completion),
    });
    series.push(plot::Series {
        name: "completion, baseline".into(),
        color: colors[5],
        points: plot::cdf(&base_completion),
    });
    plot::Chart {
        title: "Latency distributions: share of jobs at or under".into(),
        x_label: "seconds (log scale)".into(),
        y_label: "share of jobs".into(),
        log_x: Some((0.01, 100.0)),
        series,
    }
    .write(&dir.join("latency"))?;
    let samples: Vec<(f64, f64)> = footprint["samples"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s[0].as_f64()?, s[1].as_f64()?)))
        .collect();
    let mut by_level: BTreeMap<u64, f64> = BTreeMap::new();
    for (flying, rss) in samples {
        let entry = by_level.entry(flying as u64).or_insert(0.0);
        *entry = entry.max(rss);
    }
    plot::Chart {
        title: "Worker memory against jobs in flight".into(),
        x_label: "jobs in flight".into(),
        y_label: "RSS, MB".into(),
        log_x: None,
        series: vec![plot::Series {
            name: "cpsf worker".into(),
            color: colors[0],
            points: by_level.into_iter().map(|(k, v)| (k as f64, v)).collect(),
        }],
    }
    .write(&dir.join("rss"))?;
    Ok(())
}
