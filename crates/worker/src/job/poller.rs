//! The poll loop: asks CodePipeline for jobs, runs each in its own task
//! with at most `max_in_flight` at once, and stops cleanly.
//!
//! Cadence: after a poll that returned jobs, poll again at once; when idle,
//! back off exponentially with jitter up to `poll_max`, so an idle worker
//! costs at most about one PollForJobs call a second. While CodePipeline's
//! action start events flow (`pickup/`), a start wakes the poller at once
//! and idle polls are a safety net ten seconds apart (`pickup/decide.rs`).

use super::data::Job;
use super::decide::{FailureKind, Report};
use super::handle::{JobRunner, Outcome};
use super::report::Reporter;
use crate::metrics::Metrics;
use crate::pickup::decide::{self, Idle, PollFailure};
use crate::pickup::{JobKey, Pickup, Woken};
use aws_sdk_codepipeline::error::DisplayErrorContext;
use aws_sdk_codepipeline::types::{ActionTypeId, Job as SdkJob};
use backon::BackoffBuilder;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// PollForJobs hands out at most this many jobs per call.
const MAX_BATCH: usize = 100;

/// How the job poller asks for jobs; `Default` is `cpsf worker`'s
/// (the flags under "Action type" and "Jobs" show these values).
#[derive(Debug, Clone, PartialEq)]
pub struct PollerSettings {
    pub action_type: ActionTypeId,
    /// The queryable property's name and value, if the worker serves one.
    pub query: Option<(String, String)>,
    pub max_in_flight: usize,
    /// First pause after a PollForJobs that found nothing. (The `poll_*`
    /// pauses are the job poll's; a task's stack describes pause by
    /// `TaskOptions::watch_*`.)
    pub poll_min: Duration,
    /// Longest pause between polls, jitter included.
    pub poll_max: Duration,
    /// Longest pause while jobs are in flight: a busy worker is likely to
    /// be handed more soon (pipelines run in bursts), and polls while busy
    /// cost nothing an idle worker pays.
    pub poll_busy: Duration,
    /// How long in-flight jobs get to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// How often a missing action type is asked about again.
    pub missing_type_retry: Duration,
}

impl Default for PollerSettings {
    fn default() -> Self {
        Self {
            action_type: crate::action_type::id(),
            query: None,
            // A job following a long deploy holds its slot; 1,000 in
            // flight took ~60 MB (bench/results).
            max_in_flight: 256,
            poll_min: Duration::from_millis(100),
            // Under one PollForJobs a second when idle, jitter included.
            poll_max: Duration::from_millis(1500),
            poll_busy: Duration::from_millis(250),
            shutdown_grace: crate::shutdown::GRACE,
            missing_type_retry: decide::MISSING_TYPE_RETRY,
        }
    }
}

pub struct Poller {
    client: aws_sdk_codepipeline::Client,
    runner: JobRunner,
    settings: PollerSettings,
    metrics: Metrics,
    pickup: Pickup,
}

impl Poller {
    pub fn new(
        client: aws_sdk_codepipeline::Client,
        runner: JobRunner,
        settings: PollerSettings,
        metrics: Metrics,
    ) -> Self {
        Self {
            client,
            runner,
            settings,
            metrics,
            pickup: Pickup::default(),
        }
    }

    /// Shares `pickup` with the events queue: its start events wake the
    /// poller, and the poller tells it of jobs no event announced.
    pub fn with_pickup(mut self, pickup: Pickup) -> Self {
        self.pickup = pickup;
        self
    }

