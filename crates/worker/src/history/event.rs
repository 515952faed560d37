//! History events in a plain shape of our own: what every reader of a
//! history needs (state names, errors, causes, times), whether the events
//! come from the SDK or from a saved AWS JSON history (`aws stepfunctions
//! get-execution-history` output, or the API's own JSON).

use aws_sdk_sfn::types::HistoryEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    /// Epoch seconds.
    pub timestamp: f64,
    /// AWS's event type, e.g. `TaskStateEntered`, `ActivityFailed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The state entered or exited, for `*StateEntered` / `*StateExited`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// What a task that succeeded returned (`ActivitySucceeded`,
    /// `TaskSucceeded`): a rollout's progress is read from it
    /// (`rollout.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

impl Event {
    pub fn is_state_entered(&self) -> bool {
        self.kind.ends_with("StateEntered")
    }

    pub fn is_state_exited(&self) -> bool {
        self.kind.ends_with("StateExited")
    }

    /// The execution itself ended badly.
    pub fn is_execution_failure(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted"
        )
    }

    /// A task attempt failed (it may be retried or caught).
    pub fn is_task_failure(&self) -> bool {
        !self.is_execution_failure()
            && (self.kind.ends_with("Failed") || self.kind.ends_with("TimedOut"))
            && !self.kind.starts_with("Map")
            && self.kind != "ExecutionRedriven"
    }

    pub fn from_sdk(event: &HistoryEvent) -> Self {
        let named = state_name(event);
        let (error, cause) = failure_of(event);
        let output = event
            .activity_succeeded_event_details()
            .and_then(|d| d.output())
            .or_else(|| {
                event
                    .task_succeeded_event_details()
                    .and_then(|d| d.output())
            })
            .map(str::to_string);
        Self {
            id: event.id(),
            timestamp: event.timestamp().as_secs_f64(),
            kind: event.r#type().as_str().to_string(),
            state: named,
            error,
            cause,
            output,
        }
    }

    /// Events from AWS's JSON: `{"events": [...]}` or the list itself, each
    /// with `timestamp` (epoch seconds or RFC 3339), `type`, `id`, and its
    /// `…EventDetails` object.
    pub fn from_aws_json(text: &str) -> anyhow::Result<Vec<Self>> {
        let value: Value = serde_json::from_str(text)?;
        let list = value.get("events").unwrap_or(&value);
        let events = list
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("no \"events\" list"))?;
        events.iter().map(Self::from_aws_value).collect()
    }

    fn from_aws_value(value: &Value) -> anyhow::Result<Self> {
        let kind = value["type"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("an event has no type"))?
            .to_string();
        let timestamp = match &value["timestamp"] {
            Value::Number(n) => n.as_f64().unwrap_or_default(),
            Value::String(s) => parse_rfc3339(s)?,
            _ => anyhow::bail!("event {} has no timestamp", value["id"]),
        };
        let details = value.as_object().and_then(|o| {
            o.iter()
                .find(|(k, _)| k.ends_with("EventDetails"))
                .map(|(_, v)| v)
        });
        let text = |key: &str| {
            details
                .and_then(|d| d.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let is_state = kind.ends_with("StateEntered") || kind.ends_with("StateExited");
        let succeeded = kind == "ActivitySucceeded" || kind == "TaskSucceeded";
        Ok(Self {
            id: value["id"].as_i64().unwrap_or_default(),
            timestamp,
            state: if is_state { text("name") } else { None },
            error: text("error"),
            cause: text("cause"),
            output: if succeeded { text("output") } else { None },
            kind,
        })
    }
}

/// The error and cause of whichever failure details the event carries.
fn failure_of(event: &HistoryEvent) -> (Option<String>, Option<String>) {
    let pair = |e: Option<&str>, c: Option<&str>| (e.map(str::to_string), c.map(str::to_string));
    if let Some(d) = event.execution_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.execution_timed_out_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.execution_aborted_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.activity_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.activity_timed_out_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.activity_schedule_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.task_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.task_timed_out_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.task_start_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.task_submit_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.lambda_function_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.lambda_function_timed_out_event_details() {
        return pair(d.error(), d.cause());
    }
    (None, None)
}

/// `2026-11-21T06:56:41.625000+00:00` (the AWS CLI's form) or `…Z`.
fn parse_rfc3339(text: &str) -> anyhow::Result<f64> {
    let (base, offset_secs) = match text.rfind(['+', '-']).filter(|i| *i > 10) {
        Some(i) if text[i..].len() == 6 && &text[i + 3..i + 4] == ":" => {
            let sign = if &text[i..i + 1] == "-" { -1.0 } else { 1.0 };
            let hours: f64 = text[i + 1..i + 3].parse()?;
            let minutes: f64 = text[i + 4..i + 6].parse()?;
            (
                format!("{}Z", &text[..i]),
                sign * (hours * 3600.0 + minutes * 60.0),
            )
        }
        _ => (text.to_string(), 0.0),
    };
    let time = humantime::parse_rfc3339_weak(base.trim_end_matches('Z'))
        .map_err(|e| anyhow::anyhow!("timestamp {text}: {e}"))?;
    let epoch = time.duration_since(std::time::UNIX_EPOCH)?.as_secs_f64();
    Ok(epoch - offset_secs)
}

/// The state a StateEntered or StateExited event names, if it is one.
pub fn state_name(event: &HistoryEvent) -> Option<String> {
    event
        .state_entered_event_details()
        .map(|d| d.name().to_string())
        .or_else(|| {
            event
                .state_exited_event_details()
                .map(|d| d.name().to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_aws_json_with_either_timestamp_form() {
        let text = r#"{"events": [
            {"timestamp": "2026-11-21T07:56:41.500000+01:00", "type": "TaskStateEntered", "id": 2,
             "stateEnteredEventDetails": {"name": "CheckStack", "input": "{}"}},
            {"timestamp": 1795244201.75, "type": "ActivityFailed", "id": 3,
             "activityFailedEventDetails": {"error": "Cpsf.StackBusy", "cause": "busy"}}
        ]}"#;
        let events = Event::from_aws_json(text).unwrap();
        assert_eq!(events[0].state.as_deref(), Some("CheckStack"));
        assert_eq!(events[0].timestamp, 1_795_244_201.5);
        assert!(events[1].is_task_failure());
        assert_eq!(
            (events[1].error.as_deref(), events[1].cause.as_deref()),
            (Some("Cpsf.StackBusy"), Some("busy"))
        );
    }
}
