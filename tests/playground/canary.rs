//! A canary deploy of a Lambda alias on the playground (issue 30): the
//! split seen through Lambda's GetAlias while a step bakes, all the
//! traffic on the new version after the last, the roll-back when an alarm
//! goes to ALARM during a bake, and a worker stopped or killed mid-bake.
//!
//! MiniStack only: its CloudFormation creates Lambda functions, versions
//! and aliases with `RoutingConfig.AdditionalVersionWeights` (GetAlias
//! shows the weights: docs/emulators.md); fakecloud 0.51.0 keeps Lambda
//! metadata-only without Docker and its CloudFormation has no
//! AWS::Lambda::Version (docs/emulators.md).

use crate::deploy_harness::*;
use crate::harness::*;
use crate::targets::{FAR, FAR_ROLE, HERE, THERE};
use aws_sdk_cloudformation::config::Region;
use cpsf_playground::Emulator;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const WHY: &str = "its CloudFormation makes Lambda versions and weighted aliases, and CloudWatch \
                   alarms take SetAlarmState (fakecloud: no AWS::Lambda::Version)";
const STACK: &str = "cpsf-canary-app";

/// The canary sample's template at `release` (app/canary.json): a
/// function whose code and version description say the release, its
/// version (kept when replaced, as SAM and CDK keep theirs), and the alias
/// `live` on it.
fn template(release: u32) -> String {
    include_str!("../../app/canary.json").replace("{release}", &release.to_string())
}

fn app(release: u32, canary: Option<Value>) -> App {
    let mut deploy = json!({"stackName": STACK, "templatePath": "template.yaml",
                            "capabilities": ["CAPABILITY_IAM"]});
    if let Some(canary) = canary {
        deploy["canary"] = canary;
    }
    App {
        deploy,
        template: template(release),
    }
}

impl Harness {
    fn lambda_in(&self, account: Option<&str>, region: &str) -> aws_sdk_lambda::Client {
        let mut config = aws_sdk_lambda::config::Builder::from(&self.clients.sdk)
            .region(Region::new(region.to_string()));
        if let Some(account) = account {
            config = config.credentials_provider(aws_sdk_lambda::config::Credentials::new(
                account, "test", None, None, "far",
            ));
        }
        aws_sdk_lambda::Client::from_conf(config.build())
    }

    /// The alias `live`: its version and the weights it routes elsewhere.
    async fn live(&self) -> (String, Vec<(String, f64)>) {
        self.live_in(None, "us-east-1").await
    }

    /// The same in `account` (None: the worker's) and `region`.
    async fn live_in(&self, account: Option<&str>, region: &str) -> (String, Vec<(String, f64)>) {
        let function = self
            .cloudformation_in(account, region)
            .describe_stack_resource()
            .stack_name(STACK)
            .logical_resource_id("Fn")
            .send()
            .await
            .unwrap()
            .stack_resource_detail()
            .unwrap()
            .physical_resource_id()
            .unwrap()
            .to_string();
        let alias = self
            .lambda_in(account, region)
            .get_alias()
            .function_name(function)
            .name("live")
            .send()
            .await
            .unwrap();
        let mut weights: Vec<(String, f64)> = alias
            .routing_config()
            .and_then(|r| r.additional_version_weights())
            .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        weights.sort_by(|a, b| a.0.cmp(&b.0));
        (alias.function_version().unwrap().to_string(), weights)
    }

