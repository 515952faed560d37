//! One CodePipeline action state change, read (pure): which action of
//! which pipeline execution started, of which action type, and what to do
//! with the message that carried it.
//!
//! CodePipeline sends a "CodePipeline Action Execution State Change" event
//! (source `aws.codepipeline`) for every action, custom ones included,
//! with `detail` fields `pipeline`, `execution-id`, `stage`, `action`,
//! `state` (STARTED, SUCCEEDED, FAILED, CANCELED, …), `region` and `type`
//! {`owner`, `category`, `provider`, `version`} (CodePipeline user guide,
//! "Monitoring CodePipeline events", action-level events; EventBridge
//! events reference for CodePipeline). Delivery is best effort, so a start
//! event is a wake-up for the job poller, never a job: the job itself
//! still comes from PollForJobs, and the poller keeps a slow safety-net
//! poll for events that never come (`pickup/`).

use crate::pickup::JobKey;
use aws_sdk_codepipeline::types::ActionTypeId;
use serde::Deserialize;

pub const SOURCE: &str = "aws.codepipeline";
pub const DETAIL_TYPE: &str = "CodePipeline Action Execution State Change";
/// The only state that wakes the poller: the job is queued as the action
/// starts. The rule (bootstrap/cpsf.yaml's, and the playground's) sends
/// no other.
pub const STARTED: &str = "STARTED";

/// What the worker reads of one action event.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionEvent {
    pub key: JobKey,
    pub state: String,
    pub owner: String,
    pub category: String,
    pub provider: String,
    pub version: String,
}

#[derive(Deserialize)]
struct Detail {
    pipeline: String,
    #[serde(rename = "execution-id")]
    execution_id: String,
    stage: String,
    action: String,
    state: String,
    #[serde(rename = "type")]
    action_type: TypeDetail,
}

#[derive(Deserialize)]
struct TypeDetail {
    owner: String,
    category: String,
    provider: String,
    /// The events reference's example shows a string ("1"); some typings
    /// say a number. Either is read, as text.
    version: serde_json::Value,
}

/// Whether `body` is a CodePipeline action event at all (cheap: the
/// events queue carries Step Functions' events too).
pub fn is_action_event(body: &str) -> bool {
    body.contains(DETAIL_TYPE)
}

/// Reads an EventBridge event as SQS delivers it (the event is the body).
pub fn parse(body: &str) -> Result<ActionEvent, String> {
    let envelope: super::event::Envelope<Detail> =
        serde_json::from_str(body).map_err(|e| format!("not an action event: {e}"))?;
    if envelope.source != SOURCE || envelope.detail_type != DETAIL_TYPE {
        return Err(format!(
            "not an action state change: {} / {}",
            envelope.source, envelope.detail_type
        ));
    }
    let d = envelope.detail;
    let version = match d.action_type.version {
        serde_json::Value::String(v) => v,
        serde_json::Value::Number(n) => n.to_string(),
        other => return Err(format!("unreadable action type version {other}")),
    };
    Ok(ActionEvent {
        key: JobKey {
            pipeline: d.pipeline,
            execution_id: d.execution_id,
            stage: d.stage,
            action: d.action,
        },
        state: d.state,
        owner: d.action_type.owner,
        category: d.action_type.category,
        provider: d.action_type.provider,
        version,
    })
}

impl ActionEvent {
    /// Whether the event is of the action type the worker polls for.
    /// Versions compare as numbers when both are ("1" and 1.0 alike).
    pub fn is_of(&self, id: &ActionTypeId) -> bool {
        let same_version = self.version == id.version
            || matches!(
                (self.version.parse::<f64>(), id.version.parse::<f64>()),
                (Ok(a), Ok(b)) if a == b
            );
        self.owner == id.owner.as_str()
            && self.category == id.category.as_str()
            && self.provider == id.provider
            && same_version
    }
}

/// What to do with one action event's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFate {
    /// Poll now, and delete the message: this worker has room for the job.
    Poll,
    /// This worker is full: hand the message back, for another worker.
    Leave,
    /// Delete it: unreadable, not a start, or not of this action type.
    Drop,
}

