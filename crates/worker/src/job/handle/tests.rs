//! A new job whose StartExecution fails, with Step Functions' answers
//! replayed as AWS sends them (AWS JSON 1.0 error bodies, HTTP status):
//! what CodePipeline is told, and whether the job is acknowledged at all.

use super::*;
use crate::job::data::Configuration;
use aws_sdk_codepipeline::operation::acknowledge_job::AcknowledgeJobOutput;
use aws_sdk_codepipeline::operation::put_job_failure_result::PutJobFailureResultOutput;
use aws_sdk_codepipeline::operation::put_job_success_result::PutJobSuccessResultOutput;
use aws_sdk_codepipeline::types::FailureType;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const SM: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:deploy";

fn job() -> Job {
    Job {
        id: "job-1".into(),
        nonce: Some("n-1".into()),
        configuration: Configuration(HashMap::from([(
            "StateMachineArn".to_string(),
            SM.to_string(),
        )])),
        ..Job::empty()
    }
}

/// StartExecution answers every call with `status` and `body`.
fn start_answers(status: u16, body: &str) -> Rule {
    mock!(aws_sdk_sfn::Client::start_execution)
        .sequence()
        .http_status(status, Some(body.to_string()))
        .repeatedly()
        .build()
}

/// What the worker told CodePipeline: acknowledgements, failure types
/// reported, successes reported.
struct Told {
    acks: Rule,
    failures: Arc<Mutex<Vec<FailureType>>>,
    fail_rule: Rule,
    success: Rule,
}

async fn run_with(start: Rule) -> (Outcome, Told) {
    let acks = mock!(aws_sdk_codepipeline::Client::acknowledge_job)
        .then_output(|| AcknowledgeJobOutput::builder().build());
    let failures = Arc::new(Mutex::new(Vec::new()));
    let seen = failures.clone();
    let fail_rule = mock!(aws_sdk_codepipeline::Client::put_job_failure_result)
        .match_requests(move |r| {
            let kind = r.failure_details().map(|d| d.r#type().clone());
            seen.lock().unwrap().extend(kind);
            true
        })
        .then_output(|| PutJobFailureResultOutput::builder().build());
    let success = mock!(aws_sdk_codepipeline::Client::put_job_success_result)
        .then_output(|| PutJobSuccessResultOutput::builder().build());
    let cp = mock_client!(
        aws_sdk_codepipeline,
        RuleMode::MatchAny,
        [&acks, &fail_rule, &success]
    );
    let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&start]);
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let runner = JobRunner::new(
        Reporter::new(cp),
        Sfn::new(sfn),
        sdk,
        JobSettings::default(),
        Metrics::default(),
        Nudges::default(),
        CancellationToken::new(),
    );
    let outcome = runner.run(job()).await;
    let told = Told {
        acks,
        failures,
        fail_rule,
        success,
    };
    (outcome, told)
}

impl Told {
    fn calls(&self) -> (usize, usize, usize) {
        (
            self.acks.num_calls(),
            self.fail_rule.num_calls(),
            self.success.num_calls(),
        )
    }
}

#[tokio::test]
async fn access_denied_is_reported_as_a_permission_error() {
    // What Step Functions answers a role without states:StartExecution.
    let start = start_answers(
        400,
        r#"{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User: arn:aws:sts::123456789012:assumed-role/worker/i-0 is not authorized to perform: states:StartExecution on resource: arn:aws:states:us-east-1:123456789012:stateMachine:deploy because no identity-based policy allows the states:StartExecution action"}"#,
    );
    let (outcome, told) = run_with(start).await;
    assert_eq!(outcome, Outcome::Failed);
    assert_eq!(told.calls(), (1, 1, 0));
    assert_eq!(
        *told.failures.lock().unwrap(),
        vec![FailureType::PermissionError]
    );
}

#[tokio::test]
async fn a_throttled_start_leaves_the_job_unacknowledged() {
    let start = start_answers(
        400,
        r#"{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}"#,
    );
    let (outcome, told) = run_with(start).await;
    assert_eq!(told.calls(), (0, 0, 0), "nothing said to CodePipeline");
    assert_eq!(outcome, Outcome::Deferred);
}

#[tokio::test]
async fn a_server_error_on_start_leaves_the_job_unacknowledged() {
    let start = start_answers(
        500,
        r#"{"__type":"com.amazon.coral.service#InternalFailure","message":"An internal error occurred"}"#,
    );
    let (outcome, told) = run_with(start).await;
    assert_eq!(told.calls(), (0, 0, 0), "nothing said to CodePipeline");
    assert_eq!(outcome, Outcome::Deferred);
}
