//! Concurrent pollers: every job is acknowledged by exactly one of them.

use crate::harness::*;
use aws_sdk_codepipeline::types::PipelineExecutionStatus;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

const PIPELINES: usize = 12;
const POLLERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pollers_never_share_a_job() {
    let h = Arc::new(Harness::start().await);
    h.create_deploy_type().await;
    let mut executions = Vec::new();
    for i in 0..PIPELINES {
        let name = format!("app-{i}");
        h.create_pipeline(&name, vec![deploy_action("Deploy", 1, "blue")])
            .await;
        executions.push((name.clone(), h.start_execution(&name).await));
    }
    let handled = Arc::new(Mutex::new(Vec::new()));
    let pollers: Vec<_> = (0..POLLERS)
        .map(|_| {
            let (h, handled) = (h.clone(), handled.clone());
            tokio::spawn(async move {
                let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
                while handled.lock().unwrap().len() < PIPELINES
                    && tokio::time::Instant::now() < deadline
                {
                    let polled =
                        h.cp.poll_for_jobs()
                            .action_type_id(deploy_type_id())
                            .max_batch_size(3)
                            .send()
                            .await
                            .unwrap();
                    for job in polled.jobs() {
                        // Every poller also tries to acknowledge every job it
                        // was handed; a job handed out twice would show up as
                        // two successful acknowledgements.
                        h.acknowledge(job).await;
                        h.succeed(job).await;
                        handled.lock().unwrap().push(job.id().unwrap().to_string());
                    }
                }
            })
        })
        .collect();
    for poller in pollers {
        poller.await.unwrap();
    }
    let handled = handled.lock().unwrap().clone();
    let unique: HashSet<&String> = handled.iter().collect();
    assert_eq!(
        handled.len(),
        PIPELINES,
        "each job handled once: {handled:?}"
    );
    assert_eq!(unique.len(), PIPELINES);
    for (name, id) in executions {
        assert_eq!(
            h.execution_status(&name, &id).await,
            PipelineExecutionStatus::Succeeded
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_acknowledgements_of_one_job_have_one_winner() {
    let h = Arc::new(Harness::start().await);
    h.start_app(vec![deploy_action("Deploy", 1, "blue")]).await;
    let job = h.poll_job().await;
    // Eight callers race with the right nonce and eight with a wrong one.
    let attempts: Vec<_> = (0..16)
        .map(|i| {
            let (h, id) = (h.clone(), job.id().unwrap().to_string());
            let nonce = if i % 2 == 0 {
                job.nonce().unwrap().to_string()
            } else {
                format!("guess-{i}")
            };
            tokio::spawn(async move {
                h.cp.acknowledge_job()
                    .job_id(id)
                    .nonce(nonce)
                    .send()
                    .await
                    .is_ok()
            })
        })
        .collect();
    let mut accepted = 0;
    for attempt in attempts {
        accepted += usize::from(attempt.await.unwrap());
    }
    assert_eq!(accepted, 8, "only the holder of the nonce acknowledges");
}
