//! One Deploy action, many accounts and regions (issue 17): a rollout of
//! the sample app to two accounts × two regions in three waves, each
//! target a child execution of the deploy state machine.
//!
//! MiniStack only: it takes a 12-digit access key id as the account and
//! vends that account's credentials from AssumeRole (design.md), and runs
//! `startExecution.sync:2` as AWS documents it. fakecloud has one account,
//! and its `states:startExecution` integration hands the state's
//! Parameters to StartExecution as they are, so it refuses AWS's
//! `StateMachineArn` ("stateMachineArn is required"; Step Functions
//! developer guide, "Start a new AWS Step Functions state machine from a
//! running execution", takes `StateMachineArn`, `Input`, `Name`): even a
//! rollout within its one account fails there (docs/emulators.md).

use crate::deploy_harness::*;
use crate::harness::*;
use aws_sdk_cloudformation::config::{Credentials, Region};
use cpsf_playground::Emulator;
use serde_json::json;

pub const WHY: &str = "the rollout needs several accounts (12-digit access keys, AssumeRole) and \
                   startExecution.sync:2 with AWS's parameters, which only MiniStack emulates";
pub const FAR: &str = "222222222222";
pub const FAR_ROLE: &str = "arn:aws:iam::222222222222:role/cpsf-target";
pub const HERE: &str = "us-east-1";
pub const THERE: &str = "us-west-2";

/// The sample app to two accounts × two regions, in three waves: the
/// worker's own region first, then one target of each account, then the
/// last.
pub fn rollout() -> App {
    let mut app = App::sample();
    app.deploy["targets"] = json!([
        {"name": "here-use1", "region": HERE},
        {"name": "here-usw2", "region": THERE},
        {"name": "far-use1", "account": FAR, "region": HERE, "roleArn": FAR_ROLE,
         "parameters": {"Environment": "far"}},
        {"name": "far-usw2", "account": FAR, "region": THERE, "roleArn": FAR_ROLE,
         "parameters": {"Environment": "far"}}
    ]);
    app.deploy["waves"] = json!([["here-use1"], ["here-usw2", "far-use1"], ["far-usw2"]]);
    app
}

impl Harness {
    /// CloudFormation in `account` (None: the worker's) and `region`.
    pub fn cloudformation_in(
        &self,
        account: Option<&str>,
        region: &str,
    ) -> aws_sdk_cloudformation::Client {
        let mut config = aws_sdk_cloudformation::config::Builder::from(&self.clients.sdk)
            .region(Region::new(region.to_string()));
        if let Some(account) = account {
            config =
                config.credentials_provider(Credentials::new(account, "test", None, None, "far"));
        }
        aws_sdk_cloudformation::Client::from_conf(config.build())
    }

    /// The app stack's status and its Environment parameter there, or None.
    pub async fn app_stack_in(
        &self,
        account: Option<&str>,
        region: &str,
    ) -> Option<(String, String)> {
        let stacks = self
            .cloudformation_in(account, region)
            .describe_stacks()
            .stack_name("cpsf-demo-app")
            .send()
            .await
            .ok()?;
        let stack = stacks.stacks().first()?;
        let environment = stack
            .parameters()
            .iter()
            .find(|p| p.parameter_key() == Some("Environment"))
            .and_then(|p| p.parameter_value())
            .unwrap_or_default()
            .to_string();
        Some((stack.stack_status()?.as_str().to_string(), environment))
    }

    /// The app stack's status there, or None.
    pub async fn app_status_in(&self, account: Option<&str>, region: &str) -> Option<String> {
        self.app_stack_in(account, region)
            .await
            .map(|(status, _)| status)
    }

