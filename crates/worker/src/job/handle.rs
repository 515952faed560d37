//! One job from pickup to report. This is where the AWS edges
//! (`report.rs`, `s3.rs`, `sfn.rs`) meet the pure parts (`config.rs`,
//! `artifact.rs`, `input.rs`, `decide.rs`).
//!
//! # Why the execution is started before the job is acknowledged
//!
//! A worker can die at any point. The order of the steps for a new job is
//! chosen so that no crash can leave a job stuck or start a second
//! execution:
//!
//! 1. Read configuration and input. No side effects: dying here leaves the
//!    job unacknowledged, CodePipeline hands it out again, and the next
//!    worker repeats this.
//! 2. StartExecution under a name derived from the action execution id,
//!    with an input that is a pure function of the job. Dying after this
//!    still leaves the job unacknowledged; the next worker starts the same
//!    name with the same input, which Step Functions answers with the same
//!    execution (or `ExecutionAlreadyExists`, which we treat as "ours").
//!    Either way there is one execution.
//! 3. AcknowledgeJob. If another worker was handed the job meanwhile, the
//!    nonce no longer matches: we stop here and leave the job to it (it
//!    follows the same execution by name).
//! 4. Follow the execution for a short while and report. Dying between 3
//!    and 4 leaves an acknowledged job that CodePipeline will never hand
//!    out again. The execution's input names the job, so the next worker
//!    to start finds it among the recent executions and hands it back as a
//!    continuation (`recover.rs`).
//!
//! Acknowledging first would open a worse window: acknowledged, never
//! started, nobody will ever look at it again.
//!
//! A continuation job has no side effect before its report, and nothing
//! durable names it. With a journal (`journal.rs`) it is written there
//! before its acknowledgement, with the time it will be answered by; a
//! starting worker hands back any entry past that time (`recover.rs`), so
//! the job may be followed for a long window. Without a journal it is
//! followed first and acknowledged only when its report is ready: dying
//! while it follows leaves it unacknowledged, and CodePipeline hands it out
//! again; the window stays short so that happens only to dead workers.
//!
//! Each continuation follows eight times as long as the one before (up to
//! 32 × `follow_for`), and checks the execution less often as it ages: a
//! long deploy costs calls in proportion to the logarithm of its duration.

mod follow;
mod target_status;

use super::config::{ActionConfig, InputSource};
use super::data::Job;
use super::decide::{Continuation, FailureKind, Report};
use super::input::{execution_name, parse_input_file, state_machine_input};
use super::journal::{Journal, JournalLocation};
use super::pacing::follow_window;
use super::report::Reporter;
use crate::artifact::read::Limits;
use crate::artifact::s3::{ArtifactStore, ReadError};
use crate::base::clock::epoch_now;
use crate::metrics::Metrics;
use crate::nudge::Nudges;
use crate::reach::Reach;
use crate::sfn::{Sfn, StartError};
use aws_config::SdkConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How a job is handled; `Default` is `cpsf worker`'s (the flags under
/// "Following executions" show these values), but for the two the CLI
/// derives: `recover_from_pipelines` (on when `--recover-from` names none)
/// and `journal` (this machine's state directory when `--journal` names
/// none). Both are off here, so a worker embedded in the demo, a test or
/// `cpsf replay` reads no pipeline and writes no directory it was not given.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSettings {
    pub artifact_limits: Limits,
    /// How long a job follows a running execution before handing it back
    /// as a continuation.
    pub follow_for: Duration,
    /// Bounds of the pause between two DescribeExecution calls, which is a
    /// quarter of the execution's age in between (see `follow`).
    pub check_min: Duration,
    pub check_max: Duration,
    /// State machines whose recent executions a starting worker checks for
    /// jobs a stopped worker left unanswered (see `recover.rs`).
    pub recover_from: Vec<String>,
    /// Also the state machines of the pipelines that use the worker's
    /// action type (`discover.rs`): what `cpsf worker` does when
    /// `--recover-from` names none.
    pub recover_from_pipelines: bool,
    /// Where continuation jobs are recorded between acknowledgement and
    /// report (see `journal.rs`); without it a worker killed in that window
    /// leaves the job to CodePipeline's timeout.
    pub journal: Option<JournalLocation>,
    /// An SQS queue fed Step Functions' execution status events, whose
    /// events wake the jobs following those executions (`events.rs`).
    pub events_queue: Option<String>,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            artifact_limits: Limits::default(),
            follow_for: Duration::from_secs(10),
            check_min: Duration::from_millis(500),
            check_max: Duration::from_secs(600),
            recover_from: Vec::new(),
            recover_from_pipelines: false,
            journal: None,
            events_queue: None,
        }
    }
}

