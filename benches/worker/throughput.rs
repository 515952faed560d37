//! Throughput at growing concurrency (`--max-in-flight`), and which
//! process (worker, emulator, local CodePipeline and the bench) spent the
//! CPU: the bottleneck.

use crate::Plan;
use crate::latency::wait_for_answers;
use crate::stats;
use crate::world::{Worker, World};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Jobs whose executions end at once, at growing concurrency: jobs per
/// second, and each process's share of a core while they ran.
pub async fn throughput(world: &World, plan: &Plan) -> anyhow::Result<Value> {
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
        world.start_pipelines(&pipelines).await?;
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
