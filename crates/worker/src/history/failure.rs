//! What the newest events say: the state the execution is in, and, if it
//! failed, why. Used by the worker (to report a failure) and by
//! `cpsf history`. Pure: events newest first in, facts out.

use super::event::Event;
use crate::execution::{FailureFacts, TaskFailure};
use crate::targets::glance::Glance;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// The newest state entered.
    pub state: Option<String>,
    /// A rollout's progress, from the newest task output that holds it.
    pub progress: Option<Glance>,
    /// A canary's, likewise (`canary::plan::glance`).
    pub canary: Option<crate::canary::plan::Glance>,
    /// The execution's own error and cause (else the newest task's), the
    /// state it failed in, and the task whose failure led there.
    pub failure: FailureFacts,
}

pub fn read_newest(newest_first: &[Event]) -> Reading {
    let mut reading = Reading::default();
    let mut task: Option<TaskFailure> = None;
    let mut execution_level_seen = false;
    // When the newest canary bake began: its CanaryBakeStart's entry.
    let mut baking_since = None;
    for event in newest_first {
        if reading.progress.is_none()
            && let Some(output) = &event.output
        {
            reading.progress = crate::targets::glance::glance(output);
        }
        if event.is_state_entered() && event.state.as_deref() == Some("CanaryBakeStart") {
            baking_since = baking_since.or(Some(event.timestamp));
        }
        if reading.canary.is_none()
            && let Some(output) = &event.output
        {
            let state = reading.state.as_deref();
            reading.canary = crate::canary::plan::glance(output, state, baking_since);
        }
        if event.is_state_entered() {
            let name = event.state.clone();
            if reading.state.is_none() {
                reading.state = name.clone();
            }
            // The first state entered before (in time) a task failure is
            // the task that failed.
            if let Some(task) = task.as_mut().filter(|t| t.state.is_none()) {
                task.state = name;
            }
        }
        if event.is_execution_failure() && !execution_level_seen {
            execution_level_seen = true;
            reading.failure.error = event.error.clone();
            reading.failure.cause = event.cause.clone();
        }
        if event.is_task_failure() && task.is_none() {
            task = Some(TaskFailure {
                state: None,
                error: event.error.clone(),
                cause: event.cause.clone(),
            });
        }
    }
    if !execution_level_seen && let Some(task) = &task {
        reading.failure.error = task.error.clone();
        reading.failure.cause = task.cause.clone();
    }
    reading.failure.state = reading.state.clone();
    reading.failure.task = task;
    reading
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(
        id: i64,
        kind: &str,
        state: Option<&str>,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> Event {
        Event {
            id,
            timestamp: id as f64,
            kind: kind.into(),
            state: state.map(str::to_string),
            error: error.map(str::to_string),
            cause: cause.map(str::to_string),
            output: None,
        }
    }

    #[test]
    fn a_task_failure_names_the_task_and_the_execution_error() {
        let newest_first = vec![
            event(
                6,
                "ExecutionFailed",
                None,
                Some("Cpsf.StackFailed"),
                Some("stack broke"),
            ),
            event(
                5,
                "ActivityFailed",
                None,
                Some("Inner"),
                Some("inner cause"),
            ),
            event(4, "TaskStateEntered", Some("CreateStack"), None, None),
            event(2, "TaskStateEntered", Some("CheckStack"), None, None),
        ];
        let reading = read_newest(&newest_first);
        assert_eq!(reading.state.as_deref(), Some("CreateStack"));
        assert_eq!(
            reading.failure,
            FailureFacts {
                state: Some("CreateStack".into()),
                error: Some("Cpsf.StackFailed".into()),
                cause: Some("stack broke".into()),
                task: Some(TaskFailure {
                    state: Some("CreateStack".into()),
                    error: Some("Inner".into()),
                    cause: Some("inner cause".into()),
                }),
            }
        );
    }

    #[test]
    fn without_an_execution_error_the_task_failure_explains() {
        let newest_first = vec![
            event(5, "TaskFailed", None, Some("Boom"), Some("why")),
            event(4, "TaskStateEntered", Some("CreateStack"), None, None),
        ];
        let failure = read_newest(&newest_first).failure;
        assert_eq!(
            (failure.error.as_deref(), failure.cause.as_deref()),
            (Some("Boom"), Some("why"))
        );
    }

    #[test]
    fn no_events_no_facts() {
        assert_eq!(read_newest(&[]), Reading::default());
    }
}