/// How a job ended, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    Continued,
    /// Another worker holds the job (its nonce changed): left alone.
    Abandoned,
    /// Left unacknowledged because AWS could not be reached for now (a
    /// throttled or failed StartExecution): CodePipeline hands it out again.
    Deferred,
    /// The report could not be delivered.
    ReportFailed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Continued => "continued",
            Outcome::Abandoned => "abandoned",
            Outcome::Deferred => "deferred",
            Outcome::ReportFailed => "report_failed",
        }
    }
}

#[derive(Clone)]
pub struct JobRunner {
    reporter: Reporter,
    sfn: Sfn,
    sdk: SdkConfig,
    settings: Arc<JobSettings>,
    metrics: Metrics,
    journal: Option<Journal>,
    /// Nudges from this process's task handlers (see `nudge.rs`).
    nudges: Nudges,
    /// Cancelled at shutdown: a job following a running execution hands it
    /// back at once instead of waiting out `follow_for`.
    shutdown: CancellationToken,
    /// A rollout's targets, for the progress summary (`target_status.rs`).
    reach: Arc<Reach>,
}

impl JobRunner {
    pub fn new(
        reporter: Reporter,
        sfn: Sfn,
        sdk: SdkConfig,
        settings: JobSettings,
        metrics: Metrics,
        nudges: Nudges,
        shutdown: CancellationToken,
    ) -> Self {
        let journal = settings
            .journal
            .clone()
            .map(|location| Journal::new(aws_sdk_s3::Client::new(&sdk), location));
        Self {
            reporter,
            sfn,
            reach: Arc::new(Reach::new(sdk.clone())),
            sdk,
            journal,
            settings: Arc::new(settings),
            metrics,
            nudges,
            shutdown,
        }
    }

    pub fn reporter(&self) -> &Reporter {
        &self.reporter
    }

    /// Handles one job to the end. Never fails: every problem becomes a
    /// report to CodePipeline or, if even that fails, a log line.
    pub async fn run(&self, job: Job) -> Outcome {
        let span = tracing::info_span!(
            "job",
            job_id = %job.id,
            pipeline = %job.context.pipeline_name,
            stage = %job.context.stage,
            action = %job.context.action,
            execution_arn = tracing::field::Empty,
        );
        let started = Instant::now();
        let outcome = self.run_inner(&job).instrument(span.clone()).await;
        self.metrics.job(outcome.as_str());
        self.metrics.job_duration(started.elapsed().as_secs_f64());
        span.in_scope(|| tracing::info!(outcome = outcome.as_str(), "job done"));
        outcome
    }

    async fn run_inner(&self, job: &Job) -> Outcome {
        let (report, journaled) = match &job.continuation_token {
            None => match self.start(job).await {
                Ok(report) => (report, None),
                Err(outcome) => return outcome,
            },
            Some(token) => match self.follow_up(job, token).await {
                Some((report, key)) => (report, key),
                None => return Outcome::Abandoned,
            },
        };
        let outcome = self.send(job, &report).await;
        // An undelivered report keeps its entry: recovery answers it later.
        if let Some(key) = journaled
            && outcome != Outcome::ReportFailed
        {
            self.forget(&key).await;
        }
        outcome
    }

