//! CodePipeline at the edge: acknowledging a job and sending its report.

use super::data::Job;
use super::decide::{FailureKind, Report};
use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::error::DisplayErrorContext;
use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails, FailureType};

#[derive(Clone)]
pub struct Reporter {
    client: Client,
}

impl Reporter {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Claims the job. Fails if another worker claimed it first (its nonce
    /// changed): then this worker must leave the job alone.
    pub async fn acknowledge(&self, job: &Job) -> anyhow::Result<()> {
        self.client
            .acknowledge_job()
            .job_id(&job.id)
            .nonce(job.nonce.as_deref().unwrap_or_default())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("AcknowledgeJob: {}", DisplayErrorContext(e)))?;
        Ok(())
    }

    pub async fn send(&self, job_id: &str, report: &Report) -> anyhow::Result<()> {
        let success = |e| format!("PutJobSuccessResult: {}", DisplayErrorContext(e));
        let sent = match report {
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
                    .map_err(|e| format!("PutJobFailureResult: {}", DisplayErrorContext(e)))
            }
        };
        sent.map_err(anyhow::Error::msg)
    }
}

fn details(summary: &str, execution_arn: &str, percent: Option<i32>) -> ExecutionDetails {
    ExecutionDetails::builder()
        .summary(summary)
        .external_execution_id(execution_arn)
        .set_percent_complete(percent)
        .build()
}
