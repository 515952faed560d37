//! The job lifecycle: source stage, dispatch, acknowledgement, results,
//! continuations, and what the console views show afterwards.

use crate::harness::*;
use aws_sdk_codepipeline::types::{
    ActionExecutionStatus, ExecutionDetails, FailureDetails, FailureType, PipelineExecutionStatus,
};

#[tokio::test]
async fn a_job_runs_from_source_to_success_and_the_views_show_it() {
    let h = Harness::start().await;
    let execution_id = h.start_app(vec![deploy_action("Deploy", 1, "blue")]).await;

    let job = h.poll_job().await;
    let data = job.data().unwrap();
    let context = data.pipeline_context().unwrap();
    assert_eq!(context.pipeline_name(), Some("app"));
    assert_eq!(context.pipeline_execution_id(), Some(execution_id.as_str()));
    assert_eq!(context.stage().unwrap().name(), Some("Deploy"));
    assert_eq!(context.action().unwrap().name(), Some("Deploy"));
    assert_eq!(
        context.pipeline_arn(),
        Some("arn:aws:codepipeline:us-east-1:123456789012:app")
    );
    let config = data
        .action_configuration()
        .unwrap()
        .configuration()
        .unwrap();
    assert_eq!(config["Team"], "blue");
    assert_eq!(
        config["Token"], "s3cr3t",
        "workers get secret values; only views mask them"
    );
    assert!(
        !data
            .artifact_credentials()
            .unwrap()
            .session_token()
            .is_empty()
    );
    assert!(data.continuation_token().is_none());
    assert_eq!(job.account_id(), Some("123456789012"));

    // The input artifact is the source object, copied into the artifact store.
    let input = &data.input_artifacts()[0];
    assert_eq!(input.name(), Some("SourceOutput"));
    assert!(input.revision().is_some_and(|r| !r.is_empty()));
    let location = input.location().unwrap().s3_location().unwrap();
    assert_eq!(location.bucket_name(), ARTIFACT_BUCKET);
    assert!(location.object_key().starts_with("app/SourceOutput/"));
    let copied =
        h.s3.get_object()
            .bucket(location.bucket_name())
            .key(location.object_key())
            .send()
            .await
            .unwrap();
    assert_eq!(
        copied.body.collect().await.unwrap().into_bytes().as_ref(),
        SOURCE_BODY
    );

    // GetJobDetails returns the same data.
    let details =
        h.cp.get_job_details()
            .job_id(job.id().unwrap())
            .send()
            .await
            .unwrap();
    assert_eq!(details.job_details().unwrap().data(), job.data());

    h.acknowledge(&job).await;
    assert_eq!(
        h.execution_status("app", &execution_id).await,
        PipelineExecutionStatus::InProgress
    );
    h.cp.put_job_success_result()
        .job_id(job.id().unwrap())
        .execution_details(
            ExecutionDetails::builder()
                .summary("deployed")
                .external_execution_id("arn:exec:1")
                .percent_complete(100)
                .build(),
        )
        .output_variables("StackName", "app-stack")
        .send()
        .await
        .unwrap();
    h.wait_for_status("app", &execution_id, PipelineExecutionStatus::Succeeded)
        .await;

    // A second result on a finished job is refused.
    let again =
        h.cp.put_job_success_result()
            .job_id(job.id().unwrap())
            .send()
            .await;
    assert_eq!(code(again), "InvalidJobStateException");

    let state = h.cp.get_pipeline_state().name("app").send().await.unwrap();
    let deploy = &state.stage_states()[1];
    assert_eq!(
        deploy.latest_execution().unwrap().status().as_str(),
        "Succeeded"
    );
    let latest = deploy.action_states()[0].latest_execution().unwrap();
    assert_eq!(latest.status().unwrap().as_str(), "Succeeded");
    assert_eq!(latest.summary(), Some("deployed"));
    assert_eq!(latest.external_execution_id(), Some("arn:exec:1"));
    assert_eq!(
        latest.external_execution_url(),
        Some("https://console.example/states/arn:exec:1")
    );
    assert_eq!(latest.percent_complete(), Some(100));

    let actions =
        h.cp.list_action_executions()
            .pipeline_name("app")
            .send()
            .await
            .unwrap();
    let deploy_run = actions
        .action_execution_details()
        .iter()
        .find(|a| a.action_name() == Some("Deploy"))
        .unwrap();
    assert_eq!(deploy_run.status(), Some(&ActionExecutionStatus::Succeeded));
    let output = deploy_run.output().unwrap();
    assert_eq!(output.output_variables().unwrap()["StackName"], "app-stack");
    let input = deploy_run.input().unwrap();
    assert_eq!(
        input.configuration().unwrap()["Token"],
        "****",
        "secrets are masked in views"
    );

    let executions =
        h.cp.list_pipeline_executions()
            .pipeline_name("app")
            .send()
            .await
            .unwrap();
    let summary = &executions.pipeline_execution_summaries()[0];
    assert_eq!(summary.pipeline_execution_id(), Some(execution_id.as_str()));
    assert_eq!(summary.status(), Some(&PipelineExecutionStatus::Succeeded));
    assert_eq!(summary.source_revisions()[0].action_name(), "Source");
}