    /// Polls until `shutdown` is cancelled, then waits up to the grace
    /// period for in-flight jobs. Jobs following a running execution see
    /// the same token and hand their execution back at once.
    pub async fn run(self, shutdown: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.settings.max_in_flight));
        let tracker = TaskTracker::new();
        let mut pauses = self.idle_backoff();
        // Empty polls since a start event woke the poller (`decide.rs`).
        let mut empty_since_wake: Option<usize> = None;
        let mut failures = 0u32;
        let mut last_failure = PollFailure::Other;
        while !shutdown.is_cancelled() {
            let free = slots.available_permits().min(MAX_BATCH);
            if free == 0 {
                self.pickup.set_room(false);
                // Wait for a slot (or shutdown) before polling again.
                tokio::select! {
                    permit = slots.clone().acquire_owned() => drop(permit),
                    () = shutdown.cancelled() => break,
                }
                continue;
            }
            let jobs = match self.poll(free).await {
                Ok(jobs) => {
                    if failures > 0 && last_failure == PollFailure::MissingActionType {
                        tracing::info!("the action type is registered now: polling for jobs");
                    }
                    failures = 0;
                    jobs
                }
                Err((failure, message)) => {
                    failures = if failure == last_failure {
                        failures + 1
                    } else {
                        1
                    };
                    last_failure = failure;
                    let backoff = pauses.next().unwrap_or(self.settings.poll_max);
                    let (pause, log) = decide::after_failure(
                        failure,
                        failures,
                        backoff,
                        self.settings.missing_type_retry,
                    );
                    if log {
                        tracing::warn!("{message}");
                    }
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = shutdown.cancelled() => {}
                    }
                    continue;
                }
            };
            let got = jobs.len();
            let after_wake = empty_since_wake.is_some();
            for job in jobs {
                if self
                    .pickup
                    .picked(&key_of(&job), continues(&job), after_wake)
                {
                    tracing::info!(
                        job_id = job.id().unwrap_or("?"),
                        "a job turned up that no action start event announced; polling at the usual pace for a while"
                    );
                }
                let permit = slots
                    .clone()
                    .try_acquire_owned()
                    .expect("batch size is at most the free slots");
                tracker.spawn(supervise(
                    self.runner.clone(),
                    self.metrics.clone(),
                    self.pickup.clone(),
                    job,
                    permit,
                ));
            }
            let flowing = self.pickup.flowing();
            if got > 0 {
                pauses = self.idle_backoff();
                empty_since_wake = None;
                if decide::poll_again_at_once(got, free, flowing) {
                    continue;
                }
            }
            let in_flight = slots.available_permits() < self.settings.max_in_flight;
            let pause = decide::idle_pause(Idle {
                backoff: pauses.next().unwrap_or(self.settings.poll_max),
                flowing,
                empty_since_wake,
                busy: in_flight.then_some(self.settings.poll_busy),
                jitter: rand::random(),
            });
            // The follow-ups spent, the next poll is the safety net's.
            empty_since_wake = empty_since_wake
                .map(|n| n + 1)
                .filter(|n| *n <= decide::FOLLOW_UPS.len());
            self.pickup.set_room(slots.available_permits() > 0);
            let woken = tokio::select! {
                woken = self.pickup.pause(pause) => woken,
                () = shutdown.cancelled() => Woken::Elapsed,
            };
            match woken {
                Woken::Job => {
                    pauses = self.idle_backoff();
                    empty_since_wake = Some(0);
                }
                Woken::EventsStopped => pauses = self.idle_backoff(),
                Woken::Elapsed => {}
            }
        }
        tracker.close();
        let in_flight = tracker.len();
        if in_flight > 0 {
            tracing::info!(in_flight, grace = ?self.settings.shutdown_grace, "waiting for in-flight jobs");
        }
        if tokio::time::timeout(self.settings.shutdown_grace, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = tracker.len(),
                "shutdown grace ran out; unfinished jobs go back to CodePipeline and are retried"
            );
        }
    }

    async fn poll(&self, batch: usize) -> Result<Vec<SdkJob>, (PollFailure, String)> {
        let mut request = self
            .client
            .poll_for_jobs()
            .action_type_id(self.settings.action_type.clone())
            .max_batch_size(batch as i32);
        if let Some((key, value)) = &self.settings.query {
            request = request.query_param(key, value);
        }
        match request.send().await {
            Ok(output) => {
                let jobs = output.jobs.unwrap_or_default();
                self.metrics
                    .poll(if jobs.is_empty() { "empty" } else { "jobs" });
                Ok(jobs)
            }
            Err(error) => {
                self.metrics.poll("error");
                self.metrics.aws_error("PollForJobs");
                // PollForJobs answers ActionTypeNotFoundException for a
                // type not created in this account and region
                // (CodePipeline API reference, PollForJobs: Errors).
                let missing = error
                    .as_service_error()
                    .is_some_and(|e| e.is_action_type_not_found_exception());
                if missing {
                    let message = missing_type_message(
                        &self.settings.action_type,
                        self.settings.missing_type_retry,
                    );
                    Err((PollFailure::MissingActionType, message))
                } else {
                    let message = format!("PollForJobs failed: {}", DisplayErrorContext(error));
                    Err((PollFailure::Other, message))
                }
            }
        }
    }

    /// Pauses between empty polls. backon's jitter adds up to 100% of the
    /// pause, so the cap handed to it is half the ceiling.
    fn idle_backoff(&self) -> backon::ExponentialBackoff {
        let cap = self.settings.poll_max / 2;
        backon::ExponentialBuilder::default()
            .with_min_delay(self.settings.poll_min.min(cap))
            .with_max_delay(cap)
            .with_jitter()
            .without_max_times()
            .build()
    }
}

