//! Jobs a worker acknowledged and then died before answering.
//!
//! CodePipeline never hands an acknowledged job out again: if its worker
//! dies before the report, the pipeline waits for the job's 24-hour timeout.
//! cpsf closes that window with a record it already has. A new job is
//! acknowledged only after its execution started (see `handle.rs`), and the
//! execution's input names the job (`pipeline.jobId`), so the executions of
//! a state machine list every first job cpsf ever acknowledged.
//!
//! A worker that starts — typically the replacement of one that died —
//! reads the recent executions of the state machines it is told about
//! (`--recover-from`), and for each one old enough that its own worker must
//! have answered by now (the *lease*), hands the job back to CodePipeline
//! as a continuation that names the execution. CodePipeline accepts a
//! result only for a job that is still in progress and unanswered, so
//! recovery can never answer a job twice: an answered job is refused
//! (`InvalidJobStateException`) and left alone. The continuation job is then
//! followed by whichever worker polls it, like any other.
//!
//! It sweeps twice: at start, and once more when the lease of anything
//! started just before it has run out. A worker that keeps running needs no
//! more sweeps, since nothing it holds can be orphaned while it lives.
//!
//! Continuation jobs are not in that record; the journal (`journal.rs`)
//! holds the ones acknowledged and not yet answered, and recovery hands
//! back its entries older than the lease the same way.

use super::decide::{self, Continuation, Report};
use super::input::PIPELINE_KEY;
use super::journal::Journal;
use super::report::Reporter;
use crate::aws::CallContext;
use crate::tasks::epoch_now;
use aws_sdk_sfn::Client;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Executions older than this belong to jobs CodePipeline has timed out.
pub const HORIZON: Duration = Duration::from_secs(24 * 3600);

/// How long after an execution's start its first job must have been
/// answered by a live worker: it follows for `follow_for`, then reads the
/// history and reports. Twice that plus five seconds leaves room for slow
/// calls and retries without making a restarted worker wait long.
pub fn lease(follow_for: Duration) -> Duration {
    follow_for * 2 + Duration::from_secs(5)
}

/// What one sweep found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Executions inside the horizon and past the lease.
    pub examined: u64,
    /// Jobs that were never answered and now are (as continuations).
    pub recovered: u64,
}

impl Sweep {
    /// Adds one source's sweep, or says why it could not be read.
    fn add(&mut self, sweep: anyhow::Result<Sweep>, source: &str) {
        match sweep {
            Ok(sweep) => {
                self.examined += sweep.examined;
                self.recovered += sweep.recovered;
            }
            Err(error) => tracing::warn!(
                %source,
                error = %format!("{error:#}"),
                "could not look for unanswered jobs"
            ),
        }
    }
}

/// Whether an execution started `age` ago is due for a check: its worker
/// has had the lease to answer, and its job cannot have timed out yet.
pub fn due(age: Duration, lease: Duration) -> bool {
    age >= lease && age <= HORIZON
}

/// The job an execution was started for, from its input.
pub fn job_of(input: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(input).ok()?;
    value
        .get(PIPELINE_KEY)?
        .get("jobId")?
        .as_str()
        .map(str::to_string)
}

/// Whether CodePipeline refused a result because the job was already
/// answered (or is gone): the expected answer for every healthy job.
pub fn already_answered(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("InvalidJobStateException" | "JobNotFoundException")
    )
}

pub struct Recovery {
    pub sfn: Client,
    pub reporter: Reporter,
    pub state_machines: Vec<String>,
    pub journal: Option<Journal>,
    /// How long after its start an execution's first job must have been
    /// answered by a live worker.
    pub lease: Duration,
}

