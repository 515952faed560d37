//! The job-worker API's queue side: PollForJobs, AcknowledgeJob,
//! GetJobDetails, and the two timeouts (a worker's answer is
//! `job_results.rs`).
//!
//! Lifecycle: Queued → Dispatched (PollForJobs, fresh nonce) → InProgress
//! (AcknowledgeJob with that nonce) → Succeeded / Failed (PutJob*Result).
//! A dispatched job not acknowledged in time is queued again under a new
//! nonce; a job with no result in time is TimedOut and fails its action.

use super::executions::ActionOutcome;
use super::protocol::{ApiError, ApiResult, decode, epoch};
use super::store::{JobRecord, JobStatus, Store, new_id};
use cpsf_worker::pipeline::wire::{ActionTypeId, ErrorDetails, JobData};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::SystemTime;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PollInput {
    action_type_id: ActionTypeId,
    max_batch_size: Option<i64>,
    #[serde(default)]
    query_param: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AckInput {
    job_id: String,
    nonce: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobIdInput {
    job_id: String,
}

impl Store {
    /// Queues a job for an action run; a continuation carries its token.
    pub fn enqueue_job(
        &mut self,
        execution_id: &str,
        action_execution_id: &str,
        continuation_token: Option<String>,
        now: SystemTime,
    ) {
        let exec = &self.executions[execution_id];
        let Some(run) = exec.action_run(action_execution_id) else {
            return;
        };
        let data = JobData {
            action_type_id: run.action_type_id.clone(),
            // The job carries the configuration with its variables resolved.
            action_configuration: cpsf_worker::pipeline::wire::ActionConfiguration {
                configuration: run
                    .resolved_configuration
                    .clone()
                    .unwrap_or_else(|| run.configuration.clone()),
            },
            pipeline_context: cpsf_worker::pipeline::wire::PipelineContext {
                pipeline_name: exec.pipeline_name.clone(),
                stage: cpsf_worker::pipeline::wire::StageContext {
                    name: run.stage_name.clone(),
                },
                action: cpsf_worker::pipeline::wire::ActionContext {
                    name: run.action_name.clone(),
                    action_execution_id: run.action_execution_id.clone(),
                },
                pipeline_arn: self.pipeline_arn(&exec.pipeline_name),
                pipeline_execution_id: exec.id.clone(),
            },
            input_artifacts: run.input_artifacts.clone(),
            output_artifacts: run.output_artifacts.clone(),
            artifact_credentials: self.config.artifact_credentials.clone(),
            continuation_token,
            encryption_key: exec
                .declaration
                .artifact_store
                .as_ref()
                .and_then(|s| s.encryption_key.clone()),
        };
        let job_id = new_id();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.jobs.insert(
            job_id.clone(),
            JobRecord {
                id: job_id.clone(),
                seq,
                status: JobStatus::Queued,
                nonce: None,
                execution_id: execution_id.to_string(),
                action_execution_id: action_execution_id.to_string(),
                data,
                created: now,
                dispatched: None,
                acknowledged: None,
                answered: None,
            },
        );
        self.queue.insert(seq, job_id.clone());
        let exec = self
            .executions
            .get_mut(execution_id)
            .expect("checked above");
        if let Some(run) = exec
            .actions
            .iter_mut()
            .find(|a| a.action_execution_id == action_execution_id)
        {
            run.job_id = Some(job_id);
        }
    }

    /// Ends a job without a result (abandoned, timed out).
    pub fn close_job(&mut self, job_id: &str, status: JobStatus) {
        if let Some(job) = self.jobs.get_mut(job_id) {
            self.queue.remove(&job.seq);
            if job.status.is_open() {
                job.status = status;
            }
        }
    }

    /// Applies the dispatch and job timeouts. Called before every operation,
    /// so what a client sees is always up to date.
    pub fn sweep(&mut self, now: SystemTime) {
        let expired = |since: Option<SystemTime>, limit| {
            since.is_some_and(|t| now.duration_since(t).unwrap_or_default() >= limit)
        };
        let mut timed_out = Vec::new();
        for job in self.jobs.values_mut().filter(|j| j.status.is_open()) {
            if expired(Some(job.created), self.config.job_timeout) {
                timed_out.push(job.id.clone());
            } else if job.status == JobStatus::Dispatched
                && expired(job.dispatched, self.config.dispatch_timeout)
            {
                job.status = JobStatus::Queued;
                job.nonce = None;
                job.dispatched = None;
                self.queue.insert(job.seq, job.id.clone());
            }
        }
        for job_id in timed_out {
            self.close_job(&job_id, JobStatus::TimedOut);
            let job = &self.jobs[&job_id];
            let (execution_id, action_execution_id) =
                (job.execution_id.clone(), job.action_execution_id.clone());
            let error = ErrorDetails {
                code: "TimedOut".into(),
                message: format!(
                    "The job worker did not report a result within {} s",
                    self.config.job_timeout.as_secs()
                ),
            };
            self.finish_action(
                &execution_id,
                &action_execution_id,
                ActionOutcome::Failed(error),
                now,
            );
        }
    }

    pub fn poll_for_jobs(&mut self, input: Value, now: SystemTime) -> ApiResult {
        let input: PollInput = decode(input)?;
        let action_type = self.action_type(&input.action_type_id).ok_or_else(|| {
            ApiError::new(
                "ActionTypeNotFoundException",
                format!("Action type {} does not exist", input.action_type_id),
            )
        })?;
        let max = input.max_batch_size.unwrap_or(1);
        if max < 1 {
            return Err(ApiError::validation("maxBatchSize must be at least 1"));
        }
        if input.query_param.len() > 1 {
            return Err(ApiError::validation(
                "queryParam can hold at most one property",
            ));
        }
        if let Some(key) = input.query_param.keys().next()
            && !action_type
                .action_configuration_properties
                .iter()
                .any(|p| p.queryable && p.name == *key)
        {
            return Err(ApiError::validation(format!(
                "'{key}' is not the queryable property of action type {}",
                input.action_type_id
            )));
        }
        let matches = |job: &JobRecord| {
            job.data.action_type_id == input.action_type_id
                && input
                    .query_param
                    .iter()
                    .all(|(k, v)| job.data.action_configuration.configuration.get(k) == Some(v))
        };
        let picked: Vec<(u64, String)> = self
            .queue
            .iter()
            .filter(|(_, id)| matches(&self.jobs[*id]))
            .take(max as usize)
            .map(|(seq, id)| (*seq, id.clone()))
            .collect();
        let mut jobs = Vec::with_capacity(picked.len());
        for (seq, id) in picked {
            self.queue.remove(&seq);
            let job = self.jobs.get_mut(&id).expect("queued jobs exist");
            job.status = JobStatus::Dispatched;
            job.dispatched = Some(now);
            let nonce = new_id();
            job.nonce = Some(nonce.clone());
            jobs.push(json!({
                "id": job.id,
                "data": job.data,
                "nonce": nonce,
                "accountId": self.config.account_id,
            }));
        }
        Ok(json!({ "jobs": jobs }))
    }

    pub fn acknowledge_job(&mut self, input: Value, now: SystemTime) -> ApiResult {
        let input: AckInput = decode(input)?;
        let job = self.job_mut(&input.job_id)?;
        if job.nonce.as_deref() != Some(input.nonce.as_str()) {
            return Err(ApiError::new(
                "InvalidNonceException",
                format!("The nonce does not match job {}", input.job_id),
            ));
        }
        if job.status == JobStatus::Dispatched {
            job.status = JobStatus::InProgress;
            job.acknowledged = Some(now);
        }
        Ok(json!({ "status": job.status.as_str() }))
    }

    pub fn get_job_details(&mut self, input: Value) -> ApiResult {
        let input: JobIdInput = decode(input)?;
        let account_id = self.config.account_id.clone();
        let job = self.job_mut(&input.job_id)?;
        Ok(json!({ "jobDetails": { "id": job.id, "data": job.data, "accountId": account_id } }))
    }

    pub(super) fn job_mut(&mut self, job_id: &str) -> Result<&mut JobRecord, ApiError> {
        self.jobs.get_mut(job_id).ok_or_else(|| {
            ApiError::new(
                "JobNotFoundException",
                format!("Job {job_id} does not exist"),
            )
        })
    }
}

/// One job's life in epoch seconds, for benchmarks: `GET /_cpsf/jobs`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTiming {
    pub job_id: String,
    pub action_execution_id: String,
    pub continuation: bool,
    pub status: &'static str,
    pub queued: f64,
    pub dispatched: Option<f64>,
    pub acknowledged: Option<f64>,
    pub answered: Option<f64>,
}

impl Store {
    pub fn job_timings(&self) -> Vec<JobTiming> {
        let mut timings: Vec<JobTiming> = self
            .jobs
            .values()
            .map(|job| JobTiming {
                job_id: job.id.clone(),
                action_execution_id: job.action_execution_id.clone(),
                continuation: job.data.continuation_token.is_some(),
                status: job.status.as_str(),
                queued: epoch(job.created),
                dispatched: job.dispatched.map(epoch),
                acknowledged: job.acknowledged.map(epoch),
                answered: job.answered.map(epoch),
            })
            .collect();
        timings.sort_by(|a, b| a.queued.total_cmp(&b.queued));
        timings
    }
}
