//! A job worker's answer: PutJobSuccessResult and PutJobFailureResult,
//! each checked against the API model's limits before it is taken, and
//! what it does to the action run (its details and output variables, a
//! continuation queued, or the action finished).

use super::executions::ActionOutcome;
use super::protocol::{ApiError, ApiResult, check_keys, check_len_1, decode};
use super::store::{JobRecord, JobStatus, Store};
use cpsf_worker::pipeline::wire::{ErrorDetails, ExecutionDetails, FAILURE_TYPES, FailureDetails};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::SystemTime;

const MAX_CONTINUATION_TOKEN: usize = 2048;
const MAX_SUMMARY: usize = 2048;
const MAX_EXTERNAL_EXECUTION_ID: usize = 1500;
const MAX_FAILURE_MESSAGE: usize = 5000;
/// AWS caps the output variables of one action at 122,880 characters.
const MAX_OUTPUT_VARIABLES_CHARS: usize = 122_880;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SuccessInput {
    job_id: String,
    continuation_token: Option<String>,
    execution_details: Option<ExecutionDetails>,
    output_variables: Option<BTreeMap<String, String>>,
    current_revision: Option<CurrentRevision>,
}

/// Accepted and checked, not recorded: only source actions' revisions are
/// shown, and the playground's come from S3.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CurrentRevision {
    revision: String,
    change_identifier: String,
    revision_summary: Option<String>,
}

/// CurrentRevision's members: Revision 1..1500, RevisionChangeIdentifier
/// 1..100, RevisionSummary 1..2048 (API model).
fn validate_revision(revision: &CurrentRevision) -> Result<(), ApiError> {
    check_len_1("currentRevision.revision", &revision.revision, 1500)?;
    check_len_1(
        "currentRevision.changeIdentifier",
        &revision.change_identifier,
        100,
    )?;
    if let Some(summary) = &revision.revision_summary {
        check_len_1("currentRevision.revisionSummary", summary, 2048)?;
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FailureInput {
    job_id: String,
    failure_details: FailureDetails,
}

impl Store {
    pub fn put_job_success_result(&mut self, input: Value, now: SystemTime) -> ApiResult {
        let input: SuccessInput = decode(input)?;
        let details = input.execution_details.unwrap_or_default();
        validate_details(&details)?;
        if let Some(revision) = &input.current_revision {
            validate_revision(revision)?;
        }
        if let Some(token) = &input.continuation_token {
            check_len_1("continuationToken", token, MAX_CONTINUATION_TOKEN)?;
        }
        let variables = input.output_variables.unwrap_or_default();
        check_keys(
            "outputVariables",
            variables.keys(),
            super::variables::NAME_PATTERN,
        )?;
        if input.continuation_token.is_some() && !variables.is_empty() {
            return Err(ApiError::validation(
                "outputVariables can only be included when there is no continuation token",
            ));
        }
        let size: usize = variables.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_OUTPUT_VARIABLES_CHARS {
            return Err(ApiError::new(
                "OutputVariablesSizeExceededException",
                format!(
                    "Output variables total {size} characters; the limit is {MAX_OUTPUT_VARIABLES_CHARS}"
                ),
            ));
        }
        let job = self.open_job(&input.job_id)?;
        job.status = JobStatus::Succeeded;
        job.answered = Some(now);
        let (execution_id, action_execution_id) =
            (job.execution_id.clone(), job.action_execution_id.clone());
        if let Some(run) = self.action_run_mut(&execution_id, &action_execution_id) {
            record_details(run, &details, now);
            run.output_variables = variables;
        }
        match input.continuation_token {
            Some(token) => self.enqueue_job(&execution_id, &action_execution_id, Some(token), now),
            None => self.finish_action(
                &execution_id,
                &action_execution_id,
                ActionOutcome::Succeeded {
                    revision: None,
                    variables: BTreeMap::new(),
                },
                now,
            ),
        }
        Ok(json!({}))
    }

    pub fn put_job_failure_result(&mut self, input: Value, now: SystemTime) -> ApiResult {
        let input: FailureInput = decode(input)?;
        let failure = input.failure_details;
        if !FAILURE_TYPES.contains(&failure.kind.as_str()) {
            return Err(ApiError::validation(format!(
                "failureDetails.type '{}' is not one of {}",
                failure.kind,
                FAILURE_TYPES.join(", ")
            )));
        }
        check_len_1(
            "failureDetails.message",
            &failure.message,
            MAX_FAILURE_MESSAGE,
        )?;
        if let Some(id) = &failure.external_execution_id {
            check_len_1(
                "failureDetails.externalExecutionId",
                id,
                MAX_EXTERNAL_EXECUTION_ID,
            )?;
        }
        let job = self.open_job(&input.job_id)?;
        job.status = JobStatus::Failed;
        job.answered = Some(now);
        let (execution_id, action_execution_id) =
            (job.execution_id.clone(), job.action_execution_id.clone());
        if let Some(run) = self.action_run_mut(&execution_id, &action_execution_id)
            && failure.external_execution_id.is_some()
        {
            run.external_execution_id = failure.external_execution_id.clone();
        }
        let error = ErrorDetails {
            code: failure.kind,
            message: failure.message,
        };
        self.finish_action(
            &execution_id,
            &action_execution_id,
            ActionOutcome::Failed(error),
            now,
        );
        Ok(json!({}))
    }

    /// A job that may take a result: it must be acknowledged and not ended.
    fn open_job(&mut self, job_id: &str) -> Result<&mut JobRecord, ApiError> {
        let job = self.job_mut(job_id)?;
        if job.status != JobStatus::InProgress {
            return Err(ApiError::new(
                "InvalidJobStateException",
                format!(
                    "Job {job_id} is {}; a result is accepted only for a job that is InProgress",
                    job.status.as_str()
                ),
            ));
        }
        Ok(job)
    }

    fn action_run_mut(
        &mut self,
        execution_id: &str,
        action_execution_id: &str,
    ) -> Option<&mut super::store::ActionRun> {
        self.executions
            .get_mut(execution_id)?
            .actions
            .iter_mut()
            .find(|a| a.action_execution_id == action_execution_id)
    }
}

fn validate_details(details: &ExecutionDetails) -> Result<(), ApiError> {
    if let Some(summary) = &details.summary {
        check_len_1("executionDetails.summary", summary, MAX_SUMMARY)?;
    }
    if let Some(id) = &details.external_execution_id {
        check_len_1(
            "executionDetails.externalExecutionId",
            id,
            MAX_EXTERNAL_EXECUTION_ID,
        )?;
    }
    if let Some(p) = details.percent_complete
        && !(0..=100).contains(&p)
    {
        return Err(ApiError::validation(format!(
            "executionDetails.percentComplete must be within 0..100 (got {p})"
        )));
    }
    Ok(())
}

fn record_details(run: &mut super::store::ActionRun, details: &ExecutionDetails, now: SystemTime) {
    run.updated = now;
    if details.summary.is_some() {
        run.summary = details.summary.clone();
    }
    if details.external_execution_id.is_some() {
        run.external_execution_id = details.external_execution_id.clone();
    }
    if details.percent_complete.is_some() {
        run.percent_complete = details.percent_complete;
    }
}
