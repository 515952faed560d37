//! CodePipeline at the edge: acknowledging a job and sending its report.

use super::data::Job;
use super::decide::{FailureKind, Report};
use super::limits;
use crate::aws::CallContext;
use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails, FailureType};
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Reporter {
    client: Client,
    /// `cpsf replay --dry-run`: reports are kept here, CodePipeline is not
    /// called.
    dry_run: Option<Arc<Mutex<Vec<Report>>>>,
}

impl Reporter {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            dry_run: None,
        }
    }

    /// A reporter that calls nothing and keeps what it would have sent.
    pub fn dry_run(client: Client) -> (Self, Arc<Mutex<Vec<Report>>>) {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let reporter = Self {
            client,
            dry_run: Some(kept.clone()),
        };
        (reporter, kept)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Claims the job. Fails if another worker claimed it first (its nonce
    /// changed): then this worker must leave the job alone.
    pub async fn acknowledge(&self, job: &Job) -> anyhow::Result<()> {
        if self.dry_run.is_some() {
            return Ok(());
        }
        self.client
            .acknowledge_job()
            .job_id(&job.id)
            .nonce(job.nonce.as_deref().unwrap_or_default())
            .send()
            .await
            .call_context("AcknowledgeJob")?;
        Ok(())
    }

    /// Sends `report`, cut to CodePipeline's limits first (`limits.rs`):
    /// every path's report goes through here, so none can forget them.
    pub async fn send(&self, job_id: &str, report: &Report) -> Result<(), ReportError> {
        let report = &limits::fit(report);
        if let Some(kept) = &self.dry_run {
            kept.lock().expect("report list lock").push(report.clone());
            return Ok(());
        }
        let success = |e| ReportError::new("PutJobSuccessResult", e);
        match report {
            Report::Continue {
                token,
                summary,
                execution_arn,
            } => self
                .client
                .put_job_success_result()
                .job_id(job_id)
                .continuation_token(token)
                .execution_details(details(summary, execution_arn, None))
                .send()
                .await
                .map(drop)
                .map_err(success),
            Report::Succeed {
                summary,
                execution_arn,
                variables,
                ..
            } => self
                .client
                .put_job_success_result()
                .job_id(job_id)
                .execution_details(details(summary, execution_arn, Some(100)))
                .set_output_variables(Some(variables.clone().into_iter().collect()))
                .send()
                .await
                .map(drop)
                .map_err(success),
            Report::Fail {
                kind,
                message,
                execution_arn,
            } => {
                let kind = match kind {
                    FailureKind::ConfigurationError => FailureType::ConfigurationError,
                    FailureKind::JobFailed => FailureType::JobFailed,
                    FailureKind::PermissionError => FailureType::PermissionError,
                };
                let failure = FailureDetails::builder()
                    .r#type(kind)
                    .message(message)
                    .set_external_execution_id(execution_arn.clone())
                    .build()
                    .expect("type and message are set");
                self.client
                    .put_job_failure_result()
                    .job_id(job_id)
                    .failure_details(failure)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| ReportError::new("PutJobFailureResult", e))
            }
        }
    }
}

/// A report CodePipeline refused or never received.
#[derive(Debug, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct ReportError {
    pub operation: &'static str,
    /// The service's error code, e.g. `InvalidJobStateException` for a job
    /// that was already answered.
    pub code: Option<String>,
    message: String,
}

impl ReportError {
    fn new<E: ProvideErrorMetadata + std::error::Error + 'static>(
        operation: &'static str,
        error: E,
    ) -> Self {
        Self {
            operation,
            code: error.code().map(str::to_string),
            message: DisplayErrorContext(error).to_string(),
        }
    }
}

