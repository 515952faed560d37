//! The worker's footprint: idle (polls, CPU, RSS), then with many jobs
//! held in flight at once (RSS against jobs in flight, threads, CPU per
//! job).

use crate::Plan;
use crate::stats;
use crate::world::{Worker, World};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Idle, then `footprint_jobs` held in flight at once.
pub async fn footprint(world: &World, plan: &Plan) -> anyhow::Result<Value> {
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
    world.start_pipelines(&pipelines).await?;
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