impl Recovery {
    /// Sweeps the executions now, and after the lease those that were too
    /// young the first time; the journal every lease (its entries fall due
    /// while workers run, when a worker that held one died).
    pub async fn run(self, shutdown: CancellationToken) {
        if self.state_machines.is_empty() && self.journal.is_none() {
            return;
        }
        let first = epoch_now();
        let lease = self.lease.as_secs_f64();
        for sweep in 0u64.. {
            let executions_since = match sweep {
                0 => Some(0.0),
                1 => Some(first - lease),
                _ => None,
            };
            self.sweep_and_log(executions_since).await;
            if sweep >= 1 && self.journal.is_none() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(self.lease) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// `executions_since`: sweep the executions started after this time
    /// (epoch seconds), or none.
    async fn sweep_and_log(&self, executions_since: Option<f64>) {
        let mut total = Sweep::default();
        if let Some(since) = executions_since {
            for machine in &self.state_machines {
                total.add(self.sweep(machine, since).await, machine);
            }
        }
        if let Some(journal) = &self.journal {
            total.add(self.sweep_journal(journal).await, "the journal");
        }
        if executions_since.is_some() || total.recovered > 0 {
            tracing::info!(
                examined = total.examined,
                recovered = total.recovered,
                "looked for jobs a stopped worker left unanswered"
            );
        }
    }

    /// One state machine's recent executions started after `since`.
    pub async fn sweep(&self, state_machine: &str, since: f64) -> anyhow::Result<Sweep> {
        let now = epoch_now();
        let oldest = since.max(now - HORIZON.as_secs_f64());
        let mut sweep = Sweep::default();
        let mut pages = self
            .sfn
            .list_executions()
            .state_machine_arn(state_machine)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.call_context("ListExecutions")?;
            for execution in page.executions() {
                let started = execution.start_date().as_secs_f64();
                // Newest first: the rest of the history is older still.
                if started < oldest {
                    return Ok(sweep);
                }
                let age = Duration::from_secs_f64((now - started).max(0.0));
                if !due(age, self.lease) {
                    continue;
                }
                sweep.examined += 1;
                if self.recover(execution.execution_arn(), now).await? {
                    sweep.recovered += 1;
                }
            }
        }
        Ok(sweep)
    }

    /// The journal's entries older than the lease.
    pub async fn sweep_journal(&self, journal: &Journal) -> anyhow::Result<Sweep> {
        let mut sweep = Sweep::default();
        for entry in journal.stale(self.lease).await? {
            sweep.examined += 1;
            if self
                .hand_back(&entry.job_id, &entry.execution_arn, epoch_now())
                .await?
            {
                sweep.recovered += 1;
            }
            journal.close(&entry.key).await?;
        }
        Ok(sweep)
    }

    /// Hands an execution's first job back if nobody answered it. True if
    /// it did.
    async fn recover(&self, arn: &str, now: f64) -> anyhow::Result<bool> {
        let described = self
            .sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .call_context(format!("DescribeExecution {arn}"))?;
        let Some(job_id) = described.input().and_then(job_of) else {
            return Ok(false); // not started by cpsf
        };
        self.hand_back(&job_id, arn, now).await
    }

    /// Answers `job_id` with a continuation that follows `arn`, unless it
    /// was answered already. True if it was not.
    async fn hand_back(&self, job_id: &str, arn: &str, now: f64) -> anyhow::Result<bool> {
        let name = arn.rsplit(':').next().unwrap_or(arn);
        let continuation = Continuation {
            execution_arn: arn.to_string(),
            handed_back_at: now,
            check_failures: 0,
            round: 0,
            next_check_at: 0.0,
        };
        let report = Report::Continue {
            token: continuation.encode(),
            summary: decide::cut(
                &format!("recovered after its worker stopped; following {name}"),
                decide::MAX_SUMMARY,
            ),
            execution_arn: arn.to_string(),
        };
        match self.reporter.send(job_id, &report).await {
            Ok(()) => {
                tracing::warn!(%job_id, execution_arn = %arn, "recovered a job its worker never answered");
                Ok(true)
            }
            Err(error) if already_answered(error.code.as_deref()) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_executions_past_the_lease_and_inside_the_horizon_are_due() {
        let lease = Duration::from_secs(30);
        assert!(!due(Duration::from_secs(29), lease));
        assert!(due(Duration::from_secs(30), lease));
        assert!(due(HORIZON, lease));
        assert!(!due(HORIZON + Duration::from_secs(1), lease));
    }

    #[test]
    fn the_job_comes_from_the_pipeline_key_of_the_input() {
        let input = r#"{"stackName":"app","pipeline":{"jobId":"1b2c","pipelineName":"p"}}"#;
        assert_eq!(job_of(input).as_deref(), Some("1b2c"));
        assert_eq!(job_of(r#"{"stackName":"app"}"#), None);
        assert_eq!(job_of(r#"{"pipeline":"not an object"}"#), None);
        assert_eq!(job_of("not json"), None);
    }

    #[test]
    fn refusals_for_answered_jobs_are_expected_and_others_are_not() {
        assert!(already_answered(Some("InvalidJobStateException")));
        assert!(already_answered(Some("JobNotFoundException")));
        assert!(!already_answered(Some("ThrottlingException")));
        assert!(!already_answered(None));
    }
}
