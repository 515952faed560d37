//! One execution status change event, read (pure): which execution it
//! names, its status and when, and what to do with the message that
//! carried it.
//!
//! The event's `detail` also has the fields of DescribeExecution (output,
//! error, cause; Step Functions developer guide, "Automating Step Functions
//! event delivery with EventBridge"). They are not read: the job that an
//! end wakes describes the execution and reports what Step Functions says
//! (`mod.rs`, "What an event is trusted with").

use crate::execution::ExecutionStatus;
use serde::Deserialize;
use std::time::Duration;

/// An event this old is of no use to anyone: delete it.
pub const STALE_AFTER: Duration = Duration::from_secs(300);
/// A message received this often, and followed by nobody who received
/// it, is dropped: whoever follows the execution checks it by its pace.
pub const MAX_RECEIVES: u32 = 8;

/// The statuses a job waits for: an execution's end. "Running" and
/// "pending redrive" wake nobody, so the rule (bootstrap/cpsf.yaml's, and
/// the playground's) does not send them.
pub const END_STATUSES: [&str; 4] = ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];

/// What the worker reads of one event.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionEvent {
    pub execution_arn: String,
    pub status: ExecutionStatus,
    /// When the event was emitted (epoch milliseconds), if it says.
    pub at_ms: Option<i64>,
}

/// An EventBridge event as SQS delivers it (the event is the message
/// body): its source, detail type and `detail`, read as `D`.
#[derive(Deserialize)]
pub(super) struct Envelope<D> {
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub detail: D,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    execution_arn: String,
    status: String,
    start_date: Option<i64>,
    stop_date: Option<i64>,
}

/// Reads an EventBridge event as SQS delivers it (the event itself is the
/// message body). Anything else is not an execution status change.
pub fn parse(body: &str) -> Result<ExecutionEvent, String> {
    let envelope: Envelope<Detail> =
        serde_json::from_str(body).map_err(|e| format!("not an EventBridge event: {e}"))?;
    if envelope.source != "aws.states"
        || envelope.detail_type != "Step Functions Execution Status Change"
    {
        return Err(format!(
            "not an execution status change: {} / {}",
            envelope.source, envelope.detail_type
        ));
    }
    let detail = envelope.detail;
    Ok(ExecutionEvent {
        execution_arn: detail.execution_arn,
        status: ExecutionStatus::parse(&detail.status),
        at_ms: detail.stop_date.or(detail.start_date),
    })
}

/// What to do with one received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Tell the job following it here (or keep the end for the next job
    /// that follows it here), and delete the message.
    Nudge,
    /// Tell this process, and also leave the message for the other workers:
    /// it comes back to one of them shortly.
    NudgeAndLeave,
    /// Delete it: unreadable, not an end, stale, or nobody who saw it
    /// follows it.
    Drop,
}

/// Decides a message's fate (pure): `followed` says whether a job of this
/// process follows the execution, `receives` how often the message was
/// received, `now_ms` the time.
pub fn dispose(
    event: &Result<ExecutionEvent, String>,
    followed: bool,
    receives: u32,
    now_ms: i64,
) -> Disposition {
    let Ok(event) = event else {
        return Disposition::Drop;
    };
    // A job learns nothing from "running": only an end is worth a wake-up,
    // and a late "running" after an end must not undo it.
    if !event.status.is_terminal() {
        return Disposition::Drop;
    }
    if followed {
        return Disposition::Nudge;
    }
    let stale = event
        .at_ms
        .is_some_and(|at| now_ms - at > STALE_AFTER.as_millis() as i64);
    if stale || receives >= MAX_RECEIVES {
        Disposition::Drop
    } else {
        Disposition::NudgeAndLeave
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The event as the Step Functions developer guide shows it.
    pub const SUCCEEDED: &str = r#"{
      "version": "0", "id": "315c1398-40ff-a850-213b-158f73e60175",
      "detail-type": "Step Functions Execution Status Change", "source": "aws.states",
      "account": "123456789012", "time": "2019-02-26T19:42:21Z", "region": "us-east-1",
      "resources": ["arn:aws:states:us-east-1:123456789012:execution:state-machine-name:execution-name"],
      "detail": {
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:state-machine-name:execution-name",
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:state-machine",
        "name": "execution-name", "status": "SUCCEEDED",
        "startDate": 1551225014968, "stopDate": 1551225017576,
        "input": "{}", "output": "\"Hello World!\"",
        "inputDetails": {"included": true}, "outputDetails": {"included": true}
      }
    }"#;

    /// [`SUCCEEDED`] with `replace` (everywhere) put `by`.
    pub(crate) fn with(replace: &str, by: &str) -> String {
        assert!(SUCCEEDED.contains(replace), "{replace}");
        SUCCEEDED.replace(replace, by)
    }

    #[test]
    fn an_end_names_its_execution_status_and_time() {
        let event = parse(SUCCEEDED).unwrap();
        let arn =
            "arn:aws:states:us-east-1:123456789012:execution:state-machine-name:execution-name";
        assert_eq!(event.execution_arn, arn);
        assert_eq!(event.status, ExecutionStatus::Succeeded);
        assert_eq!(event.at_ms, Some(1551225017576));
    }

    /// A success whose output Step Functions left out (too large) and a
    /// failure are ends alike: the job describes the execution either way.
    #[test]
    fn every_end_is_read_the_same_with_or_without_its_output() {
        let truncated = with(
            r#""outputDetails": {"included": true}"#,
            r#""outputDetails": {"included": false}"#,
        )
        .replace(r#""output": "\"Hello World!\"","#, "");
        let failed = with(r#""status": "SUCCEEDED""#, r#""status": "FAILED""#).replace(
            r#""output": "\"Hello World!\"","#,
            r#""error": "States.TaskFailed", "cause": "boom","#,
        );
        assert_eq!(parse(&truncated).unwrap(), parse(SUCCEEDED).unwrap());
        let failed = parse(&failed).unwrap();
        assert_eq!(failed.status, ExecutionStatus::Failed);
        assert!(failed.status.is_terminal());
    }

    #[test]
    fn running_is_no_end_and_other_events_are_not_read() {
        let running = with(r#""status": "SUCCEEDED""#, r#""status": "RUNNING""#)
            .replace(r#""stopDate": 1551225017576,"#, "");
        let event = parse(&running).unwrap();
        assert!(!event.status.is_terminal());
        assert_eq!(event.at_ms, Some(1551225014968));
        assert!(
            parse(r#"{"source": "aws.s3", "detail-type": "Object Created", "detail": {}}"#)
                .is_err()
        );
        assert!(parse("not json").is_err());
    }

    #[test]
    fn ends_followed_here_nudge_else_they_go_round_until_stale_or_worn() {
        let event = parse(SUCCEEDED);
        let at = 1551225017576;
        assert_eq!(dispose(&event, true, 1, at), Disposition::Nudge);
        assert_eq!(
            dispose(&event, false, 1, at + 1_000),
            Disposition::NudgeAndLeave
        );
        assert_eq!(dispose(&event, false, 1, at + 301_000), Disposition::Drop);
        assert_eq!(dispose(&event, false, MAX_RECEIVES, at), Disposition::Drop);
        assert_eq!(dispose(&Err("junk".into()), true, 1, at), Disposition::Drop);
    }

    #[test]
    fn a_late_running_event_is_dropped_even_where_followed() {
        let running = parse(&with(r#""status": "SUCCEEDED""#, r#""status": "RUNNING""#));
        assert_eq!(dispose(&running, true, 1, 0), Disposition::Drop);
    }
}
