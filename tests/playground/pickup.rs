//! Event-driven pickup (issue 31): the local CodePipeline service puts an
//! action's start on EventBridge as CodePipeline does, a rule sends it to
//! the events queue, and the worker polls for the job at once; while events
//! flow, idle polls are a safety net ten seconds apart
//! (crates/worker/src/pickup/).

use crate::harness::*;
use crate::worker_harness::RunningWorker;
use cpsf_playground::Emulator;
use cpsf_worker::job::handle::JobSettings;
use std::time::{Duration, Instant};

const NEEDS_EVENTS: &str = "the playground's EventBridge rules and events queue exist on MiniStack \
     (fakecloud emits no Step Functions events, so the playground makes no queue there)";

/// PollForJobs calls the worker made so far, whatever their result.
fn polls(worker: &RunningWorker) -> u64 {
    worker
        .metrics_text()
        .lines()
        .filter(|l| l.starts_with("cpsf_polls_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Jobs the worker picked up so far.
fn picked(worker: &RunningWorker) -> u64 {
    worker
        .metrics_text()
        .lines()
        .find(|l| l.starts_with("cpsf_polls_total{result=\"jobs\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or(0.0) as u64
}

/// A worker of the pipeline "app" (a 1 s deploy) with the playground's
/// events queue.
async fn idle_worker(h: &Harness) -> (RunningWorker, String) {
    h.create_worker_type().await;
    let machine = h.create_slow_machine("quick", 1).await;
    h.create_worker_pipeline("app", &[("StateMachineArn", &machine)])
        .await;
    let queue = h.env.events_queue.clone().expect("an events queue");
    let worker = h.start_deploy_worker_with(
        true,
        false,
        JobSettings {
            events_queue: Some(queue.clone()),
            ..JobSettings::default()
        },
    );
    (worker, queue)
}

/// Seconds from StartPipelineExecution to the worker's PollForJobs that
/// handed it the Deploy job (the source action's copy included).
async fn pickup_after_start(h: &Harness, worker: &RunningWorker) -> f64 {
    let before = picked(worker);
    let started = Instant::now();
    h.start_execution("app").await;
    wait_for_long(
        "the job to be picked up",
        Duration::from_secs(30),
        || async { (picked(worker) > before).then(|| started.elapsed().as_secs_f64()) },
    )
    .await
}

/// The start of a Deploy action reaches the events queue as AWS delivers
/// it (source `aws.codepipeline`, the events reference's detail), and the
/// bootstrap's pattern, tested by EventBridge itself, matches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_start_reaches_the_events_queue_as_aws_delivers_it() {
    if !needs(Emulator::Ministack, NEEDS_EVENTS) {
        return;
    }
    let h = Harness::start().await;
    h.create_worker_type().await;
    let machine = h.create_slow_machine("quick", 1).await;
    h.create_worker_pipeline("app", &[("StateMachineArn", &machine)])
        .await;
    let queue = h.env.events_queue.clone().expect("an events queue");
    let execution = h.start_execution("app").await;
    let sqs = aws_sdk_sqs::Client::new(&h.clients.sdk);
    let body = wait_for_long("the start event", Duration::from_secs(20), || async {
        let received = sqs
            .receive_message()
            .queue_url(&queue)
            .wait_time_seconds(2)
            .send()
            .await
            .unwrap();
        received
            .messages()
            .iter()
            .filter_map(|m| m.body())
            .find(|b| cpsf_worker::events::action::is_action_event(b))
            .map(str::to_string)
    })
    .await;
    let event = cpsf_worker::events::action::parse(&body).unwrap();
    assert_eq!(event.state, "STARTED");
    assert!(event.is_of(&deploy_type_id()), "{body}");
    assert_eq!(event.key.pipeline, "app");
    assert_eq!(event.key.execution_id, execution);
    assert_eq!(event.key.action, "Deploy");
    let envelope: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(envelope["source"], "aws.codepipeline");
    assert_eq!(
        envelope["resources"][0],
        format!("arn:aws:codepipeline:us-east-1:123456789012:app")
    );
    // The bootstrap's rule (ActionStartsRule's pattern: the template tests
    // tie it to these constants) matches the event as delivered.
    let pattern = cpsf_playground::events_queue::action_pattern("aws.codepipeline", &[]);
    let matched = aws_sdk_eventbridge::Client::new(&h.clients.sdk)
        .test_event_pattern()
        .event_pattern(pattern.to_string())
        .event(&body)
        .send()
        .await
        .unwrap();
    assert!(matched.result(), "{pattern} does not match {body}");
}

/// Idle with events flowing, the worker polls about every ten seconds,
/// yet a Deploy action's job is picked up within a second of its start:
/// the start event wakes the poller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_event_brings_the_job_at_once_while_idle_polls_are_ten_seconds_apart() {
    if !needs(Emulator::Ministack, NEEDS_EVENTS) {
        return;
    }
    let h = Harness::start().await;
    let (worker, _) = idle_worker(&h).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_from = polls(&worker);
    tokio::time::sleep(Duration::from_secs(25)).await;
    let idle = polls(&worker) - idle_from;
    assert!(idle <= 3, "{idle} PollForJobs in 25 s idle");
    for _ in 0..2 {
        let pickup = pickup_after_start(&h, &worker).await;
        assert!(pickup < 1.0, "picked up {pickup:.2} s after the start");
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    worker.stop().await;
}

/// The events queue is deleted: the worker goes back to its usual pace at
/// once, and a job is picked up within its usual second, not at the next
/// safety-net poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_queue_deleted_jobs_are_picked_up_at_the_usual_pace() {
    if !needs(Emulator::Ministack, NEEDS_EVENTS) {
        return;
    }
    let h = Harness::start().await;
    let (worker, queue) = idle_worker(&h).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sqs = aws_sdk_sqs::Client::new(&h.clients.sdk);
    sqs.delete_queue().queue_url(&queue).send().await.unwrap();
    // The worker learns it at its next receive: the one under way
    // long-polls up to 20 s.
    tokio::time::sleep(Duration::from_secs(22)).await;
    let from = polls(&worker);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let usual = polls(&worker) - from;
    assert!(
        usual >= 5,
        "only {usual} PollForJobs in 5 s: still the safety net"
    );
    // With no start event to wake it, the worker's usual pace still picks
    // the job up within its pause (0.3 s on the playground) and the
    // source copy.
    let pickup = pickup_after_start(&h, &worker).await;
    assert!(pickup < 1.5, "picked up {pickup:.2} s after the start");
    worker.stop().await;
}