/// One line for a missing action type: what is missing, and what makes it.
fn missing_type_message(id: &ActionTypeId, retry: Duration) -> String {
    format!(
        "the action type {}/{}/{}/{} does not exist in this account and region: \
         create it with `cpsf bootstrap` (on the playground, `cpsf demo` does); \
         asking again every {} s",
        id.category.as_str(),
        id.owner.as_str(),
        id.provider,
        id.version,
        retry.as_secs()
    )
}

/// Where a polled job runs in its pipeline, as a start event names it.
fn key_of(job: &SdkJob) -> JobKey {
    let context = job.data().and_then(|d| d.pipeline_context());
    JobKey {
        pipeline: context
            .and_then(|c| c.pipeline_name())
            .unwrap_or_default()
            .to_string(),
        execution_id: context
            .and_then(|c| c.pipeline_execution_id())
            .unwrap_or_default()
            .to_string(),
        stage: context
            .and_then(|c| c.stage())
            .and_then(|s| s.name())
            .unwrap_or_default()
            .to_string(),
        action: context
            .and_then(|c| c.action())
            .and_then(|a| a.name())
            .unwrap_or_default()
            .to_string(),
    }
}

/// Whether a polled job continues an action (it carries a token).
fn continues(job: &SdkJob) -> bool {
    job.data().and_then(|d| d.continuation_token()).is_some()
}

/// Runs one job in its own task so that a panic in it is caught, reported
/// to CodePipeline, and never takes the worker down. A job that asks for
/// a continuation wakes the poller: its next job is queued now, with no
/// start event.
async fn supervise(
    runner: JobRunner,
    metrics: Metrics,
    pickup: Pickup,
    raw: SdkJob,
    permit: OwnedSemaphorePermit,
) {
    metrics.in_flight().inc();
    let reporter = runner.reporter().clone();
    let outcome = guard(&reporter, raw, move |job| async move {
        if runner.run(job).await == Outcome::Continued {
            pickup.wake();
        }
    })
    .await;
    if let Some(outcome) = outcome {
        metrics.job(outcome);
    }
    metrics.in_flight().dec();
    drop(permit);
}

/// Parses the job and runs `handle` on it in a task of its own. A job that
/// cannot be parsed, or whose handler panics, is failed with the reason.
/// Returns the outcome label for metrics when `handle` did not count it.
async fn guard<H, F>(reporter: &Reporter, raw: SdkJob, handle: H) -> Option<&'static str>
where
    H: FnOnce(Job) -> F,
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let job = match Job::from_sdk(&raw) {
        Ok(job) => job,
        Err(error) => {
            tracing::error!(job_id = raw.id().unwrap_or("?"), %error, "unusable job");
            if let Some(id) = raw.id() {
                let unusable = Job {
                    id: id.to_string(),
                    nonce: raw.nonce().map(str::to_string),
                    ..Job::empty()
                };
                fail_job(reporter, &unusable, &error.to_string()).await;
            }
            return Some("failed");
        }
    };
    let task = tokio::spawn(handle(job.clone()));
    match task.await {
        Err(error) if error.is_panic() => {
            let panic = error.into_panic();
            let reason = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            tracing::error!(job_id = %job.id, reason, "job handler panicked");
            let message = format!(
                "cpsf hit an internal error while handling this job ({reason}); please report it"
            );
            fail_job(reporter, &job, &message).await;
            Some("panicked")
        }
        _ => None,
    }
}

