//! A rollout that stops, or whose worker dies, on the playground: an alarm
//! during the bake, a role that cannot be assumed, a worker killed
//! mid-wave (issue 17). MiniStack only, for the reasons `targets.rs` gives.

use crate::deploy_harness::*;
use crate::harness::*;
use crate::targets::{FAR, HERE, THERE, WHY, rollout};
use aws_sdk_cloudformation::config::Region;
use cpsf_playground::Emulator;
use serde_json::json;

impl Harness {
    /// The rollout's own execution (not a target's), once it runs.
    pub async fn running_rollout(&self) -> String {
        let machine = self
            .sfn
            .list_state_machines()
            .send()
            .await
            .unwrap()
            .state_machines()
            .iter()
            .find(|m| m.name() == "cpsf-deploy")
            .map(|m| m.state_machine_arn().to_string())
            .expect("the deploy state machine");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let executions = self
                .sfn
                .list_executions()
                .state_machine_arn(&machine)
                .send()
                .await
                .unwrap();
            // Targets' executions are named after the target.
            if let Some(found) = executions
                .executions()
                .iter()
                .find(|e| e.name().starts_with("app-"))
            {
                return found.execution_arn().to_string();
            }
            assert!(std::time::Instant::now() < deadline, "no rollout started");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// CloudWatch in `account` (None: the worker's) and `region`.
    pub fn cloudwatch_in(&self, account: Option<&str>, region: &str) -> aws_sdk_cloudwatch::Client {
        let mut config = aws_sdk_cloudwatch::config::Builder::from(&self.clients.sdk)
            .region(Region::new(region.to_string()));
        if let Some(account) = account {
            config = config.credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
                account, "test", None, None, "far",
            ));
        }
        aws_sdk_cloudwatch::Client::from_conf(config.build())
    }

    /// A metric alarm `name` in `account` and `region`, in OK.
    pub async fn put_alarm(&self, account: Option<&str>, region: &str, name: &str) {
        self.cloudwatch_in(account, region)
            .put_metric_alarm()
            .alarm_name(name)
            .namespace("cpsf/test")
            .metric_name("Errors")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(
                aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold,
            )
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_during_the_bake_stops_the_rollout_naming_it() {
    if !needs(Emulator::Ministack, WHY) {
        return;
    }
    let (h, _worker) = deploy_setup().await;
    h.put_alarm(None, HERE, "app-errors").await;
    let cloudwatch = h.cloudwatch_in(None, HERE);
    let mut app = rollout();
    app.deploy["bake"] = json!({"seconds": 600, "alarms": ["app-errors"]});
    let id = h.start_deploy("app", &app).await;
    // Wave 1 deploys here; the rollout then bakes, watching the alarm,
    // which goes to ALARM only once the bake has read it healthy.
    let rollout = h.running_rollout().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while h.states_named(&rollout, "Bake").await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the rollout never baked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        h.app_stack_in(None, HERE).await.is_some(),
        "wave 1 deployed"
    );
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    cloudwatch
        .set_alarm_state()
        .alarm_name("app-errors")
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("Threshold Crossed: 3 errors in the last minute")
        .send()
        .await
        .unwrap();
    // Meanwhile the pipeline shows the bake (the job hands back every
    // follow window, 10 s here, with the rollout's progress).
    let shown = h
        .summaries_until(
            "app",
            "wave 1/3 deployed; baking before wave 2",
            std::time::Duration::from_secs(60),
        )
        .await;
    assert!(
        shown
            .iter()
            .any(|s| s.contains("wave 1/3 deployed; baking before wave 2")),
        "{shown:?}"
    );
    let status = h.wait_until_done("app", &id).await;
    let detail = h.deploy_detail("app").await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    assert!(
        message.contains("the bake after wave 1/3 stopped the rollout"),
        "{message}"
    );
    assert!(
        message.contains(&format!("'app-errors' in {HERE}")),
        "{message}"
    );
    assert!(message.contains("3 errors in the last minute"), "{message}");
    assert!(
        message.contains("waves 2 to 3 were not started"),
        "{message}"
    );
    for (account, region) in [(None, THERE), (Some(FAR), HERE), (Some(FAR), THERE)] {
        assert_eq!(
            h.app_stack_in(account, region).await,
            None,
            "{account:?} {region}"
        );
    }
}

/// The playground's MiniStack checks IAM: there, as on AWS, STS refuses a
/// role that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_cannot_be_assumed_is_named_and_nothing_deploys_there() {
    if !needs(Emulator::Ministack, WHY) {
        return;
    }
    let h = Harness::start().await;
    let h = deploy_playground_on(h).await;
    let _worker = h.start_deploy_worker(true, true);
    let missing = "arn:aws:iam::222222222222:role/not-there";
    let mut app = rollout();
    app.deploy["targets"] = json!([
        {"name": "here-use1", "region": HERE},
        {"name": "far-use1", "account": FAR, "region": HERE, "roleArn": missing}
    ]);
    app.deploy["waves"] = json!([["far-use1", "here-use1"]]);
    let (status, detail) = h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    assert!(
        message.contains("wave 1/1 stopped the rollout: 1 of 2 targets failed"),
        "{message}"
    );
    assert!(
        message.contains("far-use1 failed in CheckStack: Cpsf.TargetUnreachable"),
        "{message}"
    );
    assert!(
        message.contains(&format!("the worker could not assume {missing}")),
        "{message}"
    );
    assert!(!message.contains("here-use1 failed"), "{message}");
    assert_eq!(h.app_stack_in(Some(FAR), HERE).await, None);
    assert!(
        h.app_stack_in(None, HERE).await.is_some(),
        "the wave's other target still deployed"
    );
}

/// The job's worker, a separate process, is killed with SIGKILL while wave
/// 2 deploys; a new worker recovers the job (`job/recover.rs`) and the
/// rollout ends as it would have: one execution per target, one stack
/// operation per target. The tasks are served by another worker that
/// lives on: a task handler killed mid-task is retried after its heartbeat
/// timeout (`deploy_process.rs`), which MiniStack does not enforce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_wave_leaves_one_deploy_per_target() {
    if !needs(Emulator::Ministack, WHY) {
        return;
    }
    let h = Harness::start().await;
    let machine = h.install_deploy_pipeline().await;
    let tasks = h.start_deploy_worker(false, true);
    let mut jobs = job_worker_process(&h.env);
    let mut app = rollout();
    app.deploy["bake"] = json!({"seconds": 2});
    let id = h.start_deploy("app", &app).await;
    let rollout = h.running_rollout().await;
    wait_for("wave 2 to start", || async {
        (h.states_named(&rollout, "DeployWave").await >= 2).then_some(())
    })
    .await;
    kill_hard(&mut jobs);
    let replacement = h.start_recovering_job_worker(&machine);
    let status = h.wait_until_done("app", &id).await;
    let detail = h.deploy_detail("app").await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    let names = h.execution_names(&machine).await;
    assert_eq!(
        names.len(),
        5,
        "the rollout and one execution a target: {names:?}"
    );
    for (account, region) in [
        (None, HERE),
        (None, THERE),
        (Some(FAR), HERE),
        (Some(FAR), THERE),
    ] {
        let operations =
            stack_operations_through(&h.cloudformation_in(account, region), "cpsf-demo-app").await;
        assert_eq!(operations, 1, "{account:?} {region}");
    }
    replacement.stop().await;
    tasks.stop().await;
}
