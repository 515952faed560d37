//! CloudFormation stacks: what a status means (pure), and the describe
//! calls every handler shares.

use crate::activity::error::TaskError;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{Stack, StackEvent};
use serde_json::{Map, Value, json};

/// What a stack's status means for a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackState {
    /// No stack (or a deleted one): create it.
    Absent,
    /// Stable and updatable.
    Stable,
    /// Its first create failed (ROLLBACK_COMPLETE; fakecloud: CREATE_FAILED):
    /// it cannot be updated, only deleted and created again.
    FirstCreateFailed,
    /// REVIEW_IN_PROGRESS: made by a CREATE change set that was never
    /// executed. It holds no resources ("the stack is in the
    /// REVIEW_IN_PROGRESS state … with no resources", user guide,
    /// "Create a change set"), so it can be deleted and created.
    Unexecuted,
    /// An operation is running.
    Busy,
    /// Stuck in a failed state that needs a person.
    Broken,
}

pub fn classify(status: Option<&str>) -> StackState {
    match status {
        None | Some("DELETE_COMPLETE") => StackState::Absent,
        Some(
            "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE" | "IMPORT_COMPLETE",
        )
        | Some("IMPORT_ROLLBACK_COMPLETE") => StackState::Stable,
        Some("ROLLBACK_COMPLETE" | "CREATE_FAILED") => StackState::FirstCreateFailed,
        Some("REVIEW_IN_PROGRESS") => StackState::Unexecuted,
        Some(s) if s.ends_with("_IN_PROGRESS") => StackState::Busy,
        Some(_) => StackState::Broken,
    }
}

/// Where a stack operation stands, for the wait handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Running,
    Succeeded,
    Failed,
}

pub fn progress(status: &str) -> Progress {
    match status {
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE" => Progress::Succeeded,
        s if s.ends_with("_IN_PROGRESS") => Progress::Running,
        _ => Progress::Failed,
    }
}

/// The stack, or None if it does not exist.
pub async fn describe(cfn: &Client, name: &str) -> Result<Option<Stack>, TaskError> {
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(output) => Ok(output.stacks().first().cloned()),
        Err(error)
            if error
                .as_service_error()
                .and_then(|e| e.meta().message())
                .is_some_and(|m| m.contains("does not exist")) =>
        {
            Ok(None)
        }
        Err(error) => Err(TaskError::from_sdk("DescribeStacks", error)).map_err(|e| match e.name {
            // A ValidationError here is not about a template.
            "Cpsf.TemplateInvalid" => TaskError::unavailable(e.cause),
            _ => e,
        }),
    }
}

/// The state machine's output: `{stackId, stackName, stackStatus, outputs,
/// changes, summary}`; the worker shows `summary` in the pipeline.
pub fn summary(stack: &Stack, changes: &[Value], what: &str) -> Value {
    let outputs: Map<String, Value> = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), json!(o.output_value()?))))
        .collect();
    json!({
        "stackId": stack.stack_id(),
        "stackName": stack.stack_name(),
        "stackStatus": stack.stack_status().map(|s| s.as_str()),
        "outputs": outputs,
        "changes": changes,
        "summary": what,
    })
}

/// Why the operation that started at `since` (epoch seconds) failed: its
/// earliest failed resource event ("Queue (AWS::SQS::Queue) CREATE_FAILED:
/// reason"), or else the stack's own failed event's reason.
pub async fn first_failure(
    cfn: &Client,
    name: &str,
    since: f64,
) -> Result<Option<String>, TaskError> {
    let mut events = Vec::new();
    let mut token = None;
    // Events come newest first; stop paging at the operation's start.
    loop {
        let page = cfn
            .describe_stack_events()
            .stack_name(name)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| {
                TaskError::unavailable(format!("DescribeStackEvents: {}", e.into_service_error()))
            })?;
        let before_start = page.stack_events().iter().any(|e| seconds(e) + 1.0 < since);
        events.extend(page.stack_events().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() || before_start {
            break;
        }
    }
    Ok(explain_failure(&events, name, since))
}

fn seconds(event: &StackEvent) -> f64 {
    event.timestamp().map_or(0.0, |t| t.as_secs_f64())
}

