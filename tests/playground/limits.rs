//! AWS's size and range limits on job results, each checked at the limit
//! (accepted) and one past it (ValidationException).

use crate::harness::*;
use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails, FailureType};

fn text(len: usize) -> String {
    "x".repeat(len)
}

/// The playground's relay checks the API model before the local service
/// sees a request, as AWS does, and records each refusal: the test takes
/// the `n` it made on purpose (any other would fail it at its end).
fn refused_before_the_service(h: &Harness, n: usize) {
    let refusals = h.take_refusals();
    assert_eq!(refusals.len(), n, "{refusals:?}");
    assert!(
        refusals.iter().all(|r| r.code == "ValidationException"),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn continuation_token_is_at_most_2048_chars() {
    let h = Harness::start().await;
    let job = h.acknowledged_job().await;
    let id = job.id().unwrap();
    let over =
        h.cp.put_job_success_result()
            .job_id(id)
            .continuation_token(text(2049))
            .send()
            .await;
    assert_eq!(code(over), "ValidationException");
    h.cp.put_job_success_result()
        .job_id(id)
        .continuation_token(text(2048))
        .send()
        .await
        .unwrap();
    refused_before_the_service(&h, 1);
}

#[tokio::test]
async fn execution_details_limits() {
    let h = Harness::start().await;
    let job = h.acknowledged_job().await;
    let id = job.id().unwrap();
    let details = |summary: usize, external: usize, percent: i32| {
        ExecutionDetails::builder()
            .summary(text(summary))
            .external_execution_id(text(external))
            .percent_complete(percent)
            .build()
    };
    for (bad, member) in [
        (details(2049, 1, 0), "summary"),
        (details(1, 1501, 0), "externalExecutionId"),
        (details(1, 1, 101), "percentComplete"),
        (details(1, 1, -1), "percentComplete"),
    ] {
        let result =
            h.cp.put_job_success_result()
                .job_id(id)
                .execution_details(bad)
                .send()
                .await;
        let text = message(result);
        assert!(text.contains(member), "message names {member}: {text}");
    }
    h.cp.put_job_success_result()
        .job_id(id)
        .execution_details(details(2048, 1500, 100))
        .send()
        .await
        .unwrap();
    refused_before_the_service(&h, 4);
}

#[tokio::test]
async fn failure_message_is_at_most_5000_chars_and_the_type_is_checked() {
    let h = Harness::start().await;
    let job = h.acknowledged_job().await;
    let id = job.id().unwrap();
    let failure = |message: usize, external: usize| {
        FailureDetails::builder()
            .r#type(FailureType::JobFailed)
            .message(text(message))
            .external_execution_id(text(external))
            .build()
            .unwrap()
    };
    let over =
        h.cp.put_job_failure_result()
            .job_id(id)
            .failure_details(failure(5001, 1))
            .send()
            .await;
    assert_eq!(code(over), "ValidationException");
    let over =
        h.cp.put_job_failure_result()
            .job_id(id)
            .failure_details(failure(1, 1501))
            .send()
            .await;
    assert_eq!(code(over), "ValidationException");
    let unknown_type = FailureDetails::builder()
        .r#type(FailureType::from("Oops"))
        .message("x")
        .build()
        .unwrap();
    let bad =
        h.cp.put_job_failure_result()
            .job_id(id)
            .failure_details(unknown_type)
            .send()
            .await;
    assert_eq!(code(bad), "ValidationException");
    h.cp.put_job_failure_result()
        .job_id(id)
        .failure_details(failure(5000, 1500))
        .send()
        .await
        .unwrap();
    refused_before_the_service(&h, 3);
}

#[tokio::test]
async fn poll_arguments_are_checked() {
    let h = Harness::start().await;
    h.create_deploy_type().await;
    let zero =
        h.cp.poll_for_jobs()
            .action_type_id(deploy_type_id())
            .max_batch_size(0)
            .send()
            .await;
    assert_eq!(code(zero), "ValidationException");
    let two =
        h.cp.poll_for_jobs()
            .action_type_id(deploy_type_id())
            .query_param("Team", "a")
            .query_param("StateMachineArn", "b")
            .send()
            .await;
    assert_eq!(code(two), "ValidationException");
    let not_queryable =
        h.cp.poll_for_jobs()
            .action_type_id(deploy_type_id())
            .query_param("Input", "a")
            .send()
            .await;
    assert_eq!(code(not_queryable), "ValidationException");
    let mut missing = deploy_type_id();
    missing.version = "9".into();
    let unknown = h.cp.poll_for_jobs().action_type_id(missing).send().await;
    assert_eq!(code(unknown), "ActionTypeNotFoundException");
    refused_before_the_service(&h, 2);
}

/// PutJobSuccessResult's outputVariables keys match `[A-Za-z0-9@\-_]+`
/// (OutputVariablesKey in the API model); AWS answers any other key with a
/// ValidationException naming the member and the pattern.
#[tokio::test]
async fn output_variable_keys_match_awss_pattern() {
    let h = Harness::start().await;
    let job = h.acknowledged_job().await;
    let id = job.id().unwrap();
    for bad in ["bad key", "dotted.name", "ümlaut", ""] {
        let result =
            h.cp.put_job_success_result()
                .job_id(id)
                .output_variables(bad, "x")
                .send()
                .await;
        let error = result.as_ref().map(drop).map_err(|e| {
            use aws_sdk_codepipeline::error::ProvideErrorMetadata;
            (
                e.code().unwrap_or_default().to_string(),
                e.message().unwrap_or_default().to_string(),
            )
        });
        let (code, text) = error.expect_err(&format!("key {bad:?} is refused"));
        assert_eq!(code, "ValidationException", "{bad:?}");
        assert!(
            text.contains("'outputVariables'") && text.contains(r"[A-Za-z0-9@\-_]+"),
            "{text}"
        );
    }
    h.cp.put_job_success_result()
        .job_id(id)
        .output_variables("Stack-Url_2@prod", "x")
        .send()
        .await
        .unwrap();
    refused_before_the_service(&h, 4);
}

/// Summary, message, external id and continuation token are at least one
/// character long (ExecutionSummary, Message, ExecutionId and
/// ContinuationToken: min 1 in the API model).
#[tokio::test]
async fn empty_members_are_refused() {
    let h = Harness::start().await;
    let job = h.acknowledged_job().await;
    let id = job.id().unwrap();
    let summary = ExecutionDetails::builder().summary("").build();
    let external = ExecutionDetails::builder()
        .external_execution_id("")
        .build();
    for (details, member) in [(summary, "summary"), (external, "externalExecutionId")] {
        let result =
            h.cp.put_job_success_result()
                .job_id(id)
                .execution_details(details)
                .send()
                .await;
        let text = message(result);
        assert!(text.contains(member), "message names {member}: {text}");
    }
    let token =
        h.cp.put_job_success_result()
            .job_id(id)
            .continuation_token("")
            .send()
            .await;
    assert_eq!(code(token), "ValidationException");
    let empty_message = FailureDetails::builder()
        .r#type(FailureType::JobFailed)
        .message("")
        .build()
        .unwrap();
    let failure =
        h.cp.put_job_failure_result()
            .job_id(id)
            .failure_details(empty_message)
            .send()
            .await;
    assert_eq!(code(failure), "ValidationException");
    refused_before_the_service(&h, 4);
}

/// currentRevision: revision ≤ 1,500, changeIdentifier ≤ 100,
/// revisionSummary ≤ 2,048 characters (CurrentRevision in the API model).
#[tokio::test]
async fn current_revision_limits() {
    use aws_sdk_codepipeline::types::CurrentRevision;
    let h = Harness::start().await;
    let job = h.acknowledged_job().await;
    let id = job.id().unwrap();
    let revision = |revision: usize, change: usize, summary: usize| {
        CurrentRevision::builder()
            .revision(text(revision))
            .change_identifier(text(change))
            .revision_summary(text(summary))
            .build()
            .unwrap()
    };
    for (bad, member) in [
        (revision(1501, 1, 1), "revision"),
        (revision(1, 101, 1), "changeIdentifier"),
        (revision(1, 1, 2049), "revisionSummary"),
    ] {
        let result =
            h.cp.put_job_success_result()
                .job_id(id)
                .current_revision(bad)
                .send()
                .await;
        let text = message(result);
        assert!(text.contains(member), "message names {member}: {text}");
    }
    h.cp.put_job_success_result()
        .job_id(id)
        .current_revision(revision(1500, 100, 2048))
        .send()
        .await
        .unwrap();
    refused_before_the_service(&h, 3);
}
