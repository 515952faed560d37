//! Execution events: an EventBridge rule sends Step Functions' "Execution
//! Status Change" events to an SQS queue, and `--events-queue` wakes the
//! job following an execution the moment it ends (src/events.rs).

use crate::harness::*;
use cpsf::job::handle::JobSettings;
use cpsf::local::Emulator;
use std::time::Duration;

impl Harness {
    /// The playground's execution events queue (`src/local/events.rs`).
    pub async fn events_queue(&self) -> String {
        self.env
            .events_queue
            .clone()
            .expect("the playground made an events queue")
    }
}

/// A 20 s execution, checked at the job's pace (a quarter of its age: its
/// end would be seen up to ~5 s late), is reported within a second of its
/// end when its end event arrives through the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executions_end_wakes_its_job_through_the_events_queue() {
    if !needs(
        Emulator::Ministack,
        "fakecloud emits no Step Functions execution status events; MiniStack does, as AWS",
    ) {
        return;
    }
    let h = Harness::start().await;
    h.create_worker_type().await;
    let machine = h.create_slow_machine("slow", 20).await;
    h.create_worker_pipeline("app", &[("StateMachineArn", &machine)])
        .await;
    let queue = h.events_queue().await;
    let worker = h.start_deploy_worker_with(
        true,
        false,
        JobSettings {
            follow_for: Duration::from_secs(60),
            events_queue: Some(queue),
            ..JobSettings::default()
        },
    );
    let id = h.start_execution("app").await;
    let reported = wait_for_long("the pipeline to end", Duration::from_secs(60), || async {
        let status = h.execution_status("app", &id).await;
        (status.as_str() != "InProgress").then(cpsf::tasks::epoch_now)
    })
    .await;
    assert_eq!(h.execution_status("app", &id).await.as_str(), "Succeeded");
    let execution = &h.executions(&machine).await[0];
    let ended = execution.stop_date().unwrap().as_secs_f64();
    let late = reported - ended;
    assert!(late < 1.0, "reported {late:.2} s after the execution ended");
    worker.stop().await;
}

/// Events are hints: a lie (the execution "SUCCEEDED" while it runs), sent
/// five times, and an old RUNNING event after it, make the job look, not
/// report. It reports once, when the execution really ends; and with the
/// queue deleted in the middle of the run, its own checks still see the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn false_duplicated_or_missing_events_change_nothing_but_when_the_job_looks() {
    if !needs(
        Emulator::Ministack,
        "fakecloud emits no Step Functions execution status events; MiniStack does, as AWS",
    ) {
        return;
    }
    let h = Harness::start().await;
    h.create_worker_type().await;
    let machine = h.create_slow_machine("slow", 12).await;
    h.create_worker_pipeline("app", &[("StateMachineArn", &machine)])
        .await;
    let queue = h.events_queue().await;
    let worker = h.start_deploy_worker_with(
        true,
        false,
        JobSettings {
            follow_for: Duration::from_secs(60),
            events_queue: Some(queue.clone()),
            ..JobSettings::default()
        },
    );
    let id = h.start_execution("app").await;
    let arn = wait_for("the execution to start", || async {
        h.executions(&machine)
            .await
            .first()
            .map(|e| e.execution_arn().to_string())
    })
    .await;
    let sqs = aws_sdk_sqs::Client::new(&h.clients.sdk);
    let event = |status: &str, at_ms: i64| {
        serde_json::json!({
            "version": "0", "id": format!("fake-{status}-{at_ms}"),
            "detail-type": "Step Functions Execution Status Change", "source": "aws.states",
            "account": "123456789012", "time": "2026-12-01T00:00:00Z", "region": "us-east-1",
            "resources": [arn], "detail": {"executionArn": arn, "status": status,
                "startDate": at_ms, "stopDate": at_ms}
        })
        .to_string()
    };
    let now_ms = (cpsf::tasks::epoch_now() * 1000.0) as i64;
    for _ in 0..5 {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(event("SUCCEEDED", now_ms))
            .send()
            .await
            .unwrap();
    }
    sqs.send_message()
        .queue_url(&queue)
        .message_body(event("RUNNING", now_ms - 60_000))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        h.execution_status("app", &id).await.as_str(),
        "InProgress",
        "a false event made the job report before the execution ended"
    );
    // The queue goes away: the job's own pace carries on.
    sqs.delete_queue().queue_url(&queue).send().await.unwrap();
    let status = h.wait_until_done("app", &id).await;
    assert_eq!(status, "Succeeded");
    assert_eq!(h.executions(&machine).await.len(), 1);
    let text = worker.stop().await;
    let reports = crate::worker::metric(&text, "cpsf_jobs_total{outcome=\"succeeded\"}");
    assert_eq!(reports, 1.0, "{text}");
}

/// Two workers share one queue: every job is reported once, and each end
/// reaches the worker that follows it (a message the other receives is left
/// for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_sharing_one_queue_report_every_job_once() {
    if !needs(
        Emulator::Ministack,
        "fakecloud emits no Step Functions execution status events; MiniStack does, as AWS",
    ) {
        return;
    }
    const PIPELINES: usize = 6;
    let h = Harness::start().await;
    h.create_worker_type().await;
    let machine = h.create_slow_machine("slow", 6).await;
    for i in 0..PIPELINES {
        h.create_worker_pipeline(&format!("app-{i}"), &[("StateMachineArn", &machine)])
            .await;
    }
    let queue = h.events_queue().await;
    let settings = || JobSettings {
        follow_for: Duration::from_secs(60),
        events_queue: Some(queue.clone()),
        ..JobSettings::default()
    };
    let a = h.start_deploy_worker_with(true, false, settings());
    let b = h.start_deploy_worker_with(true, false, settings());
    let mut ids = Vec::new();
    for i in 0..PIPELINES {
        ids.push(h.start_execution(&format!("app-{i}")).await);
    }
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            h.wait_until_done(&format!("app-{i}"), id).await,
            "Succeeded"
        );
    }
    assert_eq!(h.executions(&machine).await.len(), PIPELINES);
    let succeeded =
        |text: &str| crate::worker::metric(text, "cpsf_jobs_total{outcome=\"succeeded\"}");
    let (a, b) = (a.stop().await, b.stop().await);
    assert_eq!(succeeded(&a) + succeeded(&b), PIPELINES as f64, "{a}\n{b}");
}
