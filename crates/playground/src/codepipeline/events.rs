//! The local service's action events: as CodePipeline does, an "Action
//! Execution State Change" event for each action that starts, succeeds or
//! fails, with the detail the CodePipeline user guide documents
//! ("Monitoring CodePipeline events", action-level events): `pipeline`,
//! `version`, `execution-id`, `stage`, `action`, `state`, `region` and
//! `type` {`owner`, `category`, `provider`, `version`}; the pipeline's ARN
//! in `resources`.
//!
//! # Why the source is not `aws.codepipeline` on the playground
//!
//! EventBridge refuses PutEvents entries whose source starts with `aws.`
//! from anyone but AWS itself (PutEvents: `NotAuthorizedForSourceException`),
//! and MiniStack does the same. So the service puts its events under
//! [`PLAYGROUND_SOURCE`], and the playground's rule (`events_queue.rs`)
//! matches the bootstrap's pattern with that one source and, with an input
//! transformer, hands the queue the event as AWS delivers it: source
//! `aws.codepipeline`, every other field as put. The worker reads only
//! what AWS would send (docs/emulators.md).

use super::store::{ActionRun, ExecutionRecord};
use serde_json::{Value, json};

/// The source the local service puts its events under.
pub const PLAYGROUND_SOURCE: &str = "cpsf.playground.codepipeline";
pub const DETAIL_TYPE: &str = "CodePipeline Action Execution State Change";

/// One event to put: its detail and resources.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionEvent {
    pub detail: Value,
    pub resources: Vec<String>,
}

/// The event of `run` (of `exec`) reaching `state` (STARTED, SUCCEEDED,
/// FAILED, CANCELED).
pub fn action_event(
    exec: &ExecutionRecord,
    run: &ActionRun,
    state: &str,
    region: &str,
    pipeline_arn: String,
) -> ActionEvent {
    let kind = &run.action_type_id;
    ActionEvent {
        detail: json!({
            "pipeline": exec.pipeline_name,
            "version": exec.declaration.version.unwrap_or(1),
            "execution-id": exec.id,
            "stage": run.stage_name,
            "action": run.action_name,
            "state": state,
            "region": region,
            "type": {
                "owner": kind.owner,
                "category": kind.category,
                "provider": kind.provider,
                "version": kind.version,
            },
        }),
        resources: vec![pipeline_arn],
    }
}

/// The rule's input transformer that turns the playground's event back
/// into AWS's envelope (EventBridge user guide, "Amazon EventBridge input
/// transformation"): the paths it reads, and the template.
pub fn as_aws_delivers() -> (Vec<(&'static str, &'static str)>, String) {
    let paths = vec![
        ("id", "$.id"),
        ("time", "$.time"),
        ("account", "$.account"),
        ("region", "$.region"),
        ("resources", "$.resources"),
        ("detail", "$.detail"),
    ];
    let template = format!(
        r#"{{"version": "0", "id": <id>, "detail-type": "{DETAIL_TYPE}", "source": "aws.codepipeline", "account": <account>, "time": <time>, "region": <region>, "resources": <resources>, "detail": <detail>}}"#
    );
    (paths, template)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worker reads this shape: the playground's events and its
    /// reader agree on every field name.
    #[test]
    fn the_template_and_detail_carry_what_the_worker_reads() {
        let (paths, template) = as_aws_delivers();
        assert_eq!(paths.len(), 6);
        assert!(template.contains(r#""source": "aws.codepipeline""#));
        assert_eq!(DETAIL_TYPE, cpsf_worker::events::action::DETAIL_TYPE);
        let rendered = template
            .replace("<id>", "\"i\"")
            .replace("<account>", "\"123456789012\"")
            .replace("<time>", "\"2026-12-07T00:00:00Z\"")
            .replace("<region>", "\"us-east-1\"")
            .replace(
                "<resources>",
                "[\"arn:aws:codepipeline:us-east-1:123456789012:p\"]",
            )
            .replace(
                "<detail>",
                &json!({
                    "pipeline": "p", "version": 1, "execution-id": "e",
                    "stage": "Deploy", "action": "Deploy", "state": "STARTED",
                    "region": "us-east-1",
                    "type": {"owner": "Custom", "category": "Deploy",
                             "provider": "StepFunctionsDeploy", "version": "1"}
                })
                .to_string(),
            );
        let event = cpsf_worker::events::action::parse(&rendered).unwrap();
        assert!(event.is_of(&cpsf_worker::action_type::id()));
        assert_eq!(event.key.execution_id, "e");
    }
}