/// Empty or oversized members are left out (`limits.rs`).
fn details(summary: &str, execution_arn: &str, percent: Option<i32>) -> ExecutionDetails {
    ExecutionDetails::builder()
        .set_summary(limits::summary(summary))
        .set_external_execution_id(limits::external_id(execution_arn))
        .set_percent_complete(percent)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_codepipeline::operation::put_job_failure_result::PutJobFailureResultOutput;
    use aws_sdk_codepipeline::operation::put_job_success_result::PutJobSuccessResultOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use std::collections::BTreeMap;

    /// Whatever a path built, no call leaves with a member over AWS's
    /// limits (PutJobFailureResult FailureDetails.message ≤ 5,000,
    /// ExecutionDetails.summary ≤ 2,048, externalExecutionId ≤ 1,500):
    /// an oversized one is a ValidationException and the job is never
    /// answered.
    #[tokio::test]
    async fn every_member_is_cut_to_its_limit_at_the_edge() {
        let within = |text: Option<&str>, max: usize| text.is_none_or(|t| t.chars().count() <= max);
        let success = mock!(Client::put_job_success_result)
            .match_requests(move |r| {
                r.execution_details().is_some_and(|d| {
                    within(d.summary(), 2048) && within(d.external_execution_id(), 1500)
                })
            })
            .then_output(|| PutJobSuccessResultOutput::builder().build());
        let failure = mock!(Client::put_job_failure_result)
            .match_requests(move |r| {
                r.failure_details().is_some_and(|d| {
                    within(Some(d.message()), 5000) && within(d.external_execution_id(), 1500)
                })
            })
            .then_output(|| PutJobFailureResultOutput::builder().build());
        let client = mock_client!(
            aws_sdk_codepipeline,
            RuleMode::MatchAny,
            [&success, &failure]
        );
        let reporter = Reporter::new(client);
        let long = "é😀".repeat(4000);
        let reports = [
            Report::Continue {
                token: "tok".into(),
                summary: long.clone(),
                execution_arn: "arn:e".into(),
            },
            Report::Succeed {
                summary: long.clone(),
                execution_arn: "a".repeat(1600),
                variables: BTreeMap::new(),
                output: None,
            },
            Report::Fail {
                kind: FailureKind::JobFailed,
                message: long.clone(),
                execution_arn: Some("a".repeat(1600)),
            },
        ];
        for report in &reports {
            reporter.send("j", report).await.unwrap();
        }
        assert_eq!((success.num_calls(), failure.num_calls()), (2, 1));
    }

    #[tokio::test]
    async fn each_report_becomes_the_right_call() {
        let continuation = mock!(Client::put_job_success_result)
            .match_requests(|r| {
                r.job_id() == Some("j1")
                    && r.continuation_token() == Some("tok")
                    && r.output_variables().is_none()
                    && r.execution_details()
                        .and_then(|d| d.external_execution_id())
                        == Some("arn:e")
            })
            .then_output(|| PutJobSuccessResultOutput::builder().build());
        let success = mock!(Client::put_job_success_result)
            .match_requests(|r| {
                r.job_id() == Some("j2")
                    && r.continuation_token().is_none()
                    && r.output_variables()
                        .is_some_and(|v| v.get("Url").map(String::as_str) == Some("https://x"))
                    && r.execution_details().and_then(|d| d.percent_complete()) == Some(100)
            })
            .then_output(|| PutJobSuccessResultOutput::builder().build());
        let failure = mock!(Client::put_job_failure_result)
            .match_requests(|r| {
                let details = r.failure_details().unwrap();
                r.job_id() == Some("j3")
                    && details.r#type() == &FailureType::ConfigurationError
                    && details.message() == "StateMachineArn is required"
                    && details.external_execution_id().is_none()
            })
            .then_output(|| PutJobFailureResultOutput::builder().build());
        let client = mock_client!(
            aws_sdk_codepipeline,
            RuleMode::MatchAny,
            [&continuation, &success, &failure]
        );
        let reporter = Reporter::new(client);
        let reports = [
            (
                "j1",
                Report::Continue {
                    token: "tok".into(),
                    summary: "s".into(),
                    execution_arn: "arn:e".into(),
                },
            ),
            (
                "j2",
                Report::Succeed {
                    summary: "ok".into(),
                    execution_arn: "arn:e".into(),
                    variables: BTreeMap::from([("Url".to_string(), "https://x".to_string())]),
                    output: None,
                },
            ),
            (
                "j3",
                Report::fail(
                    FailureKind::ConfigurationError,
                    "StateMachineArn is required",
                ),
            ),
        ];
        for (job, report) in &reports {
            reporter.send(job, report).await.unwrap();
        }
        assert_eq!(
            (
                continuation.num_calls(),
                success.num_calls(),
                failure.num_calls()
            ),
            (1, 1, 1)
        );
    }
}
