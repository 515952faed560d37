//! wait-stack: blocks until the stack is stable (heartbeats are the
//! runner's), or until the wait cap passes and the state machine loops.
//! A failure names the first resource that failed and why.

use super::TaskContext;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::cloudformation::stack::{self, Progress};
use aws_sdk_cloudformation::types::Stack;
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, input: &TaskInput) -> Result<Value, TaskError> {
    let name = &input.deploy.stack_name;
    let operation = input.deploy.stack_operation.clone().unwrap_or_default();
    let settled = settle(ctx, name, operation.started_at).await;
    let Some(found) = settled.map_err(|e| which_path(e, input))? else {
        return Ok(json!({"stable": false}));
    };
    let status = found.stack_status().map(|s| s.as_str()).unwrap_or_default();
    let before = input
        .deploy
        .check
        .as_ref()
        .and_then(|c| c.stack_status.as_deref());
    let mut what = what_happened(status, before, operation.changes.len());
    if let Some(retained) = retained(&operation.changes) {
        what.push_str(&format!("; {retained}"));
    }
    if let Some(codedeploy) = &operation.codedeploy {
        what.push_str(&format!("; {codedeploy}"));
    }
    let approved = operation
        .decision
        .as_ref()
        .and_then(crate::approval::decision::said);
    if let Some(approved) = &approved {
        what.push_str(&format!("; {approved}"));
    }
    let mut result = stack::summary(&found, &operation.changes, &what);
    super::canary::record(&mut result, input)?;
    if let Some(decision) = operation.decision.filter(|_| approved.is_some()) {
        result["approval"] = decision;
    }
    if let Some(sources) = &operation.resolved {
        crate::cloudformation::outputs::annotate(&mut result, sources);
    }
    Ok(json!({"stable": true, "result": result}))
}

/// A stack rolled back under rollback triggers (`bake.rollback`,
/// `targets::rollback`) says that CloudFormation's own triggers are the
/// path that rolled it back, and when they watch.
fn which_path(mut error: TaskError, input: &TaskInput) -> TaskError {
    if let Some(triggers) = &input.deploy.rollback_triggers
        && error.name == "Cpsf.StackFailed"
        && error.cause.contains("ROLLBACK_COMPLETE")
    {
        error.cause.push_str(&format!(
            " (rolled back by CloudFormation: bake.rollback made the bake's alarms this stack's \
             rollback triggers, watched during the operation and {} minute(s) after it)",
            triggers.monitoring_minutes
        ));
    }
    error
}

/// The deploy's result in a few words, from the stack's status now and
/// before the deploy (CheckStack's `stackStatus`).
pub fn what_happened(status: &str, before: Option<&str>, changes: usize) -> String {
    match (status, before, changes) {
        ("CREATE_COMPLETE", Some("REVIEW_IN_PROGRESS"), _) => "created, in place of an empty \
            stack (REVIEW_IN_PROGRESS) that a change set never executed had left"
            .to_string(),
        ("CREATE_COMPLETE", Some("ROLLBACK_COMPLETE" | "CREATE_FAILED"), _) => {
            "created again, after deleting the failed first create".to_string()
        }
        ("CREATE_COMPLETE", _, _) => "created".to_string(),
        // An executed change set with no resource changes changed what
        // the stack holds besides its resources (see
        // `change_set::no_changes`).
        (_, _, 0) => "updated: outputs, parameters or tags only (no resource changes)".to_string(),
        (_, _, 1) => "updated: 1 change".to_string(),
        (_, _, n) => format!("updated: {n} changes"),
    }
}

/// The removals CloudFormation left in place (DeletionPolicy Retain), in
/// words: "retained, no longer in the stack: OldVersion
/// (AWS::Lambda::Version)"; None when there were none.
fn retained(changes: &[Value]) -> Option<String> {
    let named: Vec<String> = changes
        .iter()
        .filter_map(|c| serde_json::from_value::<crate::base::change::Change>(c.clone()).ok())
        .filter(|c| c.retained())
        .map(|c| format!("{} ({})", c.logical_id, c.resource_type))
        .collect();
    (!named.is_empty()).then(|| format!("retained, no longer in the stack: {}", named.join(", ")))
}

