//! A StartExecution that Step Functions throttles past the SDK's retries
//! does not fail the pipeline: the job is left unacknowledged, CodePipeline
//! hands it out again once its dispatch times out, and the deploy then
//! succeeds with one execution. (AccessDenied and 5xx are covered by the
//! unit tests in crates/worker/src/job/handle/tests.rs, which replay AWS's answers.)

use crate::harness::*;
use cpsf_playground::codepipeline::Config;
use cpsf_playground::proxy::{FaultPlan, Hook, Phase, Verdict};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The worker's SDK tries each call twice: the first job's start fails.
const ATTEMPTS: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_start_leaves_the_pipeline_running_and_it_later_succeeds() {
    let h = Harness::start_with(Config {
        // An unacknowledged job is handed out again after this.
        dispatch_timeout: Duration::from_secs(2),
        ..Config::default()
    })
    .await;
    h.create_worker_type().await;
    let machine = h
        .create_state_machine(
            "throttled",
            json!({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}}),
        )
        .await;
    h.create_worker_pipeline("app", &[("StateMachineArn", &machine)])
        .await;
    let throttled = Arc::new(AtomicUsize::new(0));
    let hook: Hook = {
        let throttled = throttled.clone();
        Arc::new(move |phase, operation, _body| match (phase, operation) {
            (Phase::Before, "states:StartExecution")
                if throttled.fetch_add(1, Ordering::SeqCst) < ATTEMPTS =>
            {
                Verdict::Throttle
            }
            _ => Verdict::Continue,
        })
    };
    let (proxy, through_proxy) = h.proxy(FaultPlan::none(), Some(hook)).await;
    let _worker = KillOnDrop(
        cpsf_worker(&through_proxy)
            .args(["--jobs-only", "--aws-max-attempts", &ATTEMPTS.to_string()])
            .args(["--follow-for", "2s", "--poll-max", &poll_max_flag()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start cpsf worker"),
    );
    let id = h.start_execution("app").await;
    let status = h
        .wait_until_done_within("app", &id, Duration::from_secs(60))
        .await;
    assert_eq!(status, "Succeeded", "{:?}", h.deploy_detail("app").await);

    let calls = proxy.stats().calls;
    let count = |op: &str| calls.get(op).copied().unwrap_or(0);
    assert_eq!(
        count("states:StartExecution"),
        ATTEMPTS as u64 + 1,
        "{calls:?}"
    );
    assert_eq!(count("codepipeline:PutJobFailureResult"), 0, "{calls:?}");
    // Acknowledged once: only after the start went through.
    assert_eq!(count("codepipeline:AcknowledgeJob"), 1, "{calls:?}");
    assert_eq!(h.executions(&machine).await.len(), 1);
    // No hot loop while the job waits out its dispatch timeout: idle polls
    // back off (at most one per --poll-max), and the job is not handed out
    // again before then.
    assert!(count("codepipeline:PollForJobs") < 60, "{calls:?}");
}
