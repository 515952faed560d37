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
//! back its entries older than the lease the same way. The journal is
//! swept when its next entry falls due (each entry's name says when), and
//! every [`JOURNAL_IDLE`] when it is empty ([`journal_pause`]).

use super::decide::{Continuation, Report};
use super::journal::Journal;
use super::report::Reporter;
use crate::aws::CallContext;
use crate::base::clock::epoch_now;
use crate::base::limits::PIPELINE_KEY;
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

/// The journal sweep's pause with no entry in it: an entry a worker writes
/// meanwhile, and then dies holding, is handed back up to this much later
/// than its lease (it used to be swept every lease, ~35 s, for an idle
/// worker's LIST a lease; issue 31).
pub const JOURNAL_IDLE: Duration = Duration::from_secs(300);

/// How long after a journal sweep at `now` (epoch seconds) the next one
/// comes (pure): a second after the next entry falls due (`next_due`), or
/// [`JOURNAL_IDLE`] with none; after a sweep that failed, one lease.
pub fn journal_pause(now: u64, next_due: Result<Option<u64>, ()>, lease: Duration) -> Duration {
    let idle = JOURNAL_IDLE.max(lease);
    match next_due {
        Err(()) => lease,
        Ok(None) => idle,
        Ok(Some(at)) => Duration::from_secs(at.saturating_sub(now) + 1).min(idle),
    }
}

/// What one sweep found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Executions inside the horizon and past the lease.
    pub examined: u64,
    /// Jobs that were never answered and now are (as continuations).
    pub recovered: u64,
    /// Executions or entries that could not be checked this time (a
    /// throttled call, say): the sweep went on past them.
    pub skipped: u64,
}

