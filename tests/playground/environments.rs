//! Environments per branch (issue 19) end to end: one pipeline deploys
//! each branch's own stack, tears one down, and never deletes a stack that
//! is not cpsf's environment or is protected.

use crate::deploy_harness::*;
use crate::harness::*;
use aws_sdk_cloudformation::types::Stack;
use cpsf_worker::pipeline::start;
use serde_json::json;
use std::time::Duration;

/// The environments' stacks are `cpsf-env-app-<environment>`: under the
/// test worker's stack prefix (`STACK_PREFIX`).
const STACK: &str = "cpsf-env-app";

/// The sample app as environment `environment`: its own stack, and its
/// own SSM parameter name through `{environment}`.
pub fn branch_app(environment: &str) -> App {
    let mut app = App::sample();
    app.deploy["stackName"] = STACK.into();
    app.deploy["environment"] = environment.into();
    app.deploy["parameters"]["Environment"] = "{environment}".into();
    app
}

pub fn teardown_of(environment: &str) -> App {
    let mut app = branch_app(environment);
    app.deploy["operation"] = "delete".into();
    app
}

impl Harness {
    /// The stack, or None when CloudFormation says it does not exist.
    pub async fn stack(&self, name: &str) -> Option<Stack> {
        let found = self
            .clients
            .cloudformation()
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .ok()?;
        found
            .stacks()
            .first()
            .filter(|s| {
                s.stack_status()
                    .is_some_and(|s| s.as_str() != "DELETE_COMPLETE")
            })
            .cloned()
    }
}

pub fn tag<'a>(stack: &'a Stack, key: &str) -> Option<&'a str> {
    stack
        .tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

