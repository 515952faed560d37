//! A parameter from another stack's output (issue 29, item 1): the sample
//! app is the "layer" stack; a second stack takes its `Greeting` output
//! through `{"fromStack", "output"}`, read by CreateStack and UpdateStack
//! in the worker's account and region. A missing output or stack fails
//! the deploy before anything is created. Both emulators: DescribeStacks
//! with Outputs and the "does not exist" ValidationError are answered as
//! AWS does (API reference, DescribeStacks).

use crate::deploy_harness::*;
use crate::harness::*;

const API_TEMPLATE: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  LayerGreeting:
    Type: String
Resources:
  Setting:
    Type: AWS::SSM::Parameter
    Properties:
      Name: /cpsf-demo/api/greeting
      Type: String
      Value: !Ref LayerGreeting
Outputs:
  Echo:
    Value: !Ref LayerGreeting
"#;

/// The API stack's deploy input, its LayerGreeting from `stack`'s `output`.
fn api(stack_name: &str, stack: &str, output: &str) -> App {
    App {
        deploy: serde_json::json!({
            "stackName": stack_name,
            "templatePath": "template.yaml",
            "parameters": {"LayerGreeting": {"fromStack": stack, "output": output}}
        }),
        template: API_TEMPLATE.to_string(),
    }
}

impl Harness {
    /// `stack`'s parameter `key` as CloudFormation holds it.
    async fn stack_parameter(&self, stack: &str, key: &str) -> Option<String> {
        let described = self
            .clients
            .cloudformation()
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .ok()?;
        described.stacks()[0]
            .parameters()
            .iter()
            .find(|p| p.parameter_key() == Some(key))
            .and_then(|p| p.parameter_value().map(str::to_string))
    }

    async fn stack_exists(&self, stack: &str) -> bool {
        self.clients
            .cloudformation()
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .is_ok_and(|d| !d.stacks().is_empty())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parameter_takes_another_stacks_output_on_create_and_update() {
    let (h, worker) = deploy_setup().await;
    let mut layer = App::sample();
    let (status, detail) = h.deploy("app", &layer).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));

    let app = api("cpsf-demo-api", "cpsf-demo-app", "Greeting");
    let (status, created) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&created));
    assert_eq!(
        h.stack_parameter("cpsf-demo-api", "LayerGreeting")
            .await
            .as_deref(),
        Some("hello from cpsf")
    );
    let said = summary(&created);
    assert!(
        said.contains("created; from stack outputs: LayerGreeting ← cpsf-demo-app.Greeting ("),
        "{said}"
    );

    // The layer's output moves on; the next deploy of the API reads it anew.
    layer.deploy["parameters"]["Greeting"] = "hello again".into();
    assert_eq!(h.deploy("app", &layer).await.0, "Succeeded");
    let (status, updated) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&updated));
    assert_eq!(
        h.stack_parameter("cpsf-demo-api", "LayerGreeting")
            .await
            .as_deref(),
        Some("hello again")
    );
    assert!(
        summary(&updated).contains("LayerGreeting ← cpsf-demo-app.Greeting ("),
        "{}",
        summary(&updated)
    );
    worker.stop().await;
}

