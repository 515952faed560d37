//! `cpsf worker` against the playground, with small state machines that
//! need no task handlers (Pass, Wait, Fail).

use crate::harness::*;
use crate::worker_harness::*;
use cpsf_worker::artifact::read::{Limits, read_file};
use serde_json::{Value, json};
use std::time::Duration;

fn outputs_machine() -> Value {
    json!({"StartAt": "Done", "States": {"Done": {
        "Type": "Pass",
        "Parameters": {"outputs": {"Url": "https://app.example", "Port": 8080}, "stack.$": "$.stackName"},
        "End": true}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_succeeds_with_output_variables_and_an_output_artifact() {
    let h = Harness::start().await;
    h.create_worker_type().await;
    let machine = h.create_state_machine("outputs", outputs_machine()).await;
    h.put_source_zip(&[("app/deploy.json", r#"{"stackName": "app-stack"}"#)])
        .await;
    h.create_worker_pipeline(
        "app",
        &[
            ("StateMachineArn", &machine),
            ("InputType", "FilePath"),
            ("Input", "app/deploy.json"),
        ],
    )
    .await;
    let worker = h.start_worker(Duration::from_secs(5));
    let id = h.start_execution("app").await;
    assert_eq!(h.wait_until_done("app", &id).await, "Succeeded");

    let detail = h.deploy_detail("app").await;
    let output = detail.output().unwrap();
    let variables = output.output_variables().unwrap();
    assert_eq!(variables["Url"], "https://app.example");
    assert_eq!(variables["Port"], "8080");
    assert_eq!(variables["StateMachineArn"], machine);
    let execution_arn = &variables["ExecutionArn"];
    let result = output.execution_result().unwrap();
    assert_eq!(result.external_execution_id(), Some(execution_arn.as_str()));

    // One execution, named after the action execution, whose input carries
    // the pipeline's context and no secrets.
    let action_execution_id = detail.action_execution_id().unwrap();
    assert!(
        execution_arn.ends_with(&format!(":app-{action_execution_id}")),
        "{execution_arn}"
    );
    let described = h
        .sfn
        .describe_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(input["stackName"], "app-stack");
    assert_eq!(input["pipeline"]["pipelineExecutionId"], id);
    assert_eq!(input["pipeline"]["artifacts"][0]["name"], "SourceOutput");
    assert!(!described.input().unwrap().contains(SECRET_VALUE));
    assert_eq!(h.executions(&machine).await.len(), 1);

    // The output artifact holds the execution's output.
    let artifact = &output.output_artifacts()[0];
    let location = artifact.s3_location().unwrap();
    let object =
        h.s3.get_object()
            .bucket(location.bucket().unwrap())
            .key(location.key().unwrap())
            .send()
            .await
            .unwrap();
    // Stored with SSE-KMS, as the console's artifact bucket demands of
    // every upload (the harness puts its policy on the bucket).
    assert_eq!(
        object.server_side_encryption(),
        Some(&aws_sdk_s3::types::ServerSideEncryption::AwsKms)
    );
    let zip = object.body.collect().await.unwrap().into_bytes();
    let json: Value = serde_json::from_slice(
        &read_file(
            std::io::Cursor::new(&zip),
            "output.json",
            &Limits::default(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(json["stack"], "app-stack");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fail_state_fails_the_pipeline_naming_the_state_error_and_cause() {
    let h = Harness::start().await;
    h.create_worker_type().await;
    let machine = h
        .create_state_machine(
            "failing",
            json!({"StartAt": "Check", "States": {
                "Check": {"Type": "Pass", "Next": "StackBroken"},
                "StackBroken": {"Type": "Fail", "Error": "Cpsf.StackFailed", "Cause": "Queue: VisibilityTimeout must be a number"}}}),
        )
        .await;
    h.create_worker_pipeline("app", &[("StateMachineArn", &machine)])
        .await;
    let worker = h.start_worker(Duration::from_secs(5));
    let id = h.start_execution("app").await;
    assert_eq!(h.wait_until_done("app", &id).await, "Failed");
    let detail = h.deploy_detail("app").await;
    let result = detail.output().unwrap().execution_result().unwrap();
    let error = result.error_details().unwrap();
    assert_eq!(error.code(), Some("JobFailed"));
    let message = error.message().unwrap();
    assert!(
        message.contains("FAILED in state 'StackBroken': Cpsf.StackFailed: Queue: VisibilityTimeout must be a number"),
        "{message}"
    );
    assert!(
        result
            .external_execution_id()
            .unwrap()
            .contains(":execution:failing:")
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_execution_is_followed_through_continuations() {
    let h = Harness::start().await;
    h.create_worker_type().await;
    let machine = h.create_slow_machine("slow", 4).await;
    h.create_worker_pipeline("app", &[("StateMachineArn", &machine)])
        .await;
    let worker = h.start_worker(Duration::from_millis(250));
    let id = h.start_execution("app").await;
    // While it runs, the console shows which state it is in.
    wait_for("a progress summary", || async {
        h.deploy_state("app")
            .await
            .and_then(|l| l.summary().map(str::to_string))
            .filter(|s| s.contains("in state 'Deploying'"))
    })
    .await;
    assert_eq!(h.wait_until_done("app", &id).await, "Succeeded");
    let text = worker.stop().await;
    let continued = metric(&text, "cpsf_jobs_total{outcome=\"continued\"}");
    // 4 s of waiting, windows of 0.25 s, 2 s and 8 s: two hand-backs, not a hot loop.
    assert!(
        (2.0..=12.0).contains(&continued),
        "continued {continued} times\n{text}"
    );
    assert_eq!(metric(&text, "cpsf_jobs_total{outcome=\"succeeded\"}"), 1.0);
}

/// The value of one sample in Prometheus text.
pub fn metric(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample).map(|v| v.trim().parse().unwrap()))
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_name_taken_by_another_job_is_reported_not_followed() {
    let h = Harness::start().await;
    h.create_worker_type().await;
    let machine = h.create_slow_machine("shared", 0).await;
    h.create_worker_pipeline("app", &[("StateMachineArn", &machine)])
        .await;
    let id = h.start_execution("app").await;
    // No worker yet: find the queued Deploy action's execution id, and take
    // the name cpsf will use for it, with another input.
    let action_execution_id = wait_for("the Deploy action to start", || async {
        let latest = h.deploy_state("app").await?;
        latest.action_execution_id().map(str::to_string)
    })
    .await;
    let taken = format!("app-{action_execution_id}");
    h.sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name(&taken)
        .input(r#"{"someone": "else"}"#)
        .send()
        .await
        .unwrap();

    let worker = h.start_worker(Duration::from_secs(5));
    assert_eq!(h.wait_until_done("app", &id).await, "Failed");
    let error = h.deploy_error("app").await;
    assert_eq!(error.code(), Some("JobFailed"));
    let message = error.message().unwrap();
    assert!(
        message.contains(&format!(
            "an execution named {taken} already exists with a different input"
        )),
        "{message}"
    );
    worker.stop().await;
}
