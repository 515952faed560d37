//! AWS's size and range limits on job results, each checked at the limit
//! (accepted) and one past it (ValidationException).

use crate::harness::*;
use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails, FailureType};

fn text(len: usize) -> String {
    "x".repeat(len)
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
}
