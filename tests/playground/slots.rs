//! More long stack operations than task slots (issue 14, item 11): a
//! worker whose activities each take 2 tasks at once, and 3 deploys whose
//! stacks are held by a wait condition. Every deploy's WaitForStack must
//! reach the worker while the others wait; with one small limit shared by
//! all handlers, the third sat in Step Functions until its task timed out.

use crate::deploy_harness::*;
use crate::harness::*;
use crate::long_waits::with_gate;
use crate::worker::metric;
use crate::worker_harness::RunningWorker;
use cpsf_playground::Emulator;
use cpsf_playground::proxy::{FaultPlan, Hook, Phase, Verdict};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEPLOYS: usize = 3;
const TASK_CONCURRENCY: usize = 2;

/// The stack a wait-stack task is for, from a GetActivityTask answer: only
/// WaitForStack's input carries the create or update's `stackOperation`
/// (statemachines/deploy.asl.json).
fn waited_stack(answer: &[u8]) -> Option<String> {
    let answer: serde_json::Value = serde_json::from_slice(answer).ok()?;
    let input: serde_json::Value = serde_json::from_str(answer["input"].as_str()?).ok()?;
    let deploy = &input["deploy"];
    deploy.get("stackOperation")?;
    Some(deploy["stackName"].as_str()?.to_string())
}

fn stack(i: usize) -> String {
    format!("cpsf-slots-{i}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_long_waits_than_task_slots_all_reach_the_worker() {
    if !needs(
        Emulator::Ministack,
        "the stacks must stay in progress until signalled; fakecloud completes \
         a WaitCondition at once, MiniStack holds it, as AWS does",
    ) {
        return;
    }
    let h = Harness::start().await;
    h.create_worker_type().await;
    let machine = h.install_deploy(|_| {}).await;

    // The worker talks through a proxy that notes which stacks' wait-stack
    // tasks it was handed: MiniStack's history has no ActivityStarted event.
    let handed: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let hook: Hook = {
        let handed = handed.clone();
        Arc::new(move |phase, operation, body| {
            if phase == Phase::After
                && operation == "states:GetActivityTask"
                && let Some(stack) = waited_stack(body)
            {
                handed.lock().unwrap().insert(stack);
            }
            Verdict::Continue
        })
    };
    let (_proxy, env) = h.proxy(FaultPlan::none(), Some(hook)).await;
    let through = Harness::on(&env).await;
    let mut options = deploy_worker_options(true, true, cpsf_playground::preset::job());
    let tasks = options.tasks.as_mut().unwrap();
    tasks.runner.max_concurrent = TASK_CONCURRENCY;
    // As deployed: a wait holds its task for up to an hour, so a slot it
    // holds does not come free within this test.
    tasks.wait_cap = cpsf_worker::worker::TaskOptions::default().wait_cap;
    let metrics = cpsf_worker::metrics::Metrics::default();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let run = cpsf_worker::worker::run(
        through.clients.clone(),
        options,
        metrics.clone(),
        shutdown.clone(),
    );
    let worker = RunningWorker::new(metrics.clone(), shutdown, tokio::spawn(run));
    let busy_waits = || {
        metric(
            &metrics.encode(),
            "cpsf_task_slots_busy{handler=\"wait-stack\"}",
        )
    };

    let mut runs = Vec::new();
    for i in 0..DEPLOYS {
        let (name, key) = (format!("slots-{i}"), format!("slots-{i}.zip"));
        h.create_worker_pipeline_from(
            &name,
            &key,
            &[
                ("StateMachineArn", machine.as_str()),
                ("InputType", "FilePath"),
                ("Input", "deploy.json"),
            ],
        )
        .await;
        let mut app = with_gate(App::sample());
        app.deploy["stackName"] = stack(i).into();
        // The app's SSM parameter is named after its environment.
        app.deploy["parameters"]["Environment"] = format!("slots-{i}").into();
        runs.push((name.clone(), h.put_app_and_start(&name, &key, &app).await));
    }

    // Every stack is held at its gate and every WaitForStack task reached
    // the worker. The limit only bounds how long a broken worker is waited
    // for: all of it happens in a few seconds when it works.
    let cfn = h.clients.cloudformation();
    let expected: BTreeSet<String> = (0..DEPLOYS).map(stack).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    loop {
        let mut in_progress = BTreeSet::new();
        for name in &expected {
            let status = cfn
                .describe_stacks()
                .stack_name(name)
                .send()
                .await
                .ok()
                .and_then(|d| d.stacks().first()?.stack_status().cloned());
            if status.is_some_and(|s| s.as_str().ends_with("_IN_PROGRESS")) {
                in_progress.insert(name.clone());
            }
        }
        let reached = handed.lock().unwrap().clone();
        // The worker says so too: its wait-stack slots in use.
        if in_progress == expected && reached == expected && busy_waits() == DEPLOYS as f64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "with {TASK_CONCURRENCY} task slots, {} of {DEPLOYS} WaitForStack tasks reached \
             the worker ({reached:?}); stacks in progress: {in_progress:?}; \
             wait-stack slots busy: {}",
            reached.len(),
            busy_waits()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    for name in &expected {
        cfn.signal_resource()
            .stack_name(name)
            .logical_resource_id("Gate")
            .unique_id("test")
            .status(aws_sdk_cloudformation::types::ResourceSignalStatus::Success)
            .send()
            .await
            .expect("signal the gate");
    }
    for (name, id) in &runs {
        let status = h
            .wait_until_done_within(name, id, Duration::from_secs(90))
            .await;
        let detail = h.deploy_detail(name).await;
        assert_eq!(status, "Succeeded", "{name}: {}", error_message(&detail));
    }
    let text = worker.stop().await;
    assert_eq!(
        metric(&text, "cpsf_task_slots{handler=\"wait-stack\"}"),
        cpsf_worker::activity::runner::DEFAULT_MAX_WAITS as f64
    );
    assert_eq!(
        metric(&text, "cpsf_task_slots_busy{handler=\"wait-stack\"}"),
        0.0
    );
}
