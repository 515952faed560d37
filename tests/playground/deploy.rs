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

/// A pipeline `app` deploying with the real state machine, and a worker.
async fn deploy_setup() -> (Harness, crate::worker_harness::RunningWorker) {
    let h = Harness::start().await;
    h.create_worker_type().await;
    let machine = h.install_deploy(|_| {}).await;
    h.create_deploy_pipeline("app", &machine).await;
    let worker = h.start_deploy_worker(true, true);
    (h, worker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacing_change_is_refused_naming_the_resource() {
    let (h, worker) = deploy_setup().await;
    let mut app = App::sample();
    assert_eq!(h.deploy("app", &app).await.0, "Succeeded");
    // Renaming a logical id removes the old resource and adds a new one.
    app.template = app.template.replace("WorkQueue", "JobQueue");
    let (status, refused) = h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    let message = error_message(&refused);
    assert!(message.contains("Cpsf.UnsafeChange"), "{message}");
    assert!(
        message.contains("WorkQueue (AWS::SQS::Queue): removed"),
        "{message}"
    );
    assert!(message.contains("\"allowReplacements\": true"), "{message}");
    assert_eq!(
        h.describe_app_stack()
            .await
            .stack_status()
            .unwrap()
            .as_str(),
        "CREATE_COMPLETE",
        "untouched"
    );

    app.deploy["allowReplacements"] = true.into();
    let (status, allowed) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&allowed));
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_template_fails_naming_the_error() {
    let (h, worker) = deploy_setup().await;
    let mut app = App::sample();
    app.template = "Resources: [this is not a template".into();
    let (status, failed) = h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    let message = error_message(&failed);
    assert!(message.contains("in state 'CreateFailed'"), "{message}");
    assert!(
        message.contains("task 'CreateStack': Cpsf.TemplateInvalid: CreateStack:"),
        "{message}"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_first_create_is_refused_then_recreated_when_allowed() {
    let (h, worker) = deploy_setup().await;
    let mut app = App::sample();
    app.deploy["parameters"]["VisibilityTimeout"] = "soon".into();
    let (status, failed) = h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    let message = error_message(&failed);
    assert!(message.contains("Cpsf.StackFailed"), "{message}");
    // AWS names it in a resource event, fakecloud in the stack's reason:
    // either way the message names the resource and the property.
    assert!(
        message.contains("WorkQueue") && message.contains("VisibilityTimeout"),
        "names the resource: {message}"
    );

    app.deploy["parameters"]["VisibilityTimeout"] = 30.into();
    let (status, refused) = h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    let message = error_message(&refused);
    assert!(message.contains("Cpsf.StackNotRecoverable"), "{message}");
    assert!(
        message.contains("\"recreateFailedStack\": true"),
        "{message}"
    );

    app.deploy["recreateFailedStack"] = true.into();
    let (status, recreated) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&recreated));
    assert_eq!(
        h.describe_app_stack()
            .await
            .stack_status()
            .unwrap()
            .as_str(),
        "CREATE_COMPLETE"
    );
    worker.stop().await;
}
