//! A task's hold on its Step Functions task token: heartbeats, and whether
//! the task is still ours to work on.
//!
//! When an execution is stopped, or a task times out, Step Functions closes
//! the task, and SendTaskHeartbeat answers `TaskTimedOut` ("the task token
//! has either expired or the task associated with the token has already
//! been closed") or `TaskDoesNotExist` (Step Functions API reference,
//! SendTaskHeartbeat, Errors). From then on nobody reads the task's result:
//! a handler that went on would deploy for an execution that no longer
//! exists. So handlers [`Lease::confirm`] before each side effect (a stack
//! or change set created, executed or deleted), and the runner stops a
//! handler whose periodic heartbeat learned the task is gone, freeing its
//! slot.
//!
//! Neither emulator closes the tasks of a stopped execution (their
//! heartbeats keep succeeding; docs/emulators.md), so the tests replay
//! AWS's answers with aws-smithy-mocks.

use super::error::TaskError;
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata};
use tokio_util::sync::CancellationToken;

/// What one heartbeat learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// Step Functions took it: the task is ours.
    Ours,
    /// The task is closed (execution stopped, failed or timed out).
    Gone,
    /// The call failed for a reason that says nothing about the task
    /// (throttling, a dropped connection): try again later.
    Unknown,
}

impl Heartbeat {
    /// Reads SendTaskHeartbeat's error code.
    pub fn from_error_code(code: Option<&str>) -> Self {
        match code {
            Some("TaskTimedOut" | "TaskDoesNotExist") => Heartbeat::Gone,
            _ => Heartbeat::Unknown,
        }
    }
}

pub struct Lease {
    /// None when no Step Functions task stands behind the work (`cpsf
    /// replay` without `--send`): nothing to lose.
    task: Option<(aws_sdk_sfn::Client, String)>,
    gone: CancellationToken,
}

impl Lease {
    pub fn new(sfn: aws_sdk_sfn::Client, task_token: String) -> Self {
        Self {
            task: Some((sfn, task_token)),
            gone: CancellationToken::new(),
        }
    }

    /// Work with no task behind it.
    pub fn detached() -> Self {
        Self {
            task: None,
            gone: CancellationToken::new(),
        }
    }

    /// Sends one heartbeat; a closed task marks the lease gone.
    pub async fn heartbeat(&self) -> Heartbeat {
        let Some((sfn, token)) = &self.task else {
            return Heartbeat::Ours;
        };
        let beat = match sfn.send_task_heartbeat().task_token(token).send().await {
            Ok(_) => Heartbeat::Ours,
            Err(error) => {
                let beat = Heartbeat::from_error_code(error.code());
                if beat == Heartbeat::Unknown {
                    tracing::warn!(error = %DisplayErrorContext(error), "SendTaskHeartbeat failed");
                }
                beat
            }
        };
        if beat == Heartbeat::Gone {
            tracing::info!(
                "the task is closed (its execution was stopped or timed out): stopping its work"
            );
            self.gone.cancel();
        }
        beat
    }

    /// Before a side effect: fails with `Cpsf.TaskGone` if Step Functions
    /// says the task is closed. A heartbeat that could not be sent does not
    /// stop the work; the next periodic one will tell.
    pub async fn confirm(&self, before: &str) -> Result<(), TaskError> {
        if self.gone.is_cancelled() || self.heartbeat().await == Heartbeat::Gone {
            return Err(TaskError::new(
                "Cpsf.TaskGone",
                format!("the task was closed (its execution stopped) before {before}; not done"),
            ));
        }
        Ok(())
    }

    /// Cancelled once a heartbeat learned the task is closed.
    pub fn gone(&self) -> &CancellationToken {
        &self.gone
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_sdk_sfn::Client;
    use aws_sdk_sfn::operation::send_task_heartbeat::{
        SendTaskHeartbeatError, SendTaskHeartbeatOutput,
    };
    use aws_sdk_sfn::types::error::{TaskDoesNotExist, TaskTimedOut};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    fn meta(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }

    /// What AWS answers a heartbeat for a task whose execution was stopped.
    pub(crate) fn timed_out() -> aws_smithy_mocks::Rule {
        mock!(Client::send_task_heartbeat).then_error(|| {
            let message = "Task Timed Out: 'Provided task does not exist anymore'";
            SendTaskHeartbeatError::TaskTimedOut(
                TaskTimedOut::builder()
                    .message(message)
                    .meta(meta("TaskTimedOut", message))
                    .build(),
            )
        })
    }

    fn does_not_exist() -> aws_smithy_mocks::Rule {
        mock!(Client::send_task_heartbeat).then_error(|| {
            let message = "Task does not exist";
            SendTaskHeartbeatError::TaskDoesNotExist(
                TaskDoesNotExist::builder()
                    .message(message)
                    .meta(meta("TaskDoesNotExist", message))
                    .build(),
            )
        })
    }

    fn throttled() -> aws_smithy_mocks::Rule {
        mock!(Client::send_task_heartbeat).then_error(|| {
            SendTaskHeartbeatError::generic(meta("ThrottlingException", "Rate exceeded"))
        })
    }

    pub(crate) fn accepted() -> aws_smithy_mocks::Rule {
        mock!(Client::send_task_heartbeat)
            .then_output(|| SendTaskHeartbeatOutput::builder().build())
    }

    pub(crate) fn lease(rule: &aws_smithy_mocks::Rule) -> Lease {
        let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [rule]);
        Lease::new(sfn, "token".into())
    }

    #[tokio::test]
    async fn a_closed_task_stops_the_work_before_its_side_effect() {
        for rule in [timed_out(), does_not_exist()] {
            let lease = lease(&rule);
            let error = lease.confirm("executing the change set").await.unwrap_err();
            assert_eq!(error.name, "Cpsf.TaskGone");
            assert!(
                error.cause.contains("before executing the change set"),
                "{}",
                error.cause
            );
            assert!(lease.gone().is_cancelled());
        }
    }

    #[tokio::test]
    async fn a_heartbeat_that_says_nothing_about_the_task_lets_the_work_go_on() {
        for rule in [throttled(), accepted()] {
            let lease = lease(&rule);
            assert_eq!(lease.confirm("executing the change set").await, Ok(()));
            assert!(!lease.gone().is_cancelled());
        }
    }

    #[tokio::test]
    async fn work_with_no_task_behind_it_is_never_stopped() {
        assert_eq!(Lease::detached().confirm("anything").await, Ok(()));
    }
}
