//! Following a started execution: checking it at the job's pace (or when
//! nudged) until it ends or the job's window passes, and turning what was
//! seen into a report, with the output artifact when it succeeded.

use super::JobRunner;
use crate::artifact::s3::ArtifactStore;
use crate::base::clock::epoch_now;
use crate::base::clock::instant_at;
use crate::job::data::Job;
use crate::job::decide::{self, Continuation, FailureKind, Report};
use crate::job::pacing::{EVENT_GRACE, NUDGE_SETTLE, check_pause};
use crate::nudge::Nudge;
use crate::sfn::{DescribeError, Described};
use std::time::{Duration, Instant};

impl JobRunner {
    /// Re-describes the execution until it ends, or until the next check
    /// would fall past `window` or the worker shuts down; then decides what
    /// to report. The pause between two checks is a quarter of the
    /// execution's age, within `check_min` and `check_max`, ±10% so that
    /// many jobs do not check in step: a short execution is checked every
    /// half second, a long one ever less often (its end noticed within a
    /// quarter of its running time), and the number of checks grows with
    /// the logarithm of its duration. A continuation carries the time of the
    /// next check, so handing a job back adds no check of its own. A nudge
    /// from this process's task handlers (`nudge.rs`) brings the next check
    /// forward: a deploy's end is noticed as soon as its last task is done.
    /// An end event from the events queue (`events/`) brings the check
    /// forward to now, and what that check says is reported: the event
    /// itself is never the report (`events/mod.rs`); while such events
    /// flow, the paced checks are only a safety net, at a far slower pace.
    pub(super) async fn follow(
        &self,
        job: &Job,
        arn: &str,
        previous: Option<&Continuation>,
        window: Duration,
    ) -> Report {
        let next_round = previous.map_or(1, |p| p.round + 1);
        let deadline = Instant::now() + window;
        let mut next_check = match previous {
            Some(previous) => instant_at(previous.next_check_at),
            // A new execution: nothing to see before the shortest pause.
            None => Instant::now() + check_pause(0.0, &self.settings, self.nudges.events_flowing()),
        }
        .min(deadline);
        let watch = self.nudges.watch(arn);
        loop {
            let flowing = self.nudges.events_flowing();
            // Whether an end event woke this check.
            let mut announced = false;
            tokio::select! {
                () = tokio::time::sleep_until(next_check.into()) => {}
                () = self.shutdown.cancelled() => {}
                // Events stopped (queue gone, an end missed): back to the
                // usual pace, starting with a look now.
                () = self.nudges.events_stopped(), if flowing => {}
                nudge = watch.nudged() => match nudge {
                    // Step Functions' event says it ended: look now.
                    Nudge::Ended => announced = true,
                    // A task was just answered: give the execution a moment
                    // to run its next states, then look.
                    Nudge::TaskAnswered => tokio::time::sleep(NUDGE_SETTLE).await,
                },
            }
            let described = match self.sfn.describe(arn).await {
                Ok(d) => d,
                Err(DescribeError::Gone(message)) => {
                    return Report::Fail {
                        kind: FailureKind::JobFailed,
                        message,
                        execution_arn: Some(arn.to_string()),
                    };
                }
                Err(DescribeError::Other(message)) => {
                    self.metrics.aws_error("DescribeExecution");
                    tracing::warn!(%message, "could not check the execution");
                    return decide::check_failed(previous, arn, &message, epoch_now());
                }
            };
            if announced && !described.status.is_terminal() {
                // Sent by someone else than Step Functions, or a late end
                // of a run before a redrive.
                tracing::warn!(
                    status = ?described.status,
                    "an end event for an execution Step Functions says has not ended; ignored"
                );
            }
            if described.status.is_terminal() {
                let unannounced = !announced
                    && described
                        .stop_date
                        .is_some_and(|stopped| epoch_now() - stopped > EVENT_GRACE.as_secs_f64());
                if unannounced && self.nudges.events_flowing() {
                    tracing::warn!(
                        "the execution ended with no event for it; checking at the usual pace for a while"
                    );
                    self.nudges.event_missed();
                }
                return self.conclude(job, described, next_round, 0.0).await;
            }
            let age = described
                .start_date
                .map_or(0.0, |started| (epoch_now() - started).max(0.0));
            let pause = check_pause(age, &self.settings, self.nudges.events_flowing())
                .mul_f64(rand::random_range(0.9..1.1));
            let now = Instant::now();
            next_check = now + pause;
            // Without events, a check that would fall past the window hands
            // the job back now. With events, the job stays until its window
            // ends, listening: the end event, not a check, is what it waits
            // for (a 5 min deploy is then one job, not two).
            let hand_back =
                next_check > deadline && (!self.nudges.events_flowing() || now >= deadline);
            if hand_back || self.shutdown.is_cancelled() {
                let due = epoch_now() + pause.as_secs_f64();
                return self.conclude(job, described, next_round, due).await;
            }
            next_check = next_check.min(deadline);
        }
    }

    /// Turns the final description into a report, writing the output
    /// artifact when the execution succeeded.
    async fn conclude(
        &self,
        job: &Job,
        described: Described,
        next_round: u32,
        next_check_at: f64,
    ) -> Report {
        let stop_date = described.stop_date;
        let mut facts = match self.sfn.facts(described.clone()).await {
            Ok(facts) => facts,
            Err(error) => {
                // The history only adds detail; decide without it.
                self.metrics.aws_error("GetExecutionHistory");
                tracing::warn!(%error, "could not read the execution history");
                described.clone().into_facts()
            }
        };
        if let Some(glance) = facts.progress.as_mut() {
            self.look_at_targets(&described, glance).await;
        }
        let report = decide::decide(&facts, epoch_now(), next_round, next_check_at);
        if let Some(stopped) = stop_date {
            self.metrics.completion_latency(epoch_now() - stopped);
        }
        if let Report::Succeed {
            output: Some(output),
            execution_arn,
            ..
        } = &report
            && !job.output_artifacts.is_empty()
            && let Err(message) = self.write_output(job, output).await
        {
            return Report::Fail {
                kind: FailureKind::JobFailed,
                message: format!("The execution succeeded, but {message}"),
                execution_arn: Some(execution_arn.clone()),
            };
        }
        report
    }

    async fn write_output(&self, job: &Job, output: &str) -> Result<(), String> {
        let credentials = job
            .credentials
            .as_ref()
            .ok_or("the job carries no artifact credentials to write the output artifact with")?;
        let store = ArtifactStore::for_job(&self.sdk, credentials);
        store
            .upload_output(
                &job.output_artifacts[0],
                output,
                job.encryption_key.as_ref(),
            )
            .await
            .inspect_err(|_| self.metrics.aws_error("PutObject"))
    }
}

#[cfg(test)]
#[path = "follow_tests.rs"]
mod tests;
