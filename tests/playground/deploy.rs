//! The deploy state machine end to end: a pipeline (S3 source of app/ →
//! the cpsf Deploy action → statemachines/deploy.asl.json) on the playground.

use crate::deploy_harness::*;
use crate::harness::*;

/// States a deploy enters: create 6, update 7. The wait happens inside one
/// task, so this does not grow with how long the stack takes.
const MAX_STATES_PER_DEPLOY: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_updates_and_then_has_no_changes() {
    let h = Harness::start().await;
    h.create_worker_type().await;
    let machine = h.install_deploy(|_| {}).await;
    h.create_deploy_pipeline("app", &machine).await;
    let worker = h.start_deploy_worker(true, true);

    let mut app = App::sample();
    let (status, created) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&created));
    assert_eq!(
        output_variable(&created, "Greeting").as_deref(),
        Some("hello from cpsf")
    );
    assert!(output_variable(&created, "QueueUrl").is_some_and(|u| !u.is_empty()));
    assert!(
        summary(&created).ends_with("succeeded: created"),
        "{}",
        summary(&created)
    );
    let stack = h.describe_app_stack().await;
    assert_eq!(stack.stack_status().unwrap().as_str(), "CREATE_COMPLETE");

    app.deploy["parameters"]["Greeting"] = "hello again".into();
    let (status, updated) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&updated));
    assert_eq!(
        output_variable(&updated, "Greeting").as_deref(),
        Some("hello again")
    );
    assert!(
        summary(&updated).contains("succeeded: updated"),
        "{}",
        summary(&updated)
    );
    assert_eq!(
        h.describe_app_stack()
            .await
            .stack_status()
            .unwrap()
            .as_str(),
        "UPDATE_COMPLETE"
    );

    let (status, unchanged) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&unchanged));
    assert!(
        summary(&unchanged).ends_with("succeeded: no changes"),
        "{}",
        summary(&unchanged)
    );

    for detail in [&created, &updated, &unchanged] {
        let arn = output_variable(detail, "ExecutionArn").unwrap();
        let entered = h.states_entered(&arn).await;
        assert!(
            entered <= MAX_STATES_PER_DEPLOY,
            "{entered} states entered by {arn}"
        );
    }
    worker.stop().await;
}

impl Harness {
    pub async fn describe_app_stack(&self) -> aws_sdk_cloudformation::types::Stack {
        let cfn = aws_sdk_cloudformation::Client::new(&self.clients.sdk);
        let stacks = cfn
            .describe_stacks()
            .stack_name("cpsf-demo-app")
            .send()
            .await
            .unwrap();
        stacks.stacks()[0].clone()
    }
}