/// A well-formed job id that names no job (JobId is a UUID in the API
/// model: any other id is a ValidationException before the job is looked
/// up).
const NO_SUCH_JOB: &str = "00000000-0000-4000-8000-000000000000";

#[tokio::test]
async fn nonces_and_job_states_are_enforced() {
    let h = Harness::start().await;
    h.start_app(vec![deploy_action("Deploy", 1, "blue")]).await;
    let job = h.poll_job().await;
    let id = job.id().unwrap();

    let unknown =
        h.cp.acknowledge_job()
            .job_id(NO_SUCH_JOB)
            .nonce("x")
            .send()
            .await;
    assert_eq!(code(unknown), "JobNotFoundException");
    let wrong =
        h.cp.acknowledge_job()
            .job_id(id)
            .nonce("wrong")
            .send()
            .await;
    assert_eq!(code(wrong), "InvalidNonceException");
    let early = h.cp.put_job_success_result().job_id(id).send().await;
    assert_eq!(
        code(early),
        "InvalidJobStateException",
        "a result needs an acknowledged job"
    );
    let unknown =
        h.cp.put_job_failure_result()
            .job_id(NO_SUCH_JOB)
            .failure_details(
                FailureDetails::builder()
                    .r#type(FailureType::JobFailed)
                    .message("x")
                    .build()
                    .unwrap(),
            )
            .send()
            .await;
    assert_eq!(code(unknown), "JobNotFoundException");

    h.acknowledge(&job).await;
    // Acknowledging again with the same nonce is harmless.
    h.acknowledge(&job).await;
    // A dispatched job is not handed out twice.
    let second =
        h.cp.poll_for_jobs()
            .action_type_id(deploy_type_id())
            .max_batch_size(10)
            .send()
            .await
            .unwrap();
    assert!(second.jobs().is_empty());
}

