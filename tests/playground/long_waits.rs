//! A long stack update, and what happens to the wait-stack task meanwhile:
//! the worker serving it is restarted, or CloudFormation throttles its
//! DescribeStacks. Neither may fail the deploy.
//!
//! A stack update lasts as long as the test wants through a wait condition
//! (`AWS::CloudFormation::WaitCondition` with a `CreationPolicy`) that the
//! test signals with SignalResource when it is done (CloudFormation user
//! guide, "CreationPolicy attribute").

use crate::deploy_harness::*;
use crate::figures;
use crate::harness::*;
use cpsf_playground::Emulator;
use cpsf_playground::proxy::{FaultPlan, Hook, Phase, Verdict};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The sample app plus a resource that holds the update until signalled.
pub fn with_gate(mut app: App) -> App {
    let gate = "Resources:
  Gate:
    Type: AWS::CloudFormation::WaitCondition
    CreationPolicy:
      ResourceSignal:
        Count: 1
        Timeout: PT10M
";
    assert!(app.template.contains("\nResources:\n"));
    app.template = app.template.replacen("Resources:\n", gate, 1);
    app
}

impl Harness {
    /// Waits until the update is held at the gate.
    async fn gate_waiting(&self, id: &str) {
        let cfn = self.clients.cloudformation();
        wait_for_long(
            "the update to reach the gate",
            Duration::from_secs(60),
            || async {
                let status = self.execution_status("app", id).await;
                assert_eq!(
                    status.as_str(),
                    "InProgress",
                    "{}",
                    error_message(&self.deploy_detail("app").await)
                );
                // MiniStack lists a resource only once it exists; the stack's
                // status says the update is under way.
                let found = cfn
                    .describe_stacks()
                    .stack_name("cpsf-demo-app")
                    .send()
                    .await
                    .ok()?;
                let status = found.stacks().first()?.stack_status()?.as_str().to_string();
                (status == "UPDATE_IN_PROGRESS").then_some(())
            },
        )
        .await;
    }

    async fn open_gate(&self) {
        self.clients
            .cloudformation()
            .signal_resource()
            .stack_name("cpsf-demo-app")
            .logical_resource_id("Gate")
            .unique_id("test")
            .status(aws_sdk_cloudformation::types::ResourceSignalStatus::Success)
            .send()
            .await
            .expect("signal the gate");
    }

    /// Task failures and timeouts in an execution's history.
    async fn task_failures(&self, execution_arn: &str) -> Vec<String> {
        let history = self
            .sfn
            .get_execution_history()
            .execution_arn(execution_arn)
            .send()
            .await
            .unwrap();
        history
            .events()
            .iter()
            .filter(|e| {
                matches!(
                    e.r#type().as_str(),
                    "ActivityTimedOut" | "ActivityFailed" | "TaskFailed" | "TaskTimedOut"
                )
            })
            .map(|e| format!("{:?}", e))
            .collect()
    }
}

