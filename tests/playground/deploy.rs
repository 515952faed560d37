//! The deploy state machine end to end: a pipeline (S3 source of app/ →
//! the cpsf Deploy action → statemachines/deploy.asl.json) on the playground.

use crate::deploy_harness::*;
use crate::harness::*;
use cpsf_playground::Emulator;
use cpsf_worker::activity::lease::Lease;

/// States a deploy enters: create 7, update 8 (with the first, Route). The
/// wait happens inside one task, so this does not grow with how long the
/// stack takes.
const MAX_STATES_PER_DEPLOY: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_updates_and_then_has_no_changes() {
    let (h, worker) = deploy_setup().await;

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
    assert_eq!(h.app_stack_status().await, "CREATE_COMPLETE");

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
    assert_eq!(h.app_stack_status().await, "UPDATE_COMPLETE");

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
    // Each deploy checked the stack once; only the first created it.
    let text = worker.stop().await;
    let tasks = |handler: &str, outcome: &str| {
        crate::worker::metric(
            &text,
            &format!("cpsf_tasks_total{{handler=\"{handler}\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(tasks("check-stack", "succeeded"), 3.0, "{text}");
    assert_eq!(tasks("create-stack", "succeeded"), 1.0, "{text}");
    assert!(!text.contains("outcome=\"failed\""), "{text}");
}

/// A resource removed from the template under `DeletionPolicy: Retain` is
/// left in place by CloudFormation (user guide, "DeletionPolicy
/// attribute"), which the change set says with PolicyAction Retain (API
/// reference, ResourceChange): not destructive, so the gate lets it
/// through and the result names it. On fakecloud, whose change sets carry
/// no PolicyAction, a removal is refused as before (docs/emulators.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_cloudformation_retains_passes_the_gate_and_is_named() {
    let (h, worker) = deploy_setup().await;
    let mut app = App::sample();
    let plain = app.template.clone();
    app.template = plain.replace(
        "Resources:\n",
        "Resources:\n  Archive:\n    Type: AWS::SSM::Parameter\n    DeletionPolicy: Retain\n    \
         Properties:\n      Name: /cpsf-demo/archive\n      Type: String\n      Value: kept\n",
    );
    let (status, created) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&created));

    app.template = plain;
    let (status, removed) = h.deploy("app", &app).await;
    match emulator() {
        Emulator::Ministack => {
            assert_eq!(status, "Succeeded", "{}", error_message(&removed));
            assert!(
                summary(&removed)
                    .contains("retained, no longer in the stack: Archive (AWS::SSM::Parameter)"),
                "{}",
                summary(&removed)
            );
        }
        Emulator::Fakecloud => {
            assert_eq!(status, "Failed");
            assert!(
                error_message(&removed).contains("Archive (AWS::SSM::Parameter): removed"),
                "{}",
                error_message(&removed)
            );
        }
    }
    worker.stop().await;
}

impl Harness {
    /// The sample app's stack status, e.g. "CREATE_COMPLETE".
    pub async fn app_stack_status(&self) -> String {
        let stacks = self
            .clients
            .cloudformation()
            .describe_stacks()
            .stack_name("cpsf-demo-app")
            .send()
            .await
            .unwrap();
        stacks.stacks()[0]
            .stack_status()
            .unwrap()
            .as_str()
            .to_string()
    }
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
    assert_eq!(h.app_stack_status().await, "CREATE_COMPLETE", "untouched");

    app.deploy["allowReplacements"] = true.into();
    let (status, allowed) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&allowed));
    worker.stop().await;
}

/// Checks a minute apart would notice a deploy's end a minute late; the
/// worker's own task handlers nudge the job as they answer, so it is
/// noticed as soon as the last task is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_of_a_deploy_is_noticed_when_its_last_task_is_answered() {
    let h = deploy_playground().await;
    let minute = std::time::Duration::from_secs(60);
    let worker = h.start_deploy_worker_with(
        true,
        true,
        cpsf_worker::job::handle::JobSettings {
            follow_for: minute * 5,
            check_min: minute,
            check_max: minute,
            ..Default::default()
        },
    );
    let started = std::time::Instant::now();
    let (status, deployed) = h.deploy("app", &App::sample()).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&deployed));
    assert!(
        started.elapsed() < minute / 2,
        "took {:?}: the job waited for its paced check",
        started.elapsed()
    );
    worker.stop().await;
}