    /// A new job: steps 1–4 of the module comment. `Err`: the job was left
    /// alone (another worker's, or deferred).
    async fn start(&self, job: &Job) -> Result<Report, Outcome> {
        let (config, input, name) = match self.prepare(job).await {
            Ok(prepared) => prepared,
            Err(report) => return self.claimed(job, report).await,
        };
        let started = self
            .sfn
            .start(&config.state_machine_arn, &name, &input)
            .await;
        let arn = match started {
            Ok(arn) => arn,
            Err(StartError::Transient(message)) => {
                // Nothing is wrong with the job: leave it unacknowledged
                // (no AcknowledgeJob, no result) and CodePipeline hands it
                // out again once it is Queued again. PollForJobs returns
                // only Queued jobs, and a dispatched job stays out of the
                // queue until its dispatch times out, so this worker does
                // not pick the same job straight back up (the local
                // service does the same: `dispatch_timeout`). Failing it
                // would fail the pipeline over a passing throttle.
                self.metrics.aws_error("StartExecution");
                tracing::warn!(%message, "could not start the execution for now; leaving the job for CodePipeline to hand out again");
                return Err(Outcome::Deferred);
            }
            Err(error) => {
                self.metrics.aws_error("StartExecution");
                let kind = match error {
                    StartError::Configuration(_) => FailureKind::ConfigurationError,
                    StartError::Permission(_) => FailureKind::PermissionError,
                    StartError::Input(_) | StartError::Other(_) | StartError::Transient(_) => {
                        FailureKind::JobFailed
                    }
                };
                return self
                    .claimed(job, Report::fail(kind, error.to_string()))
                    .await;
            }
        };
        tracing::Span::current().record("execution_arn", arn.as_str());
        tracing::info!(execution = %name, "execution started");
        if !self.acknowledge(job).await {
            return Err(Outcome::Abandoned);
        }
        let report = self.follow(job, &arn, None, self.window(0)).await;
        Ok(match report {
            Report::Continue {
                token,
                summary,
                execution_arn,
            } => Report::Continue {
                token,
                summary: crate::base::text::cut(
                    &format!("started {name}; {summary}"),
                    crate::base::limits::MAX_SUMMARY,
                ),
                execution_arn,
            },
            other => other,
        })
    }

    /// Acknowledges the job to send `report`; `Err`: another worker's now.
    async fn claimed(&self, job: &Job, report: Report) -> Result<Report, Outcome> {
        if self.acknowledge(job).await {
            Ok(report)
        } else {
            Err(Outcome::Abandoned)
        }
    }

    /// Step 1: configuration, input and name, with no side effects.
    async fn prepare(&self, job: &Job) -> Result<(ActionConfig, String, String), Report> {
        let config = ActionConfig::parse(&job.configuration.0)
            .map_err(|e| Report::fail(FailureKind::ConfigurationError, e.to_string()))?;
        let object = match &config.input {
            InputSource::Literal(object) => object.clone(),
            InputSource::FilePath(path) => self.read_input_file(job, path).await?,
            InputSource::FileWithOverrides { path, overrides } => {
                let mut object = self.read_input_file(job, path).await?;
                object.extend(overrides.clone());
                object
            }
        };
        let input = state_machine_input(object, job)
            .map_err(|e| Report::fail(FailureKind::JobFailed, e.to_string()))?;
        let name = execution_name(config.execution_name_prefix.as_deref(), job);
        Ok((config, input, name))
    }

