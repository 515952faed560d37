//! The states an execution went through, when, for how long, and what
//! failed on the way: from its events (oldest first). Pure.

use super::event::Event;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub state: String,
    /// `Task`, `Choice`, `Pass`, `Wait`, `Fail`, … (from the event type).
    #[serde(rename = "type")]
    pub kind: String,
    /// Seconds from the execution's first event to entering the state.
    pub entered_seconds: f64,
    /// Seconds spent in the state; None while it has not been left (or
    /// for a Fail state, which ends the execution instead).
    pub duration_seconds: Option<f64>,
    /// Task attempts that failed inside the state, in order: retried, or
    /// caught (the last one, when the next state is a Catch's).
    pub failed_attempts: Vec<Attempt>,
    /// The state the execution failed in.
    pub failed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    pub error: Option<String>,
    pub cause: Option<String>,
}

pub fn timeline(events: &[Event]) -> Vec<Step> {
    let start = events.first().map_or(0.0, |e| e.timestamp);
    let mut steps: Vec<Step> = Vec::new();
    for event in events {
        let at = event.timestamp - start;
        if event.is_state_entered() {
            steps.push(Step {
                state: event.state.clone().unwrap_or_default(),
                kind: event.kind.trim_end_matches("StateEntered").to_string(),
                entered_seconds: at,
                duration_seconds: None,
                failed_attempts: Vec::new(),
                failed: false,
            });
        } else if event.is_state_exited() {
            let open = steps
                .iter_mut()
                .rev()
                .find(|s| Some(&s.state) == event.state.as_ref() && s.duration_seconds.is_none());
            if let Some(step) = open {
                step.duration_seconds = Some(at - step.entered_seconds);
            }
        } else if event.is_task_failure() {
            if let Some(step) = steps
                .iter_mut()
                .rev()
                .find(|s| s.duration_seconds.is_none())
            {
                step.failed_attempts.push(Attempt {
                    error: event.error.clone(),
                    cause: event.cause.clone(),
                });
            }
        } else if event.is_execution_failure()
            && let Some(step) = steps.last_mut()
        {
            step.failed = true;
        }
    }
    let ended = events
        .last()
        .is_some_and(|e| e.kind.starts_with("Execution") && e.kind != "ExecutionStarted");
    if ended {
        close_open_steps(
            &mut steps,
            events.last().map_or(0.0, |e| e.timestamp - start),
        );
    }
    steps
}

/// Once the execution has ended, a step without an exit event (a caught
/// error moves on without one on some engines) lasted until the next step
/// began, or until the end. A Fail state ends the execution: no duration.
fn close_open_steps(steps: &mut [Step], end: f64) {
    for i in 0..steps.len() {
        if steps[i].duration_seconds.is_some() || steps[i].failed {
            continue;
        }
        let until = steps.get(i + 1).map_or(end, |next| next.entered_seconds);
        steps[i].duration_seconds = Some(until - steps[i].entered_seconds);
    }
}

/// One line: `CheckStack +0.0s (0.1s) → CreateStack +0.1s (1.0s, 1 failed attempt) → …`.
pub fn one_line(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| {
            let mut detail = match s.duration_seconds {
                Some(d) => format!("{d:.1}s"),
                None if s.failed => "failed".to_string(),
                None => "running".to_string(),
            };
            let n = s.failed_attempts.len();
            if n > 0 {
                detail.push_str(&format!(
                    ", {n} failed attempt{}",
                    if n == 1 { "" } else { "s" }
                ));
            }
            format!("{} +{:.1}s ({detail})", s.state, s.entered_seconds)
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, millis: i64, kind: &str, state: Option<&str>, error: Option<&str>) -> Event {
        Event {
            id,
            timestamp: millis as f64 / 1000.0,
            kind: kind.into(),
            state: state.map(str::to_string),
            error: error.map(str::to_string),
            cause: None,
            output: None,
        }
    }

    #[test]
    fn steps_have_offsets_durations_failures_and_the_failed_state() {
        let events = vec![
            event(1, 1_000, "ExecutionStarted", None, None),
            event(2, 1_000, "TaskStateEntered", Some("CheckStack"), None),
            event(3, 1_250, "TaskStateExited", Some("CheckStack"), None),
            event(4, 1_250, "TaskStateEntered", Some("CreateStack"), None),
            event(
                5,
                1_500,
                "ActivityTimedOut",
                None,
                Some("States.HeartbeatTimeout"),
            ),
            event(6, 2_250, "TaskStateExited", Some("CreateStack"), None),
            event(7, 2_250, "FailStateEntered", Some("CreateFailed"), None),
            event(8, 2_250, "ExecutionFailed", None, Some("Cpsf.CreateFailed")),
        ];
        let steps = timeline(&events);
        assert_eq!(steps.len(), 3);
        assert_eq!(
            (steps[0].entered_seconds, steps[0].duration_seconds),
            (0.0, Some(0.25))
        );
        assert_eq!(steps[1].failed_attempts.len(), 1);
        assert_eq!(steps[2].kind, "Fail");
        assert!(steps[2].failed && !steps[1].failed);
        assert_eq!(
            one_line(&steps),
            "CheckStack +0.0s (0.2s) → CreateStack +0.2s (1.0s, 1 failed attempt) → CreateFailed +1.2s (failed)"
        );
    }
}
