//! Execution events: an EventBridge rule sends Step Functions' "Execution
//! Status Change" events to an SQS queue, and `--events-queue` wakes the
//! job following an execution the moment it ends (crates/worker/src/events/).

use crate::harness::*;
use crate::worker_harness::RunningWorker;
use cpsf_playground::Emulator;
use cpsf_worker::job::handle::JobSettings;
use std::time::Duration;

impl Harness {
    /// The playground's execution events queue (`crates/playground/src/events_queue.rs`).
    pub async fn events_queue(&self) -> String {
        self.env
            .events_queue
            .clone()
            .expect("the playground made an events queue")
    }
}

/// Starts a worker following `machine`'s pipeline "app" with the
/// playground's events queue; returns it, the queue and the job's id.
async fn run_with_queue(h: &Harness, seconds: u64) -> (RunningWorker, String, String, String) {
    h.create_worker_type().await;
    let machine = h.create_slow_machine("slow", seconds).await;
    h.create_worker_pipeline("app", &[("StateMachineArn", &machine)])
        .await;
    let queue = h.events_queue().await;
    let worker = h.start_deploy_worker_with(
        true,
        false,
        JobSettings {
            follow_for: Duration::from_secs(10),
            events_queue: Some(queue.clone()),
            ..JobSettings::default()
        },
    );
    let id = h.start_execution("app").await;
    (worker, machine, queue, id)
}

/// When the pipeline's action ended, seconds after the execution's end.
async fn reported_after_end(h: &Harness, machine: &str, id: &str, limit: Duration) -> f64 {
    let reported = wait_for_long("the pipeline to end", limit, || async {
        let status = h.execution_status("app", id).await;
        (status.as_str() != "InProgress").then(cpsf_worker::base::clock::epoch_now)
    })
    .await;
    assert_eq!(h.execution_status("app", id).await.as_str(), "Succeeded");
    let executions = h.executions(machine).await;
    assert_eq!(executions.len(), 1);
    reported - executions[0].stop_date().unwrap().as_secs_f64()
}

const NEEDS_EVENTS: &str =
    "fakecloud emits no Step Functions execution status events; MiniStack does, as AWS";

/// A 60 s execution, checked at the job's usual pace, would be seen ended up
/// to ~16 s late, and across continuations; with its end event through the
/// queue it is reported within a second of its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executions_end_wakes_its_job_through_the_events_queue() {
    if !needs(Emulator::Ministack, NEEDS_EVENTS) {
        return;
    }
    let h = Harness::start().await;
    let (worker, machine, _, id) = run_with_queue(&h, 60).await;
    let late = reported_after_end(&h, &machine, &id, Duration::from_secs(120)).await;
    assert!(late < 1.0, "reported {late:.2} s after the execution ended");
    worker.stop().await;
}

/// The queue is deleted in the middle of a 60 s execution: the job goes
/// back to its usual pace (a check every quarter of the execution's age,
/// ±10%) and sees the end within that bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_queue_deleted_midway_the_end_is_seen_at_the_usual_pace() {
    if !needs(Emulator::Ministack, NEEDS_EVENTS) {
        return;
    }
    let h = Harness::start().await;
    let (worker, machine, queue, id) = run_with_queue(&h, 60).await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    let sqs = aws_sdk_sqs::Client::new(&h.clients.sdk);
    sqs.delete_queue().queue_url(&queue).send().await.unwrap();
    let late = reported_after_end(&h, &machine, &id, Duration::from_secs(120)).await;
    let bound = 60.0 / 4.0 * 1.1 + 1.0;
    assert!(
        late < bound,
        "reported {late:.2} s after the end (bound {bound} s)"
    );
    worker.stop().await;
}

/// An end event as Step Functions sends it, from the execution as it is.
fn end_event(
    execution: &aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
    status: &str,
    output_included: bool,
) -> String {
    let ms = |d: &aws_sdk_sfn::primitives::DateTime| d.to_millis().unwrap();
    serde_json::json!({
        "version": "0", "id": uuid_like(),
        "detail-type": "Step Functions Execution Status Change", "source": "aws.states",
        "account": "123456789012", "time": "2026-12-01T00:00:00Z", "region": "us-east-1",
        "resources": [execution.execution_arn()],
        "detail": {
            "executionArn": execution.execution_arn(),
            "stateMachineArn": execution.state_machine_arn(),
            "name": execution.name(), "status": status,
            "startDate": ms(execution.start_date()),
            "stopDate": execution.stop_date().map(ms),
            "output": execution.output(),
            "outputDetails": {"included": output_included}
        }
    })
    .to_string()
}

/// The test standing in for EventBridge (or for whoever may edit its
/// rule): the queue's policy admits only the rule's messages (an explicit
/// Deny for everyone else, the account's root too, which MiniStack
/// checking IAM enforces as AWS does), so it is lifted first.
struct Stand {
    sqs: aws_sdk_sqs::Client,
    queue: String,
}