/// A parameter dropped from the input falls back to the template's default
/// (CloudFormation API reference, Parameter: a key not given takes its
/// default on update). The run is an update, never "no changes": only
/// CloudFormation's own verdict, an empty change set, means no changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parameter_removed_from_the_input_returns_to_its_default() {
    let (h, worker) = deploy_setup().await;
    let mut app = App::sample();
    app.deploy["parameters"]["Greeting"] = "custom greeting".into();
    let (status, created) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&created));

    app.deploy["parameters"]
        .as_object_mut()
        .unwrap()
        .remove("Greeting");
    let (status, updated) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&updated));
    assert!(
        summary(&updated).contains("succeeded: updated"),
        "{}",
        summary(&updated)
    );
    // app/template.yaml's default.
    assert_eq!(
        output_variable(&updated, "Greeting").as_deref(),
        Some("hello")
    );
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
    let text = worker.stop().await;
    assert!(
        text.contains("cpsf_tasks_total{handler=\"create-stack\",outcome=\"failed\"} 1"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_first_create_is_refused_then_recreated_when_allowed() {
    let (h, worker) = deploy_setup().await;
    let mut app = App::sample();
    app.deploy["parameters"]["VisibilityTimeout"] = 99999.into();
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
    assert!(
        summary(&recreated).ends_with("created again, after deleting the failed first create"),
        "{}",
        summary(&recreated)
    );
    assert_eq!(h.app_stack_status().await, "CREATE_COMPLETE");
    worker.stop().await;
}

/// A CREATE change set made and never executed leaves its stack in
/// REVIEW_IN_PROGRESS with no resources (CloudFormation user guide, "Create
/// a change set"). The deploy deletes it and creates the stack, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_a_change_set_left_in_review_is_deleted_and_created() {
    let (h, worker) = deploy_setup().await;
    let app = App::sample();
    let cfn = h.clients.cloudformation();
    cfn.create_change_set()
        .stack_name("cpsf-demo-app")
        .change_set_name("left-in-review")
        .change_set_type(aws_sdk_cloudformation::types::ChangeSetType::Create)
        .template_body(&app.template)
        .send()
        .await
        .expect("a CREATE change set");
    wait_for("the stack to be REVIEW_IN_PROGRESS", || async {
        (h.app_stack_status().await == "REVIEW_IN_PROGRESS").then_some(())
    })
    .await;
    // Before, CheckStack took the stack for busy, retried for minutes and
    // failed the deploy.
    let (status, created) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&created));
    assert!(
        summary(&created).contains("created, in place of an empty stack (REVIEW_IN_PROGRESS)"),
        "{}",
        summary(&created)
    );
    assert!(output_variable(&created, "QueueUrl").is_some_and(|u| !u.is_empty()));
    assert_eq!(h.app_stack_status().await, "CREATE_COMPLETE");
    worker.stop().await;
}