/// A branch environment's stack reads the same environment's other stack:
/// `{environment}` in `fromStack` is the environment's name, as in
/// `stackName` and parameter values (README, "An environment per branch").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_reads_the_output_of_its_own_environments_stack() {
    let (h, worker) = deploy_setup().await;
    for branch in ["feature/a", "feature/b"] {
        let mut layer = App::sample();
        layer.deploy["environment"] = branch.into();
        layer.deploy["parameters"]["Environment"] = "{environment}".into();
        layer.deploy["parameters"]["Greeting"] = format!("hello {branch}").into();
        let (status, detail) = h.deploy("app", &layer).await;
        assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    }
    let mut app = api("cpsf-demo-api", "cpsf-demo-app-{environment}", "Greeting");
    app.deploy["environment"] = "feature/b".into();
    let (status, detail) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    assert_eq!(
        h.stack_parameter("cpsf-demo-api-feature-b", "LayerGreeting")
            .await
            .as_deref(),
        Some("hello feature/b")
    );
    let said = summary(&detail);
    assert!(
        said.contains("LayerGreeting ← cpsf-demo-app-feature-b.Greeting ("),
        "{said}"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_output_or_stack_fails_the_deploy_naming_it_before_anything_is_created() {
    let (h, worker) = deploy_setup().await;
    assert_eq!(h.deploy("app", &App::sample()).await.0, "Succeeded");

    let (status, failed) = h
        .deploy("app", &api("cpsf-demo-api", "cpsf-demo-app", "LayerArn"))
        .await;
    assert_eq!(status, "Failed");
    let message = error_message(&failed);
    assert!(message.contains("Cpsf.OutputMissing"), "{message}");
    assert!(
        message.contains("parameter LayerGreeting: stack cpsf-demo-app has no output LayerArn (looked in account "),
        "{message}"
    );
    assert!(
        message.contains("it has Greeting, GreetingSetting, QueueArn, QueueUrl"),
        "{message}"
    );
    assert!(!h.stack_exists("cpsf-demo-api").await, "nothing created");

    let (status, failed) = h
        .deploy("app", &api("cpsf-demo-api", "cpsf-demo-layer", "LayerArn"))
        .await;
    assert_eq!(status, "Failed");
    let message = error_message(&failed);
    assert!(
        message.contains("stack cpsf-demo-layer does not exist, so it has no output LayerArn"),
        "{message}"
    );
    assert!(!h.stack_exists("cpsf-demo-api").await, "nothing created");

    // A malformed reference fails the input's check, the first task's.
    let mut malformed = api("cpsf-demo-api", "cpsf-demo-app", "Greeting");
    malformed.deploy["parameters"]["LayerGreeting"] =
        serde_json::json!({"fromStack": "cpsf-demo-app"});
    let (status, failed) = h.deploy("app", &malformed).await;
    assert_eq!(status, "Failed");
    let message = error_message(&failed);
    assert!(message.contains("Cpsf.InputInvalid"), "{message}");
    assert!(
        message.contains("parameter LayerGreeting: 'output' is missing"),
        "{message}"
    );
    assert!(!h.stack_exists("cpsf-demo-api").await, "nothing created");
    worker.stop().await;
}

/// In a rollout each target reads the output in its own account and
/// region, through its role: the layer's Greeting differs per target, and
/// each API stack gets its own place's. MiniStack only (as the rollout
/// tests, `targets::WHY`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_rollout_target_reads_the_output_where_it_deploys() {
    use crate::targets::{FAR, FAR_ROLE, HERE, THERE, WHY};
    if !needs(cpsf_playground::Emulator::Ministack, WHY) {
        return;
    }
    let (h, worker) = deploy_setup().await;
    let places = [
        ("here-use1", None, HERE),
        ("here-usw2", None, THERE),
        ("far-use1", Some(FAR), HERE),
        ("far-usw2", Some(FAR), THERE),
    ];
    let targets = |greet: bool| {
        let listed: Vec<serde_json::Value> = places
            .iter()
            .map(|(name, account, region)| {
                let mut target = serde_json::json!({"name": name, "region": region});
                if let Some(account) = account {
                    target["account"] = (*account).into();
                    target["roleArn"] = FAR_ROLE.into();
                }
                if greet {
                    target["parameters"] = serde_json::json!({"Greeting": format!("hello {name}")});
                }
                target
            })
            .collect();
        serde_json::Value::Array(listed)
    };
    let mut layer = App::sample();
    layer.deploy["targets"] = targets(true);
    let (status, detail) = h.deploy("app", &layer).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));

    let mut app = api("cpsf-demo-api", "cpsf-demo-app", "Greeting");
    app.deploy["targets"] = targets(false);
    let (status, detail) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    // The pipeline's summary names where each target read it.
    let said = summary(&detail);
    assert!(
        said.contains("from stack outputs: LayerGreeting ← cpsf-demo-app.Greeting at here-use1 ("),
        "{said}"
    );
    for (name, account, region) in places {
        let account = account.unwrap_or(cpsf_playground::names::ACCOUNT_ID);
        assert!(
            said.contains(&format!("{name} ({account}/{region})")),
            "{said}"
        );
    }
    for (name, account, region) in places {
        let described = h
            .cloudformation_in(account, region)
            .describe_stacks()
            .stack_name("cpsf-demo-api")
            .send()
            .await
            .unwrap();
        let greeting = described.stacks()[0]
            .parameters()
            .iter()
            .find(|p| p.parameter_key() == Some("LayerGreeting"))
            .and_then(|p| p.parameter_value())
            .map(str::to_string);
        assert_eq!(greeting, Some(format!("hello {name}")), "{name}");
    }

    // A missing output fails the target, naming its account and region.
    let mut missing = api("cpsf-demo-other", "cpsf-demo-app", "LayerArn");
    missing.deploy["targets"] = serde_json::json!([
        {"name": "far-usw2", "account": FAR, "region": THERE, "roleArn": FAR_ROLE}]);
    let (status, detail) = h.deploy("app", &missing).await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    assert!(
        message.contains(
            "stack cpsf-demo-app has no output LayerArn (looked in account 222222222222, region us-west-2"
        ),
        "{message}"
    );
    assert!(
        h.cloudformation_in(Some(FAR), THERE)
            .describe_stacks()
            .stack_name("cpsf-demo-other")
            .send()
            .await
            .is_err(),
        "nothing created"
    );
    worker.stop().await;
}

/// A stack outside the worker role's DeployedStackPrefix cannot be read:
/// the deploy fails with Cpsf.Denied naming the parameter and the stack.
/// MiniStack only: it evaluates the worker role's IAM policy on
/// CloudFormation calls (`AUTH=true`); fakecloud 0.51 does not enforce
/// IAM on CloudFormation (tests/playground/iam.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_outside_the_prefix_is_not_read() {
    if !needs(
        cpsf_playground::Emulator::Ministack,
        "only MiniStack evaluates IAM on CloudFormation calls",
    ) {
        return;
    }
    let (h, worker) = deploy_setup().await;
    // Made with the playground's root keys, outside the worker's prefix.
    h.clients
        .cloudformation()
        .create_stack()
        .stack_name("elsewhere-layer")
        .template_body(
            "Resources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties:\n      \
             Type: String\n      Value: x\nOutputs:\n  Greeting:\n    Value: hello\n",
        )
        .send()
        .await
        .unwrap();
    let (status, failed) = h
        .deploy("app", &api("cpsf-demo-api", "elsewhere-layer", "Greeting"))
        .await;
    assert_eq!(status, "Failed");
    let message = error_message(&failed);
    assert!(message.contains("Cpsf.Denied"), "{message}");
    assert!(
        message.contains("parameter LayerGreeting: reading stack elsewhere-layer's outputs"),
        "{message}"
    );
    assert!(!h.stack_exists("cpsf-demo-api").await, "nothing created");
    worker.stop().await;
}