/// Decides a message's fate (pure): `of_ours` whether its action type is
/// the one polled for, `room` whether the poller has a free slot,
/// `receives` how often it was received. A message handed round
/// [`super::event::MAX_RECEIVES`] times is dropped: the safety-net poll of
/// some worker picks the job up.
pub fn dispose(
    event: &Result<ActionEvent, String>,
    of_ours: bool,
    room: bool,
    receives: u32,
) -> StartFate {
    match event {
        Ok(event) if event.state == STARTED && of_ours => {
            if room || receives >= super::event::MAX_RECEIVES {
                StartFate::Poll
            } else {
                StartFate::Leave
            }
        }
        _ => StartFate::Drop,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An action start as the CodePipeline user guide's action-level
    /// example shows it, for cpsf's action type.
    pub const STARTED_EVENT: &str = r#"{
      "version": "0", "id": "CWE-event-id",
      "detail-type": "CodePipeline Action Execution State Change",
      "source": "aws.codepipeline", "account": "123456789012",
      "time": "2017-04-22T03:31:47Z", "region": "us-east-1",
      "resources": ["arn:aws:codepipeline:us-east-1:123456789012:pipeline:myPipeline"],
      "detail": {
        "pipeline": "myPipeline", "version": 1,
        "execution-id": "01234567-0123-0123-0123-012345678901",
        "stage": "Prod", "action": "Deploy", "state": "STARTED",
        "region": "us-east-1",
        "type": {"owner": "Custom", "category": "Deploy",
                 "provider": "StepFunctionsDeploy", "version": "1"}
      }
    }"#;

    #[test]
    fn a_start_names_its_action_and_type() {
        let event = parse(STARTED_EVENT).unwrap();
        assert_eq!(event.key.pipeline, "myPipeline");
        assert_eq!(
            event.key.execution_id,
            "01234567-0123-0123-0123-012345678901"
        );
        assert_eq!(
            (event.key.stage.as_str(), event.key.action.as_str()),
            ("Prod", "Deploy")
        );
        assert_eq!(event.state, "STARTED");
        assert!(event.is_of(&crate::action_type::id()));
        assert!(!event.is_of(&crate::action_type::id_for("Other")));
        assert!(is_action_event(STARTED_EVENT));
    }

    #[test]
    fn a_numeric_type_version_is_the_same_version() {
        let numeric = STARTED_EVENT.replace(r#""version": "1"}"#, r#""version": 1}"#);
        assert_ne!(numeric, STARTED_EVENT);
        assert!(parse(&numeric).unwrap().is_of(&crate::action_type::id()));
        let two = STARTED_EVENT.replace(r#""version": "1"}"#, r#""version": "2"}"#);
        assert!(!parse(&two).unwrap().is_of(&crate::action_type::id()));
    }

    #[test]
    fn other_events_are_not_action_starts() {
        let sfn = crate::events::event::tests::SUCCEEDED;
        assert!(!is_action_event(sfn));
        assert!(parse(sfn).is_err());
        let forged = STARTED_EVENT.replace("aws.codepipeline", "my.app");
        assert!(parse(&forged).is_err());
        assert!(parse("not json").is_err());
    }

    #[test]
    fn only_starts_of_our_type_wake_and_a_full_worker_leaves_them() {
        let started = parse(STARTED_EVENT);
        assert_eq!(dispose(&started, true, true, 1), StartFate::Poll);
        assert_eq!(dispose(&started, false, true, 1), StartFate::Drop);
        assert_eq!(dispose(&started, true, false, 1), StartFate::Leave);
        let worn = super::super::event::MAX_RECEIVES;
        assert_eq!(dispose(&started, true, false, worn), StartFate::Poll);
        let succeeded = parse(&STARTED_EVENT.replace("STARTED", "SUCCEEDED"));
        assert_eq!(dispose(&succeeded, true, true, 1), StartFate::Drop);
        assert_eq!(dispose(&Err("junk".into()), true, true, 1), StartFate::Drop);
    }
}