fn output<'a>(stack: &'a Stack, key: &str) -> Option<&'a str> {
    stack
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some(key))
        .and_then(|o| o.output_value())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pipeline_deploys_three_isolated_environments_and_tears_one_down_twice() {
    let (h, worker) = deploy_setup().await;
    for branch in ["feature/One", "feature-2", "FEATURE_3"] {
        let (status, detail) = h.deploy("app", &branch_app(branch)).await;
        assert_eq!(status, "Succeeded", "{branch}: {}", error_message(&detail));
    }
    let names = ["feature-one", "feature-2", "feature-3"];
    let mut settings = Vec::new();
    for name in names {
        let stack = h.stack(&format!("{STACK}-{name}")).await.expect(name);
        assert_eq!(tag(&stack, "cpsf:environment"), Some(name));
        assert_eq!(tag(&stack, "cpsf:pipeline"), Some("app"));
        assert!(tag(&stack, "cpsf:revision").is_some_and(|r| !r.is_empty()));
        let at = tag(&stack, "cpsf:deployed-at").expect("deployed-at");
        assert!(humantime::parse_rfc3339(at).is_ok(), "{at}");
        assert_eq!(
            tag(&stack, "app"),
            Some("cpsf-demo"),
            "the input's own tags stay"
        );
        settings.push(output(&stack, "GreetingSetting").unwrap().to_string());
    }
    assert_eq!(
        settings,
        names.map(|n| format!("/cpsf-demo/{n}/greeting")),
        "each environment names its own resources"
    );

    // Deploying one environment again changes that stack only.
    let before = operations_on(&h, &names).await;
    let mut changed = branch_app("feature-2");
    changed.deploy["parameters"]["Greeting"] = "hello, branch two".into();
    let (status, detail) = h.deploy("app", &changed).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    assert!(
        summary(&detail).contains("succeeded: updated"),
        "{}",
        summary(&detail)
    );
    let after = operations_on(&h, &names).await;
    assert_eq!(after, [before[0], before[1] + 1, before[2]]);
    let two = h.stack(&format!("{STACK}-feature-2")).await.unwrap();
    assert_eq!(output(&two, "Greeting"), Some("hello, branch two"));

    // Teardown through the same pipeline, then again: already gone.
    let (status, detail) = h.deploy("app", &teardown_of("feature-2")).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    assert!(
        summary(&detail).contains("environment feature-2 deleted (stack cpsf-env-app-feature-2)"),
        "{}",
        summary(&detail)
    );
    assert!(h.stack(&format!("{STACK}-feature-2")).await.is_none());
    assert!(h.stack(&format!("{STACK}-feature-one")).await.is_some());
    assert!(h.stack(&format!("{STACK}-feature-3")).await.is_some());
    let (status, detail) = h.deploy("app", &teardown_of("feature-2")).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    assert!(
        summary(&detail).contains("was already gone"),
        "{}",
        summary(&detail)
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_refuses_an_untagged_a_protected_and_an_outside_stack() {
    let (h, worker) = deploy_setup().await;
    let cfn = h.clients.cloudformation();
    // A stack of the environment's name that cpsf did not deploy.
    cfn.create_stack()
        .stack_name(format!("{STACK}-manual"))
        .template_body(APP_TEMPLATE)
        .parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key("Environment")
                .parameter_value("manual")
                .build(),
        )
        .send()
        .await
        .unwrap();
    wait_for_stack(&h, &format!("{STACK}-manual")).await;
    let (status, detail) = h.deploy("app", &teardown_of("manual")).await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    assert!(message.contains("Cpsf.NotAnEnvironment"), "{message}");
    assert!(message.contains("has no cpsf:environment tag"), "{message}");
    assert!(
        h.stack(&format!("{STACK}-manual")).await.is_some(),
        "left alone"
    );
    // Nor does a deploy take it over.
    let (status, detail) = h.deploy("app", &branch_app("manual")).await;
    assert_eq!(status, "Failed");
    assert!(error_message(&detail).contains("has no cpsf:environment tag"));

    // Termination protection is respected, never turned off.
    let (status, _) = h.deploy("app", &branch_app("kept")).await;
    assert_eq!(status, "Succeeded");
    let kept = format!("{STACK}-kept");
    cfn.update_termination_protection()
        .stack_name(&kept)
        .enable_termination_protection(true)
        .send()
        .await
        .unwrap();
    let (status, detail) = h.deploy("app", &teardown_of("kept")).await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    assert!(message.contains("Cpsf.TerminationProtected"), "{message}");
    assert!(h.stack(&kept).await.is_some());

    // A stack outside the worker's prefix is not deleted, tagged or not.
    // Where the playground checks IAM, bootstrap/cpsf.yaml's worker role
    // may not even read it (its CloudFormation grants are on the prefix),
    // so the test deploys it as root, as a worker allowed more would have;
    // that worker refuses by its own prefix check.
    let mut outside = branch_app("elsewhere");
    outside.deploy["stackName"] = "other-app".into();
    let (status, detail) = h.deploy("app", &outside).await;
    let as_role = h.env.profiles.is_some();
    if as_role {
        assert_eq!(status, "Failed");
        assert!(
            error_message(&detail).contains("Cpsf.Denied"),
            "{}",
            error_message(&detail)
        );
        cfn.create_stack()
            .stack_name("other-app-elsewhere")
            .template_body(APP_TEMPLATE)
            .parameters(
                aws_sdk_cloudformation::types::Parameter::builder()
                    .parameter_key("Environment")
                    .parameter_value("elsewhere")
                    .build(),
            )
            .tags(
                aws_sdk_cloudformation::types::Tag::builder()
                    .key(cpsf_worker::environments::tags::ENVIRONMENT)
                    .value("elsewhere")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        wait_for_stack(&h, "other-app-elsewhere").await;
    } else {
        assert_eq!(status, "Succeeded");
    }
    outside.deploy["operation"] = "delete".into();
    let (status, detail) = h.deploy("app", &outside).await;
    assert_eq!(status, "Failed");
    let refusal = if as_role {
        "Cpsf.Denied"
    } else {
        "not under this worker's stack prefix"
    };
    assert!(
        error_message(&detail).contains(refusal),
        "{}",
        error_message(&detail)
    );
    assert!(h.stack("other-app-elsewhere").await.is_some());
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_environment_input_fails_the_job_and_deploys_nothing() {
    let (h, worker) = deploy_setup().await;
    let cases = [
        (json!({"environment": "///"}), "has no letters or digits"),
        (json!({"environment": "x".repeat(64)}), "the limit is 63"),
        (
            json!({"operation": "destroy", "environment": "f"}),
            "operation \"destroy\" is not known",
        ),
        (
            json!({"operation": "delete", "environment": "f",
                   "targets": [{"name": "a", "region": "us-east-1"}]}),
            "not supported with targets",
        ),
    ];
    for (extra, expected) in cases {
        let mut app = App::sample();
        app.deploy["stackName"] = STACK.into();
        for (key, value) in extra.as_object().unwrap() {
            app.deploy[key] = value.clone();
        }
        let (status, detail) = h.deploy("app", &app).await;
        assert_eq!(status, "Failed", "{extra}");
        let message = error_message(&detail);
        assert!(message.contains(expected), "{expected}: {message}");
        assert!(message.contains("Cpsf.InputInvalid"), "{message}");
    }
    let stacks = h
        .clients
        .cloudformation()
        .describe_stacks()
        .send()
        .await
        .unwrap();
    assert!(
        stacks
            .stacks()
            .iter()
            .all(|s| !s.stack_name().unwrap_or_default().starts_with(STACK)),
        "nothing deployed"
    );
    worker.stop().await;
}

/// Stack operations begun on each environment's stack.
async fn operations_on(h: &Harness, names: &[&str]) -> Vec<usize> {
    let mut counted = Vec::new();
    for name in names {
        counted.push(h.stack_operations(&format!("{STACK}-{name}")).await);
    }
    counted
}

async fn wait_for_stack(h: &Harness, name: &str) {
    let settled = || async {
        let status = h.stack(name).await?.stack_status()?.as_str().to_string();
        (!status.ends_with("_IN_PROGRESS")).then_some(())
    };
    wait_for_long(
        &format!("{name} to settle"),
        Duration::from_secs(30),
        settled,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_variables_name_the_environment_and_the_operation() {
    let (h, worker) = deploy_setup().await;
    let machine = h.install_deploy(|_| {}).await;
    let input = cpsf_worker::pipeline::branch_input("deploy.json");
    h.create_worker_pipeline("branches-v1", &[("StateMachineArn", &machine)])
        .await;
    let declared =
        h.cp.get_pipeline()
            .name("branches-v1")
            .send()
            .await
            .unwrap()
            .pipeline
            .unwrap();
    let mut pipeline = cpsf_worker::pipeline::per_branch(declared);
    pipeline.name = "branches".into();
    let deploy = &mut pipeline.stages[1].actions[0];
    let configuration = deploy.configuration.get_or_insert_default();
    configuration.insert("Input".into(), input);
    configuration.insert("InputType".into(), "Literal".into());
    h.cp.create_pipeline()
        .pipeline(pipeline)
        .send()
        .await
        .unwrap();
    // The deploy file names no environment: the pipeline's variables do.
    let mut app = App::sample();
    app.deploy["stackName"] = STACK.into();
    app.deploy["parameters"]["Environment"] = "{environment}".into();
    let deploy = serde_json::to_string(&app.deploy).unwrap();
    h.put_source_zip(&[("deploy.json", &deploy), ("template.yaml", &app.template)])
        .await;
    for branch in ["feature/Login", "feature/Search"] {
        let id = start(&h.cp, "branches", &[("branch", branch)])
            .await
            .unwrap();
        let status = h.wait_until_done("branches", &id).await;
        assert_eq!(
            status,
            "Succeeded",
            "{branch}: {}",
            error_message(&h.deploy_detail("branches").await)
        );
    }
    let login = h
        .stack(&format!("{STACK}-feature-login"))
        .await
        .expect("feature-login");
    assert_eq!(tag(&login, "cpsf:pipeline"), Some("branches"));
    assert!(h.stack(&format!("{STACK}-feature-search")).await.is_some());
    // The default branch, then a teardown by variable.
    let id = start(&h.cp, "branches", &[]).await.unwrap();
    assert_eq!(h.wait_until_done("branches", &id).await, "Succeeded");
    assert!(h.stack(&format!("{STACK}-main")).await.is_some());
    let variables = [("branch", "feature/Login"), ("operation", "delete")];
    let id = start(&h.cp, "branches", &variables).await.unwrap();
    assert_eq!(h.wait_until_done("branches", &id).await, "Succeeded");
    assert!(
        summary(&h.deploy_detail("branches").await).contains("environment feature-login deleted")
    );
    assert!(h.stack(&format!("{STACK}-feature-login")).await.is_none());
    assert!(h.stack(&format!("{STACK}-feature-search")).await.is_some());
    worker.stop().await;
}