/// Picks the explanation from events (newest first); pure.
pub fn explain_failure(events: &[StackEvent], name: &str, since: f64) -> Option<String> {
    let failed: Vec<&StackEvent> = events
        .iter()
        .filter(|e| seconds(e) + 1.0 >= since)
        .filter(|e| {
            e.resource_status()
                .is_some_and(|s| s.as_str().ends_with("_FAILED"))
        })
        .collect();
    let is_stack = |e: &StackEvent| e.logical_resource_id() == Some(name);
    if let Some(resource) = failed.iter().rev().find(|e| !is_stack(e)) {
        return Some(format!(
            "{} ({}) {}: {}",
            resource.logical_resource_id().unwrap_or("?"),
            resource.resource_type().unwrap_or("?"),
            resource
                .resource_status()
                .map(|s| s.as_str())
                .unwrap_or_default(),
            resource
                .resource_status_reason()
                .unwrap_or("no reason given")
        ));
    }
    failed
        .iter()
        .rev()
        .find(|e| is_stack(e))
        .and_then(|e| e.resource_status_reason().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_meaning() {
        let table = [
            (None, StackState::Absent),
            (Some("DELETE_COMPLETE"), StackState::Absent),
            (Some("CREATE_COMPLETE"), StackState::Stable),
            (Some("UPDATE_COMPLETE"), StackState::Stable),
            (Some("UPDATE_ROLLBACK_COMPLETE"), StackState::Stable),
            (Some("ROLLBACK_COMPLETE"), StackState::FirstCreateFailed),
            (Some("CREATE_FAILED"), StackState::FirstCreateFailed),
            (Some("UPDATE_IN_PROGRESS"), StackState::Busy),
            (Some("REVIEW_IN_PROGRESS"), StackState::Unexecuted),
            (Some("DELETE_FAILED"), StackState::Broken),
            (Some("UPDATE_ROLLBACK_FAILED"), StackState::Broken),
        ];
        for (status, expected) in table {
            assert_eq!(classify(status), expected, "{status:?}");
        }
    }

    fn event(at: i64, id: &str, status: &str, reason: &str) -> StackEvent {
        StackEvent::builder()
            .timestamp(aws_smithy_types::DateTime::from_secs(at))
            .logical_resource_id(id)
            .resource_type(if id == "app" {
                "AWS::CloudFormation::Stack"
            } else {
                "AWS::SQS::Queue"
            })
            .resource_status(aws_sdk_cloudformation::types::ResourceStatus::from(status))
            .resource_status_reason(reason)
            .build()
    }

    #[test]
    fn the_earliest_failed_resource_of_this_operation_explains() {
        // Newest first, as DescribeStackEvents returns them.
        let aws = [
            event(30, "app", "ROLLBACK_COMPLETE", ""),
            event(20, "Topic", "CREATE_FAILED", "Resource creation cancelled"),
            event(
                19,
                "Queue",
                "CREATE_FAILED",
                "VisibilityTimeout must be a number",
            ),
            event(5, "Old", "CREATE_FAILED", "an earlier deploy"),
        ];
        assert_eq!(
            explain_failure(&aws, "app", 10.0).as_deref(),
            Some("Queue (AWS::SQS::Queue) CREATE_FAILED: VisibilityTimeout must be a number")
        );
        // fakecloud: only the stack's own event, whose reason names the resource.
        let fakecloud = [event(
            20,
            "app",
            "CREATE_FAILED",
            "Failed to create resource Queue: bad value",
        )];
        assert_eq!(
            explain_failure(&fakecloud, "app", 10.0).as_deref(),
            Some("Failed to create resource Queue: bad value")
        );
        assert_eq!(
            explain_failure(&aws[3..], "app", 10.0),
            None,
            "older failures are not this deploy's"
        );
    }

    #[test]
    fn progress_of_an_operation() {
        assert_eq!(progress("CREATE_IN_PROGRESS"), Progress::Running);
        assert_eq!(
            progress("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
            Progress::Running
        );
        assert_eq!(progress("UPDATE_COMPLETE"), Progress::Succeeded);
        assert_eq!(progress("ROLLBACK_COMPLETE"), Progress::Failed);
        assert_eq!(progress("UPDATE_ROLLBACK_COMPLETE"), Progress::Failed);
        assert_eq!(progress("CREATE_FAILED"), Progress::Failed);
    }
}
