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
//! CPSF_BENCH_ONLY=pickup cargo bench --bench worker  # idle cost by
//!     source, pickup and cost per job, polling vs. action start events
//!     (issue 31): bench/results/pickup-<emulator>.{json,md}
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
//!
//! One file a part: latency.rs (the duration classes), footprint.rs,
//! throughput.rs, artifacts.rs, waits.rs, events.rs, pickup.rs, recovery.rs;
//! single.rs runs one part alone; report.rs and charts.rs write the full
//! run's results; world.rs (the playground, pipelines, workers), stats.rs
//! and plot.rs serve them all. This file holds the plan and the full run.

mod artifacts;
mod charts;
mod events;
mod footprint;
mod latency;
mod pickup;
mod plot;
mod recovery;
mod report;
mod single;
mod stats;
mod throughput;
mod waits;
mod world;

use latency::{ClassResult, Shape, latency_class};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use world::World;

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
/// bench/results, where every run's figures are kept.
fn results_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/results")
}

/// Writes one scenario's results as bench/results/<name>.{json,md}.
fn keep(name: &str, results: &Value, markdown: &str) -> anyhow::Result<()> {
    let dir = results_dir();
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
    let footprint = footprint::footprint(&world, &plan).await?;
    if only == "footprint" {
        println!("{}", serde_json::to_string_pretty(&footprint)?);
        return Ok(());
    }
    eprintln!(
        "==> footprint done ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    let throughput = throughput::throughput(&world, &plan).await?;
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
    let markdown = report::report(&results, &classes);
    keep("results", &results, &markdown)?;
    keep(&format!("results-{emulator}"), &results, &markdown)?;
    charts::charts(&classes, &footprint, &results_dir())?;
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