/// Waits until stack `name` is stable: the stack once its operation (started
/// at `since`, epoch seconds) succeeded, `None` if the context's wait cap
/// passed first, a `Cpsf.StackFailed` error naming the first failed resource
/// if it failed. `cpsf bootstrap` waits on its own stack with it too.
pub async fn settle(ctx: &TaskContext, name: &str, since: f64) -> Result<Option<Stack>, TaskError> {
    // A stack that does not exist will not become stable: it was deleted
    // (by hand, or by another pipeline) during the deploy. DescribeStacks by
    // name answers "Stack with id … does not exist" for a deleted stack
    // (CloudFormation API reference, DescribeStacks), so fail now, naming
    // it, rather than wait out the cap and be asked again.
    let ended = ctx
        .watch(name, |found| {
            let Some(found) = found else {
                return Some(None);
            };
            let status = found.stack_status()?.as_str().to_string();
            match stack::progress(&status) {
                Progress::Running => None,
                _ => Some(Some(found.clone())),
            }
        })
        .await?;
    let Some(found) = ended else {
        return Ok(None);
    };
    let Some(found) = found else {
        return Err(TaskError::new(
            "Cpsf.StackGone",
            format!(
                "stack {name} does not exist: it was deleted while this deploy waited for it \
                 (deploy again to create it anew)"
            ),
        ));
    };
    let status = found.stack_status().map(|s| s.as_str()).unwrap_or_default();
    if stack::progress(status) == Progress::Succeeded {
        return Ok(Some(found));
    }
    let reason = stack::first_failure(&ctx.cfn, name, since)
        .await?
        .or_else(|| found.stack_status_reason().map(str::to_string))
        .unwrap_or_else(|| "no failed resource event was found".into());
    Err(TaskError::new(
        "Cpsf.StackFailed",
        format!("stack {name} is {status}: {reason}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::stack_is;
    use aws_sdk_cloudformation::Client;
    use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError;
    use aws_sdk_cloudformation::types::StackStatus;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;
    use std::time::Duration;

    /// CloudFormation's answer when DescribeStacks is called too often,
    /// after the SDK's own retries are spent.
    fn throttled(times: usize) -> aws_smithy_mocks::Rule {
        mock!(Client::describe_stacks)
            .sequence()
            .error(|| {
                DescribeStacksError::generic(
                    ErrorMetadata::builder()
                        .code("Throttling")
                        .message("Rate exceeded")
                        .build(),
                )
            })
            .times(times)
            .build()
    }

    #[test]
    fn a_stack_rolled_back_under_rollback_triggers_says_cloudformation_did_it() {
        let input = |triggers: &str| {
            TaskInput::parse(&format!(
                r#"{{"deploy": {{"stackName": "app"{triggers}}}, "executionArn": "arn:e"}}"#
            ))
            .unwrap()
        };
        let failed = || {
            TaskError::new(
                "Cpsf.StackFailed",
                "stack app is UPDATE_ROLLBACK_COMPLETE: Rollback triggered",
            )
        };
        let with = input(r#", "rollbackTriggers": {"alarms": ["a"], "monitoringMinutes": 5}"#);
        let said = which_path(failed(), &with).cause;
        assert!(said.contains("rolled back by CloudFormation"), "{said}");
        assert!(said.contains("5 minute(s) after it"), "{said}");
        assert_eq!(which_path(failed(), &input("")).cause, failed().cause);
    }

    #[test]
    fn the_result_says_what_the_deploy_did_to_the_stack() {
        assert_eq!(what_happened("CREATE_COMPLETE", None, 0), "created");
        assert!(
            what_happened("CREATE_COMPLETE", Some("REVIEW_IN_PROGRESS"), 3)
                .contains("a change set never executed")
        );
        assert!(
            what_happened("CREATE_COMPLETE", Some("ROLLBACK_COMPLETE"), 2)
                .starts_with("created again")
        );
        assert_eq!(
            what_happened("UPDATE_COMPLETE", Some("CREATE_COMPLETE"), 1),
            "updated: 1 change"
        );
        assert_eq!(
            what_happened("UPDATE_COMPLETE", Some("UPDATE_COMPLETE"), 2),
            "updated: 2 changes"
        );
        assert_eq!(
            what_happened("UPDATE_COMPLETE", Some("UPDATE_COMPLETE"), 0),
            "updated: outputs, parameters or tags only (no resource changes)"
        );
    }

    #[test]
    fn the_result_names_the_removals_cloudformation_retained() {
        let changes = [
            json!({"action": "Remove", "logicalId": "OldVersion",
                   "resourceType": "AWS::Lambda::Version", "policyAction": "Retain"}),
            json!({"action": "Add", "logicalId": "NewVersion",
                   "resourceType": "AWS::Lambda::Version"}),
        ];
        assert_eq!(
            retained(&changes).as_deref(),
            Some("retained, no longer in the stack: OldVersion (AWS::Lambda::Version)")
        );
        assert_eq!(retained(&changes[1..]), None);
    }

    #[tokio::test]
    async fn a_throttled_describe_is_retried_within_the_wait() {
        let (throttled, running, done) = (
            throttled(3),
            stack_is(StackStatus::UpdateInProgress),
            stack_is(StackStatus::UpdateComplete),
        );
        let cfn = mock_client!(
            aws_sdk_cloudformation,
            RuleMode::Sequential,
            [&throttled, &running, &done]
        );
        let ctx = crate::tasks::test_context(cfn, Duration::from_secs(30));
        let settled = settle(&ctx, "app", 0.0).await.unwrap().unwrap();
        assert_eq!(settled.stack_status(), Some(&StackStatus::UpdateComplete));
        assert_eq!(throttled.num_calls(), 3);
    }

    /// The stack was deleted during the deploy: DescribeStacks answers
    /// ValidationError "Stack with id app does not exist" (CloudFormation
    /// API reference, DescribeStacks). The wait fails at once, naming it,
    /// instead of polling until its one-hour cap.
    #[tokio::test]
    async fn a_stack_that_does_not_exist_fails_the_wait_at_once() {
        let gone = mock!(Client::describe_stacks).then_error(|| {
            DescribeStacksError::generic(
                ErrorMetadata::builder()
                    .code("ValidationError")
                    .message("Stack with id app does not exist")
                    .build(),
            )
        });
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&gone]);
        let ctx = crate::tasks::test_context(cfn, Duration::from_secs(3600));
        let waited = tokio::time::timeout(Duration::from_secs(5), settle(&ctx, "app", 0.0))
            .await
            .expect("the wait for a missing stack ended at once");
        let error = waited.unwrap_err();
        assert_eq!(error.name, "Cpsf.StackGone");
        assert!(
            error.cause.starts_with("stack app does not exist"),
            "{}",
            error.cause
        );
        assert_eq!(gone.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_stopping_worker_hands_the_wait_back_unfinished() {
        let running = stack_is(StackStatus::UpdateInProgress);
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&running]);
        let ctx = crate::tasks::test_context(cfn, Duration::from_secs(3600));
        let stopping = ctx.stopping.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            stopping.cancel();
        });
        let waited = tokio::time::timeout(Duration::from_secs(5), settle(&ctx, "app", 0.0)).await;
        assert_eq!(
            waited
                .expect("the wait ended when the worker stopped")
                .unwrap(),
            None
        );
        assert!(running.num_calls() >= 1);
    }
}