    async fn read_input_file(
        &self,
        job: &Job,
        path: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Report> {
        let fail = |message: String| Report::fail(FailureKind::JobFailed, message);
        let Some(artifact) = job.input_artifacts.first() else {
            return Err(Report::fail(
                FailureKind::ConfigurationError,
                format!(
                    "the input is the file '{path}' (InputType FilePath, or inputFile) but the action \
                     has no input artifact to read it from"
                ),
            ));
        };
        let Some(credentials) = &job.credentials else {
            return Err(fail(
                "the job carries no artifact credentials to read the input artifact with".into(),
            ));
        };
        let store = ArtifactStore::for_job(&self.sdk, credentials);
        let file = store
            .read_file(artifact, path, &self.settings.artifact_limits)
            .await
            .map_err(|e| match e {
                ReadError::S3(e) => {
                    self.metrics.aws_error("GetObject");
                    fail(e)
                }
                ReadError::Artifact(e) => fail(format!("input artifact '{}': {e}", artifact.name)),
            })?;
        parse_input_file(path, &file).map_err(|e| fail(e.to_string()))
    }

    /// A continuation job. With a journal: record it, acknowledge it, then
    /// follow the execution it names for its round's window. Without one:
    /// follow first (a shorter window), then acknowledge and report at once.
    /// The module comment says why. Returns the report and the journal
    /// entry to remove once it is delivered.
    async fn follow_up(&self, job: &Job, token: &str) -> Option<(Report, Option<String>)> {
        let continuation = match Continuation::decode(token) {
            Ok(continuation) => continuation,
            Err(message) => {
                let report = Report::fail(FailureKind::JobFailed, message);
                return self.acknowledge(job).await.then_some((report, None));
            }
        };
        if continuation.handed_back_at > 0.0 {
            self.metrics
                .pickup_latency(epoch_now() - continuation.handed_back_at);
        }
        let arn = &continuation.execution_arn;
        tracing::Span::current().record("execution_arn", arn.as_str());
        let window = self.window(continuation.round);
        let Some(journal) = &self.journal else {
            let report = self.follow(job, arn, Some(&continuation), window).await;
            return self.acknowledge(job).await.then_some((report, None));
        };
        let held_until = epoch_now() + window.as_secs_f64();
        let key = match journal.open(&job.id, arn, held_until).await {
            Ok(key) => key,
            Err(error) => {
                // Unacknowledged, the job goes back to CodePipeline's queue.
                self.metrics.aws_error("PutObject");
                tracing::warn!(error = %format!("{error:#}"), "could not record the job in the journal; leaving it unacknowledged");
                return None;
            }
        };
        if !self.acknowledge(job).await {
            self.forget(&key).await;
            return None;
        }
        let report = self.follow(job, arn, Some(&continuation), window).await;
        Some((report, Some(key)))
    }

    /// How long a job of `round` follows its execution: `follow_for`, then
    /// eight times as long each round, so a long execution costs a number of
    /// jobs (and calls) that grows with the logarithm of its duration. An
    /// unacknowledged job must be answered before CodePipeline hands it out
    /// again, so without a journal the window stays short.
    /// While execution events flow, a job follows for the longest window
    /// at once: the event, not a check, tells it of the end.
    fn window(&self, round: u32) -> Duration {
        follow_window(
            self.settings.follow_for,
            round,
            self.journal.is_some(),
            self.nudges.events_flowing(),
        )
    }

    /// Removes an answered continuation job's journal entry.
    async fn forget(&self, key: &str) {
        if let Some(journal) = &self.journal
            && let Err(error) = journal.close(key).await
        {
            // Harmless: recovery finds the job answered and removes it.
            self.metrics.aws_error("DeleteObject");
            tracing::warn!(error = %format!("{error:#}"), "could not remove the job from the journal");
        }
    }

    /// Claims the job; false if it belongs to another worker now.
    async fn acknowledge(&self, job: &Job) -> bool {
        match self.reporter.acknowledge(job).await {
            Ok(()) => true,
            Err(error) => {
                self.metrics.aws_error("AcknowledgeJob");
                tracing::warn!(%error, "could not acknowledge the job; leaving it to whoever holds it");
                false
            }
        }
    }

    async fn send(&self, job: &Job, report: &Report) -> Outcome {
        let outcome = match report {
            Report::Continue { .. } => Outcome::Continued,
            Report::Succeed { .. } => Outcome::Succeeded,
            Report::Fail { message, .. } => {
                tracing::info!(%message, "reporting failure");
                Outcome::Failed
            }
        };
        match self.reporter.send(&job.id, report).await {
            Ok(()) => outcome,
            Err(error) => {
                self.metrics.aws_error("PutJobResult");
                tracing::error!(%error, "could not report the job's result");
                Outcome::ReportFailed
            }
        }
    }
}

#[cfg(test)]
mod tests;
