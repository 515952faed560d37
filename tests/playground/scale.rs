//! Three workers against 100 pipelines started together: every job is
//! handled by exactly one worker, every pipeline gets exactly one
//! execution, and all end Succeeded.

use crate::harness::*;
use crate::worker_harness::*;
use std::time::Duration;

const PIPELINES: usize = 100;
const WORKERS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_a_hundred_pipelines_without_duplicates() {
    let h = Harness::start().await;
    h.create_worker_type().await;
    let machine = h.create_slow_machine("quick", 0).await;
    for i in 0..PIPELINES {
        h.create_worker_pipeline(&format!("p-{i}"), &[("StateMachineArn", &machine)])
            .await;
    }
    let workers: Vec<RunningWorker> = (0..WORKERS)
        .map(|_| h.start_worker(Duration::from_secs(5)))
        .collect();
    let mut runs = Vec::new();
    for i in 0..PIPELINES {
        let name = format!("p-{i}");
        runs.push((name.clone(), h.start_execution(&name).await));
    }
    for (name, id) in &runs {
        let status = h
            .wait_until_done_within(name, id, Duration::from_secs(180))
            .await;
        assert_eq!(status, "Succeeded", "{name}");
    }

    // One execution per pipeline, each named after its own action execution.
    let names = h.execution_names(&machine).await;
    assert_eq!(names.len(), PIPELINES);

    // Every job ended once, by one worker: a job handed to two workers would
    // show as an abandoned or failed report on one of them.
    let mut finished = 0.0;
    let mut per_worker = Vec::new();
    for worker in workers {
        let text = worker.stop().await;
        let succeeded = crate::worker::metric(&text, "cpsf_jobs_total{outcome=\"succeeded\"}");
        finished += succeeded;
        per_worker.push(succeeded);
        for outcome in ["abandoned", "failed", "report_failed", "panicked"] {
            let count =
                crate::worker::metric(&text, &format!("cpsf_jobs_total{{outcome=\"{outcome}\"}}"));
            assert_eq!(count, 0.0, "{outcome} jobs\n{text}");
        }
    }
    crate::figures::record(
        "concurrency",
        serde_json::json!({
            "workers": WORKERS,
            "pipelines": PIPELINES,
            "jobs_per_worker": per_worker,
            "executions": names.len(),
            "duplicates": names.len().saturating_sub(PIPELINES),
            "lost": PIPELINES as f64 - finished,
        }),
    );
    assert_eq!(finished, PIPELINES as f64);
}