#[tokio::test]
async fn a_failure_fails_the_pipeline_with_its_details() {
    let h = Harness::start().await;
    let execution_id = h.start_app(vec![deploy_action("Deploy", 1, "blue")]).await;
    let job = h.poll_job().await;
    h.acknowledge(&job).await;
    h.cp.put_job_failure_result()
        .job_id(job.id().unwrap())
        .failure_details(
            FailureDetails::builder()
                .r#type(FailureType::ConfigurationError)
                .message("StateMachineArn is missing")
                .external_execution_id("arn:exec:2")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    h.wait_for_status("app", &execution_id, PipelineExecutionStatus::Failed)
        .await;
    let state = h.cp.get_pipeline_state().name("app").send().await.unwrap();
    let latest = h.deploy_state("app").await.unwrap();
    let error = latest.error_details().unwrap();
    assert_eq!(error.code(), Some("ConfigurationError"));
    assert_eq!(error.message(), Some("StateMachineArn is missing"));
    assert_eq!(latest.external_execution_id(), Some("arn:exec:2"));
    assert_eq!(
        state.stage_states()[1]
            .latest_execution()
            .unwrap()
            .status()
            .as_str(),
        "Failed"
    );
}

#[tokio::test]
async fn a_continuation_token_queues_a_new_job_for_the_same_action() {
    let h = Harness::start().await;
    let execution_id = h.start_app(vec![deploy_action("Deploy", 1, "blue")]).await;
    let first = h.poll_job().await;
    h.acknowledge(&first).await;

    let with_variables =
        h.cp.put_job_success_result()
            .job_id(first.id().unwrap())
            .continuation_token("{\"executionArn\":\"arn:1\"}")
            .output_variables("A", "B")
            .send()
            .await;
    assert_eq!(
        code(with_variables),
        "ValidationException",
        "output variables need the last result"
    );

    h.cp.put_job_success_result()
        .job_id(first.id().unwrap())
        .continuation_token("{\"executionArn\":\"arn:1\"}")
        .execution_details(
            ExecutionDetails::builder()
                .summary("running")
                .percent_complete(40)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let second = h.poll_job().await;
    assert_ne!(second.id(), first.id());
    let data = second.data().unwrap();
    assert_eq!(
        data.continuation_token(),
        Some("{\"executionArn\":\"arn:1\"}")
    );
    let action = |job: &aws_sdk_codepipeline::types::Job| {
        action_of(job).action_execution_id().map(str::to_string)
    };
    assert_eq!(action(&second), action(&first), "same action execution");
    let closed =
        h.cp.put_job_success_result()
            .job_id(first.id().unwrap())
            .send()
            .await;
    assert_eq!(code(closed), "InvalidJobStateException");

    let latest = h.deploy_state("app").await.unwrap();
    assert_eq!(latest.status().unwrap().as_str(), "InProgress");
    assert_eq!(latest.summary(), Some("running"));
    assert_eq!(latest.percent_complete(), Some(40));

    h.acknowledge(&second).await;
    h.succeed(&second).await;
    h.wait_for_status("app", &execution_id, PipelineExecutionStatus::Succeeded)
        .await;
}

#[tokio::test]
async fn actions_run_by_run_order_and_query_params_filter_jobs() {
    let h = Harness::start().await;
    let execution_id = h
        .start_app(vec![
            deploy_action("First", 1, "blue"),
            deploy_action("Second", 2, "green"),
        ])
        .await;
    let first = h.poll_job_where(Some("blue")).await;
    assert_eq!(action_of(&first).name(), Some("First"));
    // The second action waits for the first; a green poller finds nothing.
    assert!(h.poll_once(Some("green")).await.is_none());
    h.acknowledge(&first).await;
    h.succeed(&first).await;

    assert!(
        h.poll_once(Some("blue")).await.is_none(),
        "the green job does not match a blue poll"
    );
    let second = h.poll_job_where(Some("green")).await;
    assert_eq!(action_of(&second).name(), Some("Second"));
    h.acknowledge(&second).await;
    h.succeed(&second).await;
    h.wait_for_status("app", &execution_id, PipelineExecutionStatus::Succeeded)
        .await;
}

#[tokio::test]
async fn a_missing_source_object_fails_the_source_stage() {
    let h = Harness::start().await;
    h.s3.delete_object()
        .bucket(SOURCE_BUCKET)
        .key(SOURCE_KEY)
        .send()
        .await
        .unwrap();
    let execution_id = h.start_app(vec![deploy_action("Deploy", 1, "blue")]).await;
    h.wait_for_status("app", &execution_id, PipelineExecutionStatus::Failed)
        .await;
    let state = h.cp.get_pipeline_state().name("app").send().await.unwrap();
    let source = state.stage_states()[0].action_states()[0]
        .latest_execution()
        .unwrap();
    let message = source.error_details().unwrap().message().unwrap();
    assert!(
        message.contains(&format!("s3://{SOURCE_BUCKET}/{SOURCE_KEY}")),
        "{message}"
    );
    let polled =
        h.cp.poll_for_jobs()
            .action_type_id(deploy_type_id())
            .send()
            .await
            .unwrap();
    assert!(polled.jobs().is_empty(), "no job after a failed source");
}

#[tokio::test]
async fn stopping_with_abandon_closes_the_job() {
    let h = Harness::start().await;
    let execution_id = h.start_app(vec![deploy_action("Deploy", 1, "blue")]).await;
    let job = h.poll_job().await;
    h.acknowledge(&job).await;
    h.cp.stop_pipeline_execution()
        .pipeline_name("app")
        .pipeline_execution_id(&execution_id)
        .abandon(true)
        .reason("operator stop")
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.execution_status("app", &execution_id).await,
        PipelineExecutionStatus::Stopped
    );
    let late =
        h.cp.put_job_success_result()
            .job_id(job.id().unwrap())
            .send()
            .await;
    assert_eq!(code(late), "InvalidJobStateException");
    let again =
        h.cp.stop_pipeline_execution()
            .pipeline_name("app")
            .pipeline_execution_id(&execution_id)
            .send()
            .await;
    assert_eq!(code(again), "PipelineExecutionNotStoppableException");
}

#[tokio::test]
async fn stopping_without_abandon_lets_the_running_action_finish() {
    let h = Harness::start().await;
    let execution_id = h
        .start_app(vec![
            deploy_action("First", 1, "blue"),
            deploy_action("Second", 2, "blue"),
        ])
        .await;
    let job = h.poll_job().await;
    h.acknowledge(&job).await;
    h.cp.stop_pipeline_execution()
        .pipeline_name("app")
        .pipeline_execution_id(&execution_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.execution_status("app", &execution_id).await,
        PipelineExecutionStatus::Stopping
    );
    let twice =
        h.cp.stop_pipeline_execution()
            .pipeline_name("app")
            .pipeline_execution_id(&execution_id)
            .send()
            .await;
    assert_eq!(code(twice), "DuplicatedStopRequestException");
    h.succeed(&job).await;
    assert_eq!(
        h.execution_status("app", &execution_id).await,
        PipelineExecutionStatus::Stopped
    );
    let polled =
        h.cp.poll_for_jobs()
            .action_type_id(deploy_type_id())
            .send()
            .await
            .unwrap();
    assert!(
        polled.jobs().is_empty(),
        "a stopped execution launches nothing more"
    );
}