/// Acknowledges (harmless if already done with the same nonce) and fails.
async fn fail_job(reporter: &Reporter, job: &Job, message: &str) {
    if let Err(error) = reporter.acknowledge(job).await {
        tracing::warn!(job_id = %job.id, %error, "could not acknowledge the job to fail it");
        return;
    }
    let report = Report::fail(FailureKind::JobFailed, message);
    if let Err(error) = reporter.send(&job.id, &report).await {
        tracing::error!(job_id = %job.id, %error, "could not report the job's failure");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_codepipeline::operation::acknowledge_job::AcknowledgeJobOutput;
    use aws_sdk_codepipeline::operation::put_job_failure_result::PutJobFailureResultOutput;
    use aws_sdk_codepipeline::types::{JobData, PipelineContext};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn raw_job() -> SdkJob {
        SdkJob::builder()
            .id("job-1")
            .nonce("n-1")
            .data(
                JobData::builder()
                    .pipeline_context(PipelineContext::builder().pipeline_name("p").build())
                    .build(),
            )
            .build()
    }

    fn reporter_expecting_failure(
        containing: &'static str,
    ) -> (Reporter, aws_smithy_mocks::Rule, aws_smithy_mocks::Rule) {
        let ack = mock!(aws_sdk_codepipeline::Client::acknowledge_job)
            .match_requests(|r| r.job_id() == Some("job-1") && r.nonce() == Some("n-1"))
            .then_output(|| AcknowledgeJobOutput::builder().build());
        let fail = mock!(aws_sdk_codepipeline::Client::put_job_failure_result)
            .match_requests(move |r| {
                r.job_id() == Some("job-1")
                    && r.failure_details()
                        .is_some_and(|d| d.message().contains(containing))
            })
            .then_output(|| PutJobFailureResultOutput::builder().build());
        let client = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, [&ack, &fail]);
        (Reporter::new(client), ack, fail)
    }

    /// Issue 31: with no action type registered the worker polled (and
    /// logged the SDK's error) every second, forever. It says it once and
    /// asks again at `missing_type_retry` (a minute by default).
    #[tokio::test]
    async fn a_missing_action_type_is_asked_about_again_slowly() {
        use aws_sdk_codepipeline::operation::poll_for_jobs::PollForJobsError;
        use aws_sdk_codepipeline::types::error::ActionTypeNotFoundException;
        let missing = mock!(aws_sdk_codepipeline::Client::poll_for_jobs).then_error(|| {
            PollForJobsError::ActionTypeNotFoundException(
                ActionTypeNotFoundException::builder()
                    .message("The action type was not found")
                    .build(),
            )
        });
        let cp = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, [&missing]);
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let sfn = aws_sdk_sfn::Client::from_conf(
            aws_sdk_sfn::Config::builder()
                .behavior_version(aws_sdk_sfn::config::BehaviorVersion::latest())
                .build(),
        );
        let shutdown = CancellationToken::new();
        let runner = JobRunner::new(
            Reporter::new(cp.clone()),
            crate::sfn::Sfn::new(sfn),
            sdk,
            super::super::handle::JobSettings::default(),
            Metrics::default(),
            crate::nudge::Nudges::default(),
            shutdown.clone(),
        );
        let settings = PollerSettings {
            poll_min: Duration::from_millis(1),
            poll_max: Duration::from_millis(4),
            missing_type_retry: Duration::from_millis(300),
            ..PollerSettings::default()
        };
        let poller = Poller::new(cp, runner, settings, Metrics::default());
        let running = tokio::spawn(poller.run(shutdown.clone()));
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        shutdown.cancel();
        running.await.unwrap();
        // At 0, 0.3, 0.6 and 0.9 s; at the usual pace, hundreds.
        let calls = missing.num_calls();
        assert!((3..=5).contains(&calls), "{calls} PollForJobs in a second");
    }

    #[tokio::test]
    async fn a_panicking_handler_fails_its_job_and_nothing_else() {
        let (reporter, ack, fail) =
            reporter_expecting_failure("internal error while handling this job (boom)");
        let outcome = guard(&reporter, raw_job(), |_job| async { panic!("boom") }).await;
        assert_eq!(outcome, Some("panicked"));
        assert_eq!((ack.num_calls(), fail.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_normal_handler_is_left_to_report_for_itself() {
        let (reporter, ack, fail) = reporter_expecting_failure("never");
        let outcome = guard(&reporter, raw_job(), |job| async move {
            assert_eq!(job.id, "job-1")
        })
        .await;
        assert_eq!(outcome, None);
        assert_eq!((ack.num_calls(), fail.num_calls()), (0, 0));
    }

    #[tokio::test]
    async fn a_job_without_data_is_failed_with_the_reason() {
        let (reporter, _ack, fail) = reporter_expecting_failure(
            "the job data from CodePipeline is incomplete: data is missing",
        );
        let raw = SdkJob::builder().id("job-1").nonce("n-1").build();
        let outcome = guard(&reporter, raw, |_job| async { unreachable!("not run") }).await;
        assert_eq!(outcome, Some("failed"));
        assert_eq!(fail.num_calls(), 1);
    }
}
