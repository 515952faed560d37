//! What a worker's start costs when a state machine ran many executions in
//! the last 24 h (issue 15, item 4). A starting worker checks the recent
//! executions of the state machines it recovers from for first jobs a
//! stopped worker never answered: ListExecutions, then DescribeExecution
//! for each execution past the lease, and a PutJobSuccessResult for each job
//! it names (answered ones are refused). A complete sweep leaves a
//! watermark in the journal, so the next start checks only the executions
//! since.
//!
//! Measured: the calls of a first start (no watermark: the baseline) and of
//! the start after it, through each worker's counting proxy.

use crate::world::{Worker, World};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const PROVIDER: &str = "BenchRecovery";
const SWEEP_CALLS: [&str; 3] = [
    "states:ListExecutions",
    "states:DescribeExecution",
    "codepipeline:PutJobSuccessResult",
];

pub async fn recovery(world: &World, executions: usize) -> anyhow::Result<Value> {
    world.action_type(PROVIDER).await?;
    let definition = json!({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}});
    let machine = world.machine("bench-recovery", definition).await?;
    let names: Vec<usize> = (0..executions).collect();
    for chunk in names.chunks(25) {
        let starts = chunk.iter().map(|i| {
            world
                .sfn
                .start_execution()
                .state_machine_arn(&machine)
                .name(format!("recovery-{i}"))
                .input(
                    json!({"pipeline": {"jobId": format!("bench-recovery-job-{i}")}}).to_string(),
                )
                .send()
        });
        for started in futures_util::future::join_all(starts).await {
            started?;
        }
    }
    // Past the lease of a worker that follows for 1 s (2 × 1 s + 5 s).
    tokio::time::sleep(Duration::from_secs(8)).await;
    let first = start_and_count(world, &machine).await?;
    let second = start_and_count(world, &machine).await?;
    Ok(json!({"executions": executions, "first_start": first, "next_start": second}))
}

/// Starts a worker that recovers from `machine`, waits until its sweep is
/// over (no sweep call for 3 s), stops it; its sweep calls by operation.
async fn start_and_count(world: &World, machine: &str) -> anyhow::Result<BTreeMap<String, u64>> {
    let worker = Worker::start(
        world,
        PROVIDER,
        &["--recover-from", machine, "--follow-for", "1s"],
    )
    .await?;
    let count = || -> BTreeMap<String, u64> {
        let calls = worker.calls().calls;
        SWEEP_CALLS
            .iter()
            .map(|op| (op.to_string(), calls.get(*op).copied().unwrap_or(0)))
            .collect()
    };
    let mut last = count();
    let mut quiet = 0;
    while quiet < 3 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = count();
        quiet = if now == last && now.values().sum::<u64>() > 0 {
            quiet + 1
        } else {
            0
        };
        last = now;
    }
    drop(worker);
    Ok(last)
}

pub fn report(results: &Value) -> String {
    let total = |start: &Value| -> u64 {
        start
            .as_object()
            .map_or(0, |calls| calls.values().filter_map(Value::as_u64).sum())
    };
    let (first, next) = (
        total(&results["first_start"]),
        total(&results["next_start"]),
    );
    let row = |label: &str, start: &Value| {
        format!(
            "| {label} | {} | {} | {} | {} |\n",
            start["states:ListExecutions"],
            start["states:DescribeExecution"],
            start["codepipeline:PutJobSuccessResult"],
            total(start)
        )
    };
    format!(
        "\n## Recovery at start\n\n{} executions in the last 24 h of the state machine a worker recovers from.\n\n\
         | start | ListExecutions | DescribeExecution | PutJobSuccessResult | calls |\n|---|---|---|---|---|\n{}{}\n\
         The next start makes {:.1}% of the first's calls ({first} → {next}).\n",
        results["executions"],
        row(
            "first (no watermark: the baseline)",
            &results["first_start"]
        ),
        row("next (after a complete sweep)", &results["next_start"]),
        100.0 * next as f64 / first.max(1) as f64,
    )
}