/// The task input the state machine would hand a handler.
fn task_input(app: &App, execution: &str) -> String {
    let mut deploy = app.deploy.clone();
    deploy["pipeline"] = serde_json::json!({"artifacts": [{"name": "SourceOutput", "bucket": ARTIFACT_BUCKET, "key": "direct/app.zip"}]});
    serde_json::json!({"deploy": deploy, "executionArn": execution}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_delivered_twice_makes_one_stack_operation() {
    use cpsf_worker::tasks::Handler;
    let h = Harness::start().await;
    let ctx = direct_context(&h, None);

    let mut app = App::sample();
    put_direct(&h, &app).await;
    let create = task_input(
        &app,
        "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:run-1",
    );
    let first = Handler::CreateStack
        .run(&ctx, &Lease::detached(), &create)
        .await
        .unwrap();
    // Both emulators answer the repeated create AlreadyExists (AWS accepts
    // the repeated token); only MiniStack's stack events carry the token
    // that tells it is ours (docs/emulators.md).
    if emulator() == Emulator::Ministack {
        let second = Handler::CreateStack
            .run(&ctx, &Lease::detached(), &create)
            .await
            .unwrap();
        assert_eq!(first["stackId"], second["stackId"]);
    } else {
        eprintln!("create delivered once on fakecloud: its stack events carry no token");
    }
    assert_eq!(
        stack_events(&h, "CREATE_IN_PROGRESS").await,
        1,
        "one create"
    );

    app.deploy["parameters"]["Greeting"] = "twice".into();
    put_direct(&h, &app).await;
    let update = task_input(
        &app,
        "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:run-2",
    );
    let first = Handler::UpdateStack
        .run(&ctx, &Lease::detached(), &update)
        .await
        .unwrap();
    let second = Handler::UpdateStack
        .run(&ctx, &Lease::detached(), &update)
        .await
        .unwrap();
    assert_eq!(first["changed"], true);
    assert_eq!(
        second["changed"], true,
        "the redelivery follows the same update: {second}"
    );
    assert_eq!(
        stack_events(&h, "UPDATE_IN_PROGRESS").await,
        1,
        "one update"
    );
}

/// CreateStack for a stack name another deploy has just taken: refused,
/// naming the other operation, never carried on as if it were ours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_another_deploy_created_is_not_taken_for_ours() {
    use cpsf_worker::tasks::Handler;
    let h = Harness::start().await;
    let ctx = direct_context(&h, None);
    let app = App::sample();
    put_direct(&h, &app).await;
    let theirs = task_input(
        &app,
        "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:theirs",
    );
    Handler::CreateStack
        .run(&ctx, &Lease::detached(), &theirs)
        .await
        .unwrap();
    let ours = task_input(
        &app,
        "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:ours",
    );
    let error = Handler::CreateStack
        .run(&ctx, &Lease::detached(), &ours)
        .await
        .unwrap_err();
    assert_eq!(error.name, "Cpsf.StackConflict");
    assert!(
        error
            .cause
            .starts_with("stack cpsf-demo-app was created by another operation ("),
        "{}",
        error.cause
    );
    assert_eq!(
        stack_events(&h, "CREATE_IN_PROGRESS").await,
        1,
        "one create"
    );
}

/// How many of the app stack's own events have `status`.
async fn stack_events(h: &Harness, status: &str) -> usize {
    let cfn = h.clients.cloudformation();
    let events = cfn
        .describe_stack_events()
        .stack_name("cpsf-demo-app")
        .send()
        .await
        .unwrap();
    events
        .stack_events()
        .iter()
        .filter(|e| {
            e.logical_resource_id() == Some("cpsf-demo-app")
                && e.resource_status().map(|s| s.as_str()) == Some(status)
        })
        .count()
}

/// Handlers called directly, as the runner would, with the worker's clients.
fn direct_context(h: &Harness, staging_bucket: Option<&str>) -> cpsf_worker::tasks::TaskContext {
    cpsf_worker::tasks::TaskContext {
        watch_min: std::time::Duration::from_millis(100),
        watch_max: std::time::Duration::from_millis(500),
        ..cpsf_worker::tasks::TaskContext::new(
            &h.clients,
            staging_bucket.map(str::to_string),
            std::time::Duration::from_secs(30),
        )
    }
}

/// Puts `app` where `task_input` points: s3://cpsf-artifacts/direct/app.zip.
async fn put_direct(h: &Harness, app: &App) {
    let deploy = app.deploy.to_string();
    let zip = crate::worker_harness::zip_of(&[
        ("deploy.json", &deploy),
        ("template.yaml", &app.template),
    ]);
    h.s3.put_object()
        .bucket(ARTIFACT_BUCKET)
        .key("direct/app.zip")
        .body(zip.into())
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_over_51200_bytes_goes_through_the_staging_bucket() {
    use cpsf_worker::tasks::Handler;
    let h = Harness::start().await;
    let mut app = App::sample();
    // Comments count toward the size CloudFormation sees.
    app.template
        .push_str(&"# padding to exceed CloudFormation's inline limit\n".repeat(1200));
    assert!(app.template.len() > cpsf_worker::cloudformation::template::MAX_BODY_BYTES);
    put_direct(&h, &app).await;
    let input = task_input(
        &app,
        "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:big-1",
    );

    let refused = Handler::CreateStack
        .run(&direct_context(&h, None), &Lease::detached(), &input)
        .await
        .unwrap_err();
    assert_eq!(refused.name, "Cpsf.TemplateTooLarge");
    assert!(
        refused.cause.contains("--staging-bucket"),
        "{}",
        refused.cause
    );

    h.s3.create_bucket()
        .bucket("cpsf-staging")
        .send()
        .await
        .unwrap();
    let created = Handler::CreateStack
        .run(
            &direct_context(&h, Some("cpsf-staging")),
            &Lease::detached(),
            &input,
        )
        .await
        .unwrap();
    assert!(
        created["stackId"]
            .as_str()
            .is_some_and(|id| id.contains("cpsf-demo-app"))
    );
    let staged =
        h.s3.list_objects_v2()
            .bucket("cpsf-staging")
            .send()
            .await
            .unwrap();
    assert_eq!(staged.contents().len(), 1, "the template was staged");
    assert_eq!(h.app_stack_status().await, "CREATE_COMPLETE");
}

/// A stack whose outputs add up to more than Step Functions carries from a
/// task (256 KiB: here 70 outputs of a 4,000-character parameter, each
/// within CloudFormation's quotas): SendTaskSuccess would be refused
/// (ValidationException, the output counted in UTF-8 bytes), the task left
/// to time out and retried with the same result. The task fails instead,
/// naming the size, and so does the deploy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_over_256_kib_fail_the_deploy_naming_their_size() {
    let (h, worker) = deploy_setup().await;
    let mut app = App::sample();
    let mut template = String::from(
        "Parameters:\n  Big:\n    Type: String\nResources:\n  Queue:\n    Type: AWS::SQS::Queue\nOutputs:\n",
    );
    for i in 0..70 {
        template.push_str(&format!("  Out{i}:\n    Value: !Ref Big\n"));
    }
    app.template = template;
    app.deploy["parameters"] = serde_json::json!({"Big": "b".repeat(4000)});
    let (status, failed) = h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    let message = error_message(&failed);
    assert!(message.contains("Cpsf.ResultTooLarge"), "{message}");
    assert!(message.contains("at most 262144"), "{message}");
    // No result over the limit was sent: nothing for the playground to
    // refuse (the harness fails the test on any refusal at its end).
    worker.stop().await;
}
