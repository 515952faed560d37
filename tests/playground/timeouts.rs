//! The dispatch timeout (unacknowledged jobs go back to the queue with a new
//! nonce) and the job timeout (no result: TimedOut, the action fails).

use crate::harness::*;
use aws_sdk_codepipeline::types::PipelineExecutionStatus;
use cpsf_playground::codepipeline::Config;
use std::time::Duration;

#[tokio::test]
async fn an_unacknowledged_job_is_dispatched_again_with_a_new_nonce() {
    let h = Harness::start_with(Config {
        dispatch_timeout: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    h.start_app(vec![deploy_action("Deploy", 1, "blue")]).await;
    let first = h.poll_job().await;
    let empty =
        h.cp.poll_for_jobs()
            .action_type_id(deploy_type_id())
            .send()
            .await
            .unwrap();
    assert!(empty.jobs().is_empty(), "dispatched, not yet timed out");

    tokio::time::sleep(Duration::from_millis(400)).await;
    let again = h.poll_job().await;
    assert_eq!(again.id(), first.id(), "the same job comes back");
    assert_ne!(again.nonce(), first.nonce(), "under a new nonce");
    let stale =
        h.cp.acknowledge_job()
            .job_id(first.id().unwrap())
            .nonce(first.nonce().unwrap())
            .send()
            .await;
    assert_eq!(code(stale), "InvalidNonceException");
    h.acknowledge(&again).await;
}

#[tokio::test]
async fn a_job_without_a_result_times_out_and_fails_the_pipeline() {
    let h = Harness::start_with(Config {
        job_timeout: Duration::from_millis(500),
        ..Config::default()
    })
    .await;
    let job = h.acknowledged_job().await;
    let execution_id = context_of(&job)
        .pipeline_execution_id()
        .unwrap()
        .to_string();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        h.execution_status("app", &execution_id).await,
        PipelineExecutionStatus::Failed
    );
    let late =
        h.cp.put_job_success_result()
            .job_id(job.id().unwrap())
            .send()
            .await;
    assert_eq!(code(late), "InvalidJobStateException");
    let latest = h.deploy_state("app").await.unwrap();
    assert_eq!(latest.error_details().unwrap().code(), Some("TimedOut"));
}