    /// Watches the alias until `wanted` is what it serves, or `limit`.
    async fn alias_reaches(&self, wanted: (&str, &[(&str, f64)]), limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.alias_exists().await {
                let (version, weights) = self.live().await;
                let weights: Vec<(&str, f64)> =
                    weights.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                if version == wanted.0 && weights == wanted.1 {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    async fn alias_exists(&self) -> bool {
        self.clients
            .cloudformation()
            .describe_stack_resource()
            .stack_name(STACK)
            .logical_resource_id("Live")
            .send()
            .await
            .is_ok()
    }
}

/// Release 1 deployed (a create: a plain deploy even with a canary), and
/// the alarm the canary watches, in OK.
async fn released(h: &Harness) {
    let canary = json!({"alias": "Live", "steps": [50], "bakeMinutes": 0.05});
    let (status, detail) = h.deploy("app", &app(1, Some(canary))).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    assert_eq!(h.live().await, ("1".to_string(), vec![]));
    h.put_alarm(None, "us-east-1", "api-errors").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_takes_its_share_while_the_step_bakes_then_all_of_it() {
    if !needs(Emulator::Ministack, WHY) {
        return;
    }
    let (h, worker) = deploy_setup().await;
    released(&h).await;
    let canary =
        json!({"alias": "Live", "steps": [25], "bakeMinutes": 0.4, "alarms": ["api-errors"]});
    let started = Instant::now();
    let id = h.start_deploy("app", &app(2, Some(canary))).await;
    assert!(
        h.alias_reaches(("1", &[("2", 0.25)]), Duration::from_secs(30))
            .await,
        "the split is never seen: {:?}; {:?}",
        h.live().await,
        error_message(&h.deploy_detail("app").await)
    );
    // The pipeline shows the bake (the job hands back every follow
    // window, 10 s here, with the canary's progress).
    let shown = h
        .summaries_until("app", "canary 25%: baking, ", Duration::from_secs(60))
        .await;
    assert!(
        shown
            .iter()
            .any(|s| s.contains("canary 25%: baking, ")
                && s.contains("s left (step 1/1, alias Live)")),
        "{shown:?}"
    );
    let status = h.wait_until_done("app", &id).await;
    let detail = h.deploy_detail("app").await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    assert!(
        started.elapsed() >= Duration::from_secs(24),
        "the step baked 24 s"
    );
    assert_eq!(h.live().await, ("2".to_string(), vec![]));
    let said = summary(&detail);
    assert!(
        said.contains("canary on alias Live (from version 1): 25% → 100%"),
        "{said}"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_during_a_bake_puts_the_alias_back_and_fails_naming_it() {
    if !needs(Emulator::Ministack, WHY) {
        return;
    }
    let (h, worker) = deploy_setup().await;
    released(&h).await;
    let canary =
        json!({"alias": "Live", "steps": [10, 50], "bakeMinutes": 1, "alarms": ["api-errors"]});
    let id = h.start_deploy("app", &app(2, Some(canary))).await;
    assert!(
        h.alias_reaches(("1", &[("2", 0.1)]), Duration::from_secs(30))
            .await,
        "the split is never seen: {:?}; {:?}",
        h.live().await,
        error_message(&h.deploy_detail("app").await)
    );
    h.cloudwatch_in(None, "us-east-1")
        .set_alarm_state()
        .alarm_name("api-errors")
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("Threshold Crossed: 5 errors")
        .send()
        .await
        .unwrap();
    let status = h.wait_until_done("app", &id).await;
    let detail = h.deploy_detail("app").await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    assert!(
        message.contains(
            "canary stopped during the bake of step 1/2 (10%), alarm 'api-errors' is in ALARM: \
             Threshold Crossed: 5 errors"
        ),
        "{message}"
    );
    assert!(
        message.contains("alias Live serves version 1 again"),
        "{message}"
    );
    assert_eq!(h.live().await, ("1".to_string(), vec![]));
    // `cpsf history` lists the steps as they were applied.
    let execution = detail
        .output()
        .and_then(|o| o.execution_result())
        .and_then(|r| r.external_execution_id())
        .unwrap()
        .to_string();
    let events = cpsf_worker::history::fetch::all_events(&h.clients, &execution)
        .await
        .unwrap();
    let view = cpsf_worker::history::view::View::new(&execution, &events);
    assert_eq!(
        view.canary,
        [
            "step 1/2 (10%): alias Live on version 1, 10% to the new version".to_string(),
            "rolled back: alias Live on version 1 again (during the bake of step 1/2 (10%), \
             alarm 'api-errors' is in ALARM: Threshold Crossed: 5 errors)"
                .to_string()
        ]
    );
    assert!(
        view.text().contains("\ncanary     step 1/2 (10%)"),
        "{}",
        view.text()
    );
    worker.stop().await;
}

/// The worker following the deploy's job, a process of its own, is
/// killed with SIGKILL while the first step bakes: nothing of the canary
/// lives in it (the steps and the bake's start are the execution's
/// state), so a new worker recovers the job and the canary ends as it
/// would have — one execution, one stack update a step and one for the
/// template as given, all traffic on the new version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_bake_loses_nothing_and_takes_no_step_twice() {
    if !needs(Emulator::Ministack, WHY) {
        return;
    }
    let h = Harness::start().await;
    let machine = h.install_deploy_pipeline().await;
    let tasks = h.start_deploy_worker(false, true);
    let mut jobs = job_worker_process(&h.env);
    released(&h).await;
    let before = h.stack_operations(STACK).await;
    let executions = h.execution_names(&machine).await.len();
    let canary = json!({"alias": "Live", "steps": [20, 60], "bakeMinutes": 0.2});
    let id = h.start_deploy("app", &app(2, Some(canary))).await;
    assert!(
        h.alias_reaches(("1", &[("2", 0.2)]), Duration::from_secs(30))
            .await,
        "the split is never seen: {:?}",
        h.live().await
    );
    kill_hard(&mut jobs);
    let replacement = h.start_recovering_job_worker(&machine);
    let status = h
        .wait_until_done_within("app", &id, Duration::from_secs(120))
        .await;
    let detail = h.deploy_detail("app").await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    assert_eq!(h.live().await, ("2".to_string(), vec![]));
    assert_eq!(
        h.stack_operations(STACK).await - before,
        3,
        "two steps and the template as given, each once"
    );
    assert_eq!(
        h.execution_names(&machine).await.len() - executions,
        1,
        "one execution for the deploy"
    );
    replacement.stop().await;
    tasks.stop().await;
}

/// A task worker stopped (SIGTERM) while a step bakes hands its bake back
/// unfinished; the next worker bakes only what is left (the start stays in
/// the execution's state: CanaryBakeStart is entered once) and no step is
/// applied twice (one stack update a step, one for the template as given).
/// A SIGKILL ends the same way where Step Functions enforces
/// HeartbeatSeconds (AWS, fakecloud): the bake's task times out and is
/// handed out again with the same input. MiniStack 1.5.33 does not
/// enforce it (docs/emulators.md), and fakecloud cannot run a canary, so
/// the stop is a SIGTERM here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_mid_bake_loses_nothing_and_takes_no_step_twice() {
    if !needs(Emulator::Ministack, WHY) {
        return;
    }
    let h = deploy_playground().await;
    let jobs = h.start_deploy_worker(true, false);
    let task_worker = || task_worker_process(&h.env);
    let mut tasks = task_worker();
    released(&h).await;
    let before = h.stack_operations(STACK).await;
    let canary = json!({"alias": "Live", "steps": [20, 60], "bakeMinutes": 0.2});
    let id = h.start_deploy("app", &app(2, Some(canary))).await;
    assert!(
        h.alias_reaches(("1", &[("2", 0.2)]), Duration::from_secs(30))
            .await,
        "the split is never seen: {:?}",
        h.live().await
    );
    // Into the bake, then stop the worker and start another.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let exit = terminate(&mut tasks.0, Duration::from_secs(30)).await;
    assert!(
        exit.success(),
        "the worker exits cleanly on SIGTERM: {exit}"
    );
    tasks = task_worker();
    let status = h
        .wait_until_done_within("app", &id, Duration::from_secs(90))
        .await;
    let detail = h.deploy_detail("app").await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    assert_eq!(h.live().await, ("2".to_string(), vec![]));
    assert_eq!(
        h.stack_operations(STACK).await - before,
        3,
        "two steps and the template as given, each once"
    );
    let execution = output_variable(&detail, "ExecutionArn").unwrap();
    assert_eq!(
        h.states_named(&execution, "CanaryBakeStart").await,
        2,
        "one start a step"
    );
    assert!(
        h.states_named(&execution, "CanaryBake").await >= 3,
        "the stopped worker's bake was handed back and taken again"
    );
    drop(tasks);
    jobs.stop().await;
}

/// Within a rollout each target runs its own canary, in its own account
/// and region: its child execution takes the steps, reads the version its
/// alias serves and the alarm there (through the target's role), and ends
/// with its alias on the new version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_target_of_a_rollout_runs_its_own_canary() {
    if !needs(Emulator::Ministack, crate::targets::WHY) {
        return;
    }
    let (h, worker) = deploy_setup().await;
    let places = [(None, HERE), (Some(FAR), THERE)];
    for (account, region) in places {
        h.put_alarm(account, region, "api-errors").await;
    }
    let rollout = |release: u32| {
        let canary = json!({"alias": "Live", "steps": [50], "bakeMinutes": 0.05,
                            "alarms": ["api-errors"]});
        let mut app = app(release, Some(canary));
        app.deploy["targets"] = json!([
            {"name": "here-use1", "region": HERE},
            {"name": "far-usw2", "account": FAR, "region": THERE, "roleArn": FAR_ROLE}
        ]);
        app.deploy["waves"] = json!([["here-use1"], ["far-usw2"]]);
        app
    };
    let (status, detail) = h.deploy("app", &rollout(1)).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    let (status, detail) = h.deploy("app", &rollout(2)).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    for (account, region) in places {
        assert_eq!(
            h.live_in(account, region).await,
            ("2".to_string(), vec![]),
            "{account:?} {region}"
        );
    }
    // Each target's second child ran the step, its bake and the template
    // as given.
    let machine = output_variable(&detail, "StateMachineArn").unwrap();
    let mut canaries = 0;
    for execution in h.executions(&machine).await {
        let arn = execution.execution_arn();
        if h.states_named(arn, "CanaryBake").await > 0 {
            assert_eq!(h.states_named(arn, "CanaryStep").await, 2, "{arn}");
            canaries += 1;
        }
    }
    assert_eq!(canaries, 2, "one canary a target");
    worker.stop().await;
}

/// An alias CodeDeploy shifts (`UpdatePolicy: CodeDeployLambdaAliasUpdate`)
/// is left to CloudFormation and CodeDeploy: `canary` on it is refused
/// before anything changes, and without `canary` the update is a plain
/// one that says so. (MiniStack has no CodeDeploy and ignores the policy:
/// the plain update here moves the alias at once.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_codedeploy_shifts_is_left_to_it() {
    if !needs(Emulator::Ministack, WHY) {
        return;
    }
    let (h, worker) = deploy_setup().await;
    released(&h).await;
    let before = h.stack_operations(STACK).await;
    let managed = |canary: Option<Value>| {
        let mut app = app(2, canary);
        let mut template: Value = serde_json::from_str(&app.template).unwrap();
        template["Resources"]["Live"]["UpdatePolicy"] = json!({"CodeDeployLambdaAliasUpdate":
            {"ApplicationName": "app", "DeploymentGroupName": "live"}});
        app.template = template.to_string();
        app
    };
    let canary = json!({"alias": "Live", "steps": [10], "bakeMinutes": 0.05});
    let (status, detail) = h.deploy("app", &managed(Some(canary))).await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    assert!(
        message.contains(
            "the canary is refused: alias 'Live' has UpdatePolicy CodeDeployLambdaAliasUpdate"
        ),
        "{message}"
    );
    assert_eq!(h.stack_operations(STACK).await, before, "nothing changed");
    assert_eq!(h.live().await, ("1".to_string(), vec![]));

    let (status, detail) = h.deploy("app", &managed(None)).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    let said = summary(&detail);
    assert!(
        said.contains("Live has CodeDeploy shift its alias's traffic (UpdatePolicy CodeDeployLambdaAliasUpdate)")
            && said.contains("cpsf waited for the stack update"),
        "{said}"
    );
    worker.stop().await;
}

/// A create is a plain deploy, but a canary that could never run on its
/// template (an alias it does not have) is refused before the stack is
/// made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_naming_no_alias_of_the_template_is_refused_before_the_create() {
    if !needs(Emulator::Ministack, WHY) {
        return;
    }
    let (h, worker) = deploy_setup().await;
    let canary = json!({"alias": "Missing", "steps": [10], "bakeMinutes": 0.05});
    let (status, detail) = h.deploy("app", &app(1, Some(canary))).await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    assert!(
        message.contains(
            "the canary is refused: canary.alias 'Missing' is no resource of the template: its \
             aliases are Live"
        ),
        "{message}"
    );
    assert!(!h.alias_exists().await, "no stack was made");
    worker.stop().await;
}