    /// Deploys `app` as `deploy` does, keeping every summary the pipeline
    /// showed while the action ran (read every 250 ms).
    pub async fn deploy_watching(
        &self,
        pipeline: &str,
        app: &App,
    ) -> (
        String,
        aws_sdk_codepipeline::types::ActionExecutionDetail,
        Vec<String>,
    ) {
        let id = self.start_deploy(pipeline, app).await;
        let mut shown: Vec<String> = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while self.execution_status(pipeline, &id).await.as_str() == "InProgress" {
            let now = self.deploy_detail_if_any(pipeline).await;
            let now = now.as_ref().map(summary).unwrap_or_default();
            if !now.is_empty() && shown.last() != Some(&now) {
                shown.push(now);
            }
            assert!(std::time::Instant::now() < deadline, "{shown:?}");
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        let status = self.wait_until_done(pipeline, &id).await;
        (status, self.deploy_detail(pipeline).await, shown)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_deploys_every_target_in_its_wave_and_names_each() {
    if !needs(Emulator::Ministack, WHY) {
        return;
    }
    let (h, _worker) = deploy_setup().await;
    let (status, detail, shown) = h.deploy_watching("app", &rollout()).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    // While it ran, the pipeline showed each deploying target as the
    // worker found it (its stack's status, or "waiting"/"preparing"
    // before its stack changed), never a bare "deploying".
    let waves: Vec<&String> = shown.iter().filter(|s| s.contains(": wave ")).collect();
    assert!(!waves.is_empty(), "no progress shown: {shown:?}");
    assert!(waves.iter().all(|s| !s.contains("deploying")), "{shown:?}");
    for (account, region, environment) in [
        (None, HERE, "demo"),
        (None, THERE, "demo"),
        (Some(FAR), HERE, "far"),
        (Some(FAR), THERE, "far"),
    ] {
        assert_eq!(
            h.app_stack_in(account, region).await,
            Some(("CREATE_COMPLETE".to_string(), environment.to_string())),
            "{account:?} {region}"
        );
    }
    for name in ["here-use1", "here-usw2", "far-use1", "far-usw2"] {
        assert_eq!(
            output_variable(&detail, &format!("{name}_Status")).as_deref(),
            Some("Succeeded"),
            "{name}"
        );
        let stack = output_variable(&detail, &format!("{name}_StackId")).unwrap_or_default();
        assert!(stack.contains(":stack/cpsf-demo-app/"), "{name}: {stack}");
    }
    let far = output_variable(&detail, "far-usw2_StackId").unwrap();
    assert!(far.contains(&format!(":{THERE}:{FAR}:")), "{far}");
    // The first target's outputs, as a single deploy's.
    assert_eq!(
        output_variable(&detail, "Greeting").as_deref(),
        Some("hello from cpsf")
    );
    assert!(
        summary(&detail).contains("4 of 4 targets deployed in 3 waves"),
        "{}",
        summary(&detail)
    );

    // `cpsf history` shows the waves and targets, each with its stack and
    // its own execution; the graph draws the Map as one node with counts.
    let dot = std::env::temp_dir().join(format!("cpsf-rollout-{}.dot", std::process::id()));
    let output = tokio::task::spawn_blocking({
        let env = h.env.clone();
        let args = [
            "app".to_string(),
            "--graph".into(),
            dot.display().to_string(),
        ];
        move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            crate::history::history_with(&env, &args)
        }
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("rollout    3 waves, 4 targets"), "{text}");
    for (wave, name) in [
        ("wave 1/3", "here-use1"),
        ("wave 2/3", "here-usw2"),
        ("", "far-use1"),
        ("wave 3/3", "far-usw2"),
    ] {
        let line = text
            .lines()
            .find(|l| l.contains(&format!(" {name} ")) && !l.contains("execution"))
            .unwrap_or_else(|| panic!("{name} in {text}"));
        assert!(line.contains(wave) && line.contains("Succeeded"), "{line}");
        assert!(line.contains(":stack/cpsf-demo-app/"), "{line}");
    }
    assert_eq!(
        text.matches("  execution arn:aws:states:").count(),
        4,
        "{text}"
    );
    let graph = std::fs::read_to_string(&dot).unwrap();
    let _ = std::fs::remove_file(&dot);
    assert!(
        graph.contains("DeployWave (Map, ran 3 times, 4 iterations)"),
        "{graph}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_refused_in_wave_two_stops_the_rollout_before_wave_three() {
    if !needs(Emulator::Ministack, WHY) {
        return;
    }
    let (h, _worker) = deploy_setup().await;
    let mut app = rollout();
    let (status, detail) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));

    // A new Environment renames far-use1's SSM parameter: a replacement,
    // which the input does not allow; the others only get a new greeting.
    app.deploy["parameters"]["Greeting"] = "hello again".into();
    app.deploy["targets"][2]["parameters"]["Environment"] = "elsewhere".into();
    let (status, detail) = h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    assert!(
        message.contains("wave 2/3 stopped the rollout"),
        "{message}"
    );
    assert!(
        message.contains("far-use1 failed in UpdateStack"),
        "{message}"
    );
    assert!(message.contains("wave 3 was not started"), "{message}");
    assert!(!message.contains("here-usw2 failed"), "{message}");
    assert_eq!(
        h.app_stack_in(Some(FAR), HERE)
            .await
            .map(|s| s.1)
            .as_deref(),
        Some("far"),
        "the refused change was not made"
    );
    assert_eq!(
        h.app_stack_in(None, THERE).await.map(|s| s.0).as_deref(),
        Some("UPDATE_COMPLETE"),
        "wave 2's other target deployed"
    );
    assert_eq!(
        h.app_stack_in(Some(FAR), THERE)
            .await
            .map(|s| s.0)
            .as_deref(),
        Some("CREATE_COMPLETE"),
        "wave 3 never started"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rollout_input_is_refused_before_anything_deploys() {
    if !needs(Emulator::Ministack, WHY) {
        return;
    }
    let (h, _worker) = deploy_setup().await;
    let mut app = rollout();
    app.deploy["targets"][3]["account"] = "2222".into();
    app.deploy["targets"][1]["name"] = "here-use1".into();
    app.deploy["waves"] = json!([["here-use1"], ["nowhere"]]);
    let (status, detail) = h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    for said in ["PlanRollout", "'nowhere'", "2222", "here-use1"] {
        assert!(message.contains(said), "{said}: {message}");
    }
    for (account, region) in [(None, HERE), (None, THERE), (Some(FAR), HERE)] {
        assert_eq!(
            h.app_stack_in(account, region).await,
            None,
            "{account:?} {region}"
        );
    }
}