impl Stand {
    async fn in_for_eventbridge(h: &Harness, queue: String) -> Stand {
        let sqs = aws_sdk_sqs::Client::new(&h.clients.sdk);
        sqs.set_queue_attributes()
            .queue_url(&queue)
            .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, "")
            .send()
            .await
            .unwrap();
        Stand { sqs, queue }
    }

    async fn send(&self, body: String) {
        self.sqs
            .send_message()
            .queue_url(&self.queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
}

fn uuid_like() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A worker following a 12-second execution with the events queue, once
/// the execution started: what the events tests send their events with.
struct Started {
    worker: RunningWorker,
    machine: String,
    id: String,
    arn: String,
    sfn: aws_sdk_sfn::Client,
    queue: Stand,
    /// The execution as DescribeExecution saw it running.
    running: aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
}

async fn started_with_queue(h: &Harness) -> Started {
    let (worker, machine, queue, id) = run_with_queue(h, 12).await;
    let arn = wait_for("the execution to start", || async {
        h.executions(&machine)
            .await
            .first()
            .map(|e| e.execution_arn().to_string())
    })
    .await;
    let sfn = aws_sdk_sfn::Client::new(&h.clients.sdk);
    let queue = Stand::in_for_eventbridge(h, queue).await;
    let running = sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    Started {
        worker,
        machine,
        id,
        arn,
        sfn,
        queue,
        running,
    }
}

/// Events are delivered at least once, and in any order: a "running" event
/// after the end, a success event whose output was left out (a hint: the
/// job looks, and sees the execution still running), and five copies of the
/// end after it was reported change nothing. The job reports once, when
/// the execution really ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_or_out_of_order_events_change_nothing() {
    if !needs(Emulator::Ministack, NEEDS_EVENTS) {
        return;
    }
    let h = Harness::start().await;
    let Started {
        worker,
        machine,
        id,
        arn,
        sfn,
        queue,
        running,
    } = started_with_queue(&h).await;
    let send = |body: String| queue.send(body);
    send(end_event(&running, "SUCCEEDED", false)).await;
    send(end_event(&running, "RUNNING", true)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        h.execution_status("app", &id).await.as_str(),
        "InProgress",
        "an event without the end made the job report before the execution ended"
    );
    assert_eq!(h.wait_until_done("app", &id).await, "Succeeded");
    let ended = sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    for _ in 0..5 {
        send(end_event(&ended, "SUCCEEDED", true)).await;
    }
    send(end_event(&running, "RUNNING", true)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(h.executions(&machine).await.len(), 1);
    let text = worker.stop().await;
    let reports = crate::worker::metric(&text, "cpsf_jobs_total{outcome=\"succeeded\"}");
    assert_eq!(reports, 1.0, "{text}");
    let failed = crate::worker::metric(&text, "cpsf_jobs_total{outcome=\"failed\"}");
    assert_eq!(failed, 0.0, "{text}");
}

/// Whoever may edit the events rule can send any event through it (issue
/// 27): a success with chosen outputs, and a failure, for a running
/// execution. Neither is reported: the job describes the execution, sees
/// it running, and reports its real end, with its real outputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_end_event_is_not_reported() {
    if !needs(Emulator::Ministack, NEEDS_EVENTS) {
        return;
    }
    let h = Harness::start().await;
    let Started {
        worker,
        id,
        arn,
        queue,
        running,
        ..
    } = started_with_queue(&h).await;
    let forge = |status: &str, detail: serde_json::Value| {
        let mut event: serde_json::Value =
            serde_json::from_str(&end_event(&running, status, true)).unwrap();
        event["detail"]["stopDate"] = (cpsf_worker::base::clock::epoch_now() as i64 * 1000).into();
        for (key, value) in detail.as_object().unwrap() {
            event["detail"][key] = value.clone();
        }
        event.to_string()
    };
    queue
        .send(forge(
            "SUCCEEDED",
            serde_json::json!({"output": r#"{"outputs": {"Url": "https://evil.example"}}"#}),
        ))
        .await;
    queue
        .send(forge(
            "FAILED",
            serde_json::json!({"error": "Forged", "cause": "not from Step Functions"}),
        ))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        h.execution_status("app", &id).await.as_str(),
        "InProgress",
        "a forged end was reported"
    );
    assert_eq!(h.wait_until_done("app", &id).await, "Succeeded");
    let detail = h.deploy_detail("app").await;
    assert_eq!(
        crate::deploy_harness::output_variable(&detail, "Url"),
        None,
        "an output variable from the forged event"
    );
    assert_eq!(
        crate::deploy_harness::output_variable(&detail, "ExecutionArn").as_deref(),
        Some(arn.as_str())
    );
    worker.stop().await;
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