impl Sweep {
    /// Adds one source's sweep, or says why it could not be read.
    fn add(&mut self, sweep: anyhow::Result<Sweep>, source: &str) {
        match sweep {
            Ok(sweep) => {
                self.examined += sweep.examined;
                self.recovered += sweep.recovered;
                self.skipped += sweep.skipped;
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

/// The oldest start time a sweep must look at: what it was asked, but
/// nothing an earlier complete sweep checked (`watermark`) and nothing past
/// the horizon.
pub fn sweep_from(since: f64, watermark: Option<f64>, now: f64) -> f64 {
    since
        .max(watermark.unwrap_or(0.0))
        .max(now - HORIZON.as_secs_f64())
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
    /// With no state machines named: find them in the pipelines that use
    /// this action type (`discover.rs`), through this client.
    pub discover: Option<(
        aws_sdk_codepipeline::Client,
        aws_sdk_codepipeline::types::ActionTypeId,
    )>,
    pub journal: Option<Journal>,
    /// How long after its start an execution's first job must have been
    /// answered by a live worker.
    pub lease: Duration,
}

impl Recovery {
    /// Sweeps the executions now, and after the lease those that were too
    /// young the first time; the journal every lease (its entries fall due
    /// while workers run, when a worker that held one died).
    pub async fn run(mut self, shutdown: CancellationToken) {
        if let Some((cp, action_type)) = self.discover.take() {
            self.state_machines = discovered(&cp, &action_type).await;
        }
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
            let next_due = self.sweep_and_log(executions_since).await;
            if sweep >= 1 && self.journal.is_none() {
                return;
            }
            // The second sweep of the executions comes after one lease.
            let pause = if sweep == 0 {
                self.lease
            } else {
                journal_pause(epoch_now() as u64, next_due, self.lease)
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// `executions_since`: sweep the executions started after this time
    /// (epoch seconds), or none. Returns when the journal's next entry
    /// falls due (`Err`: it could not be read).
    async fn sweep_and_log(&self, executions_since: Option<f64>) -> Result<Option<u64>, ()> {
        let mut total = Sweep::default();
        if let Some(since) = executions_since {
            for machine in &self.state_machines {
                total.add(self.sweep(machine, since).await, machine);
            }
        }
        let mut next_due = Ok(None);
        if let Some(journal) = &self.journal {
            let swept = self.sweep_journal(journal).await;
            next_due = swept.as_ref().map(|(_, next)| *next).map_err(|_| ());
            total.add(swept.map(|(sweep, _)| sweep), "the journal");
        }
        if executions_since.is_some() || total.recovered > 0 {
            tracing::info!(
                examined = total.examined,
                recovered = total.recovered,
                skipped = total.skipped,
                "looked for jobs a stopped worker left unanswered"
            );
        }
        next_due
    }

    /// One state machine's recent executions started after `since`, or
    /// after what an earlier complete sweep checked (the journal keeps its
    /// watermark), so a start costs calls in proportion to the executions
    /// since the last sweep, not to a day of them.
    pub async fn sweep(&self, state_machine: &str, since: f64) -> anyhow::Result<Sweep> {
        let now = epoch_now();
        let watermark = match &self.journal {
            Some(journal) => journal.swept_until(state_machine).await,
            None => None,
        };
        let oldest = sweep_from(since, watermark, now);
        let sweep = self.sweep_since(state_machine, oldest, now).await?;
        // Every execution started before now − lease was due and checked.
        if sweep.skipped == 0
            && let Some(journal) = &self.journal
        {
            journal
                .record_swept(state_machine, now - self.lease.as_secs_f64())
                .await;
        }
        Ok(sweep)
    }

    async fn sweep_since(
        &self,
        state_machine: &str,
        oldest: f64,
        now: f64,
    ) -> anyhow::Result<Sweep> {
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
                // One execution that cannot be checked now (throttled,
                // say) must not leave the rest unchecked.
                match self.recover(execution.execution_arn(), now).await {
                    Ok(true) => sweep.recovered += 1,
                    Ok(false) => {}
                    Err(error) => {
                        sweep.skipped += 1;
                        tracing::warn!(execution_arn = %execution.execution_arn(), error = %format!("{error:#}"), "could not check an execution for an unanswered job; going on");
                    }
                }
            }
        }
        Ok(sweep)
    }

    /// The journal's entries older than the lease; and when the next of
    /// the others falls due.
    pub async fn sweep_journal(&self, journal: &Journal) -> anyhow::Result<(Sweep, Option<u64>)> {
        let mut sweep = Sweep::default();
        let (stale, next_due) = journal.stale_and_next(self.lease).await?;
        for entry in stale {
            sweep.examined += 1;
            match self
                .hand_back(&entry.job_id, &entry.execution_arn, epoch_now())
                .await
            {
                Ok(recovered) => sweep.recovered += u64::from(recovered),
                Err(error) => {
                    // Kept for the next sweep.
                    sweep.skipped += 1;
                    tracing::warn!(job_id = %entry.job_id, error = %format!("{error:#}"), "could not hand a journaled job back; going on");
                    continue;
                }
            }
            if let Err(error) = journal.close(&entry.key).await {
                tracing::warn!(error = %format!("{error:#}"), "could not remove a handled journal entry; going on");
            }
        }
        // One kept for want of an answer is tried again after a lease.
        let next_due = match sweep.skipped {
            0 => next_due,
            _ => Some(epoch_now() as u64 + self.lease.as_secs()),
        };
        Ok((sweep, next_due))
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
            summary: crate::base::text::cut(
                &format!("recovered after its worker stopped; following {name}"),
                crate::base::limits::MAX_SUMMARY,
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

/// The state machines of the pipelines that use `action_type`, and one
/// line saying what was found, or which flag to set when it could not be.
async fn discovered(
    cp: &aws_sdk_codepipeline::Client,
    action_type: &aws_sdk_codepipeline::types::ActionTypeId,
) -> Vec<String> {
    match super::discover::discover(cp, action_type).await {
        Ok(found) => {
            let state_machines: Vec<String> = found.state_machines.into_iter().collect();
            if found.truncated {
                tracing::warn!(
                    pipelines_read = found.pipelines_read,
                    "recovering from the state machines of the first {} pipelines only: \
                     set --recover-from STATE_MACHINE_ARN to name them all",
                    super::discover::MAX_PIPELINES
                );
            } else {
                tracing::info!(
                    pipelines_read = found.pipelines_read,
                    state_machines = ?state_machines,
                    "recovering unanswered jobs from the state machines of the pipelines using this action type"
                );
            }
            state_machines
        }
        Err(error) => {
            tracing::warn!(
                error = %format!("{error:#}"),
                "could not read the pipelines to find the state machines to recover from: \
                 set --recover-from STATE_MACHINE_ARN (or allow codepipeline:ListPipelines and GetPipeline)"
            );
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_is_swept_when_its_next_entry_falls_due_else_every_five_minutes() {
        let lease = Duration::from_secs(35);
        assert_eq!(journal_pause(1_000, Ok(None), lease), JOURNAL_IDLE);
        assert_eq!(
            journal_pause(1_000, Ok(Some(1_010)), lease),
            Duration::from_secs(11)
        );
        assert_eq!(
            journal_pause(1_000, Ok(Some(900)), lease),
            Duration::from_secs(1)
        );
        assert_eq!(journal_pause(1_000, Ok(Some(99_999)), lease), JOURNAL_IDLE);
        assert_eq!(journal_pause(1_000, Err(()), lease), lease);
        // A lease longer than the idle pause is never cut.
        let long = Duration::from_secs(600);
        assert_eq!(journal_pause(1_000, Ok(None), long), long);
    }

    #[test]
    fn only_executions_past_the_lease_and_inside_the_horizon_are_due() {
        let lease = Duration::from_secs(30);
        assert!(!due(Duration::from_secs(29), lease));
        assert!(due(Duration::from_secs(30), lease));
        assert!(due(HORIZON, lease));
        assert!(!due(HORIZON + Duration::from_secs(1), lease));
    }

    #[test]
    fn a_sweep_starts_after_what_an_earlier_one_checked_within_the_horizon() {
        let now = 1_800_000_000.0;
        let day = HORIZON.as_secs_f64();
        assert_eq!(sweep_from(0.0, None, now), now - day);
        assert_eq!(sweep_from(0.0, Some(now - 60.0), now), now - 60.0);
        assert_eq!(sweep_from(now - 10.0, Some(now - 60.0), now), now - 10.0);
        assert_eq!(sweep_from(0.0, Some(now - 2.0 * day), now), now - day);
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

    /// A throttled DescribeExecution leaves that one execution for later;
    /// the sweep goes on to the others (it used to stop at the first error).
    #[tokio::test]
    async fn a_sweep_goes_on_past_an_execution_it_cannot_check() {
        use aws_sdk_codepipeline::operation::put_job_success_result::PutJobSuccessResultOutput;
        use aws_sdk_sfn::operation::describe_execution::{
            DescribeExecutionError, DescribeExecutionOutput,
        };
        use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
        use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus};
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        use aws_smithy_types::DateTime;
        let started = DateTime::from_secs_f64(epoch_now() - 120.0);
        let listed = mock!(Client::list_executions).then_output(move || {
            let item = |n: u32| {
                ExecutionListItem::builder()
                    .execution_arn(format!(
                        "arn:aws:states:us-east-1:123456789012:execution:deploy:run-{n}"
                    ))
                    .state_machine_arn("arn:aws:states:us-east-1:123456789012:stateMachine:deploy")
                    .name(format!("run-{n}"))
                    .status(ExecutionStatus::Running)
                    .start_date(started)
                    .build()
                    .unwrap()
            };
            ListExecutionsOutput::builder()
                .executions(item(1))
                .executions(item(2))
                .executions(item(3))
                .build()
                .unwrap()
        });
        let described = mock!(Client::describe_execution)
            .sequence()
            .error(|| {
                DescribeExecutionError::generic(
                    aws_smithy_types::error::ErrorMetadata::builder()
                        .code("ThrottlingException")
                        .message("Rate exceeded")
                        .build(),
                )
            })
            // Throttled on each of the SDK's three attempts.
            .times(3)
            .output(move || {
                DescribeExecutionOutput::builder()
                    .execution_arn("arn")
                    .state_machine_arn("sm")
                    .status(ExecutionStatus::Running)
                    .start_date(started)
                    .input(r#"{"pipeline":{"jobId":"job-2"}}"#)
                    .build()
                    .unwrap()
            })
            .repeatedly()
            .build();
        let answered = mock!(aws_sdk_codepipeline::Client::put_job_success_result)
            .then_output(|| PutJobSuccessResultOutput::builder().build());
        let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&listed, &described]);
        let cp = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, [&answered]);
        let recovery = Recovery {
            sfn,
            reporter: Reporter::new(cp),
            state_machines: vec![],
            discover: None,
            journal: None,
            lease: Duration::from_secs(30),
        };
        let sweep = recovery
            .sweep(
                "arn:aws:states:us-east-1:123456789012:stateMachine:deploy",
                0.0,
            )
            .await
            .unwrap();
        assert_eq!(
            sweep,
            Sweep {
                examined: 3,
                recovered: 2,
                skipped: 1
            }
        );
    }
}