/// Three rolling restarts of the task worker while WaitForStack waits on a
/// long update. Each stopping worker answers its wait "not stable yet", and
/// the state machine asks again; no task is left to a heartbeat timeout
/// (which would cost a retry each on AWS, and on MiniStack, which enforces
/// none, would strand the deploy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_restarts_during_a_long_update_do_not_fail_the_deploy() {
    if !needs(
        Emulator::Ministack,
        "the update must last while the worker restarts; fakecloud completes a \
         WaitCondition at once, MiniStack holds it until it is signalled, as AWS does",
    ) {
        return;
    }
    let h = deploy_playground().await;
    let jobs = h.start_deploy_worker(true, false);
    // Real processes: a stopped worker's unfinished work dies with it.
    let task_worker = || task_worker_process(&h.env);
    let mut tasks = task_worker();
    let (status, created) = h.deploy("app", &App::sample()).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&created));

    let id = h.start_deploy("app", &with_gate(App::sample())).await;
    h.gate_waiting(&id).await;
    let mut stops = Vec::new();
    for _ in 0..3 {
        // Let the worker take the WaitForStack task (again).
        tokio::time::sleep(Duration::from_secs(2)).await;
        let stopping = Instant::now();
        let exit = terminate(&mut tasks.0, Duration::from_secs(30)).await;
        assert!(
            exit.success(),
            "the worker exits cleanly on SIGTERM: {exit}"
        );
        stops.push(stopping.elapsed().as_secs_f64());
        tasks = task_worker();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    h.open_gate().await;
    let status = h
        .wait_until_done_within("app", &id, Duration::from_secs(90))
        .await;
    let updated = h.deploy_detail("app").await;
    assert_eq!(status, "Succeeded", "{}", error_message(&updated));
    let execution = output_variable(&updated, "ExecutionArn").unwrap();
    let failures = h.task_failures(&execution).await;
    assert!(
        failures.is_empty(),
        "tasks failed or timed out: {failures:?}"
    );
    let waits = h.states_named(&execution, "WaitForStack").await;
    assert!(
        waits >= 4,
        "WaitForStack entered {waits} times over 3 restarts"
    );
    drop(tasks);
    jobs.stop().await;
    figures::record(
        "restarts",
        serde_json::json!({
            "restarts": stops.len(),
            "slowest_stop_seconds": stops.iter().cloned().fold(0.0, f64::max),
            "wait_states": waits,
            "task_failures": failures.len(),
        }),
    );
}

/// CloudFormation throttles every DescribeStacks for a while during the
/// wait: more than the SDK's own retries and the state machine's three
/// retries of the task would absorb. The handler retries within the task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_wait_does_not_fail_the_deploy() {
    // Calls throttled after the change set was executed: with the SDK's 3
    // attempts per call, 5 failed describes, one more than the task's
    // first try and the state machine's 3 retries.
    const THROTTLED: usize = 15;
    let h = deploy_playground().await;
    let jobs = h.start_deploy_worker(true, false);
    let plain = h.start_deploy_worker(false, true);
    let (status, created) = h.deploy("app", &App::sample()).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&created));
    plain.stop().await;

    let executed = Arc::new(AtomicBool::new(false));
    let throttled = Arc::new(AtomicUsize::new(0));
    let hook: Hook = {
        let (executed, throttled) = (executed.clone(), throttled.clone());
        Arc::new(move |phase, operation, _body| match (phase, operation) {
            (Phase::After, "cloudformation:ExecuteChangeSet") => {
                executed.store(true, Ordering::SeqCst);
                Verdict::Continue
            }
            (Phase::Before, "cloudformation:DescribeStacks")
                if executed.load(Ordering::SeqCst)
                    && throttled.fetch_add(1, Ordering::SeqCst) < THROTTLED =>
            {
                Verdict::Throttle
            }
            _ => Verdict::Continue,
        })
    };
    let (_proxy, env) = h.proxy(FaultPlan::none(), Some(hook)).await;
    let through_proxy = Harness::on(&env).await;
    let tasks = through_proxy.start_deploy_worker(false, true);

    let mut app = App::sample();
    app.deploy["parameters"]["Greeting"] = "hello through throttling".into();
    let started = Instant::now();
    let id = h.start_deploy("app", &app).await;
    let status = h
        .wait_until_done_within("app", &id, Duration::from_secs(180))
        .await;
    let updated = h.deploy_detail("app").await;
    assert_eq!(status, "Succeeded", "{}", error_message(&updated));
    assert!(
        throttled.load(Ordering::SeqCst) >= THROTTLED,
        "only {} DescribeStacks calls were throttled",
        throttled.load(Ordering::SeqCst)
    );
    let execution = output_variable(&updated, "ExecutionArn").unwrap();
    let failures = h.task_failures(&execution).await;
    assert!(failures.is_empty(), "tasks failed: {failures:?}");
    tasks.stop().await;
    jobs.stop().await;
    figures::record(
        "throttled_wait",
        serde_json::json!({
            "throttled_describes": THROTTLED,
            "deploy_seconds": started.elapsed().as_secs_f64(),
            "task_failures": failures.len(),
        }),
    );
}
