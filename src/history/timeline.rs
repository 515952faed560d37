//! The states an execution went through, when, and for how long: from its
//! history events (oldest first), a pure function.

use aws_sdk_sfn::types::HistoryEvent;

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub state: String,
    /// Seconds from the execution's first event to entering the state.
    pub entered: f64,
    /// Seconds spent in the state; None while it has not been left.
    pub duration: Option<f64>,
    /// Task attempts that failed inside the state and were retried or caught.
    pub failures: u32,
}

pub fn timeline(events: &[HistoryEvent]) -> Vec<Step> {
    let seconds = |e: &HistoryEvent| e.timestamp().as_secs_f64();
    let start = events.first().map_or(0.0, seconds);
    let mut steps: Vec<Step> = Vec::new();
    for event in events {
        let at = seconds(event) - start;
        if let Some(entered) = event.state_entered_event_details() {
            steps.push(Step {
                state: entered.name().to_string(),
                entered: at,
                duration: None,
                failures: 0,
            });
        } else if let Some(exited) = event.state_exited_event_details() {
            if let Some(step) = steps
                .iter_mut()
                .rev()
                .find(|s| s.state == exited.name() && s.duration.is_none())
            {
                step.duration = Some(at - step.entered);
            }
        } else if is_task_failure(event)
            && let Some(step) = steps.iter_mut().rev().find(|s| s.duration.is_none())
        {
            step.failures += 1;
        }
    }
    steps
}

fn is_task_failure(event: &HistoryEvent) -> bool {
    event.activity_failed_event_details().is_some()
        || event.activity_timed_out_event_details().is_some()
        || event.task_failed_event_details().is_some()
        || event.task_timed_out_event_details().is_some()
        || event.lambda_function_failed_event_details().is_some()
}

/// One line: `CheckStack 0.0s (0.1s) → CreateStack 0.1s (0.2s, 1 retry) → …`.
pub fn one_line(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| {
            let mut detail = match s.duration {
                Some(d) => format!("{d:.1}s"),
                None => "running".to_string(),
            };
            if s.failures > 0 {
                detail.push_str(&format!(
                    ", {} failed attempt{}",
                    s.failures,
                    if s.failures == 1 { "" } else { "s" }
                ));
            }
            format!("{} +{:.1}s ({detail})", s.state, s.entered)
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::types::{
        HistoryEventType, StateEnteredEventDetails, StateExitedEventDetails, TaskFailedEventDetails,
    };
    use aws_smithy_types::DateTime;

    fn at(
        id: i64,
        millis: i64,
        kind: HistoryEventType,
    ) -> aws_sdk_sfn::types::builders::HistoryEventBuilder {
        HistoryEvent::builder()
            .id(id)
            .r#type(kind)
            .timestamp(DateTime::from_millis(millis))
    }

    fn entered(id: i64, millis: i64, name: &str) -> HistoryEvent {
        at(id, millis, HistoryEventType::TaskStateEntered)
            .state_entered_event_details(
                StateEnteredEventDetails::builder()
                    .name(name)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    fn exited(id: i64, millis: i64, name: &str) -> HistoryEvent {
        at(id, millis, HistoryEventType::TaskStateExited)
            .state_exited_event_details(
                StateExitedEventDetails::builder()
                    .name(name)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn steps_have_offsets_durations_and_failures() {
        let events = vec![
            at(1, 1_000, HistoryEventType::ExecutionStarted)
                .build()
                .unwrap(),
            entered(2, 1_000, "CheckStack"),
            exited(3, 1_200, "CheckStack"),
            entered(4, 1_200, "CreateStack"),
            at(5, 1_500, HistoryEventType::TaskFailed)
                .task_failed_event_details(
                    TaskFailedEventDetails::builder()
                        .resource_type("activity")
                        .resource("arn")
                        .error("States.Timeout")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
            exited(6, 2_200, "CreateStack"),
            entered(7, 2_200, "WaitForStack"),
        ];
        let steps = timeline(&events);
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[0].entered, 0.0);
        assert!((steps[0].duration.unwrap() - 0.2).abs() < 1e-9);
        assert_eq!(steps[1].failures, 1);
        assert_eq!(steps[2].duration, None);
        assert_eq!(
            one_line(&steps),
            "CheckStack +0.0s (0.2s) → CreateStack +0.2s (1.0s, 1 failed attempt) → WaitForStack +1.2s (running)"
        );
    }
}
