//! wait-teardown: blocks (heartbeats are the runner's) until the
//! environment's stack is deleted, or the wait cap passes and the state
//! machine asks again. A failed delete names the resource that would not go.

use super::TaskContext;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::cloudformation::stack;
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, input: &TaskInput) -> Result<Value, TaskError> {
    let name = &input.deploy.stack_name;
    let environment = input
        .environment()
        .map(|e| e.name.clone())
        .unwrap_or_default();
    let operation = input.deploy.stack_operation.clone().unwrap_or_default();
    let id = super::check_teardown::checked_stack(input);
    let gone = until_gone(ctx, &id, name, operation.started_at)
        .await
        .map_err(|mut e| {
            e.cause = format!("environment {environment}: {}", e.cause);
            e
        })?;
    if !gone {
        return Ok(json!({"gone": false}));
    }
    Ok(json!({
        "gone": true,
        "result": super::check_teardown::result(name, &environment, Some(&id), "deleted"),
    }))
}

/// Waits until stack `id` (named `name`, its delete started at `since`,
/// epoch seconds) is deleted: true once it is, false when the wait cap
/// passes first, `Cpsf.StackFailed` naming the resource that would not go
/// when the delete failed. `cpsf environments prune` waits with it too.
pub async fn until_gone(
    ctx: &TaskContext,
    id: &str,
    name: &str,
    since: f64,
) -> Result<bool, TaskError> {
    // By id, a deleted stack is still described, as DELETE_COMPLETE; by
    // name it no longer exists (DescribeStacks, CloudFormation API
    // reference): both are gone.
    let ended = ctx
        .watch(id, |found| {
            let status = found.and_then(|s| s.stack_status()).map(|s| s.as_str());
            match status {
                None | Some("DELETE_COMPLETE") => Some(Ok(())),
                Some("DELETE_FAILED") => Some(Err(())),
                Some(_) => None,
            }
        })
        .await?;
    match ended {
        None => Ok(false),
        Some(Ok(())) => Ok(true),
        Some(Err(())) => {
            let reason = stack::first_failure(&ctx.cfn, name, since)
                .await?
                .unwrap_or_else(|| "no failed resource event was found".into());
            Err(TaskError::new(
                "Cpsf.StackFailed",
                format!(
                    "stack {name} is DELETE_FAILED: {reason}. Fix what holds the resource \
                     (e.g. empty the bucket), then tear it down again"
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::stack_is;
    use aws_sdk_cloudformation::Client;
    use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
    use aws_sdk_cloudformation::types::{ResourceStatus, StackEvent, StackStatus};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::DateTime;
    use std::time::Duration;

    fn input() -> TaskInput {
        TaskInput::parse(
            r#"{"deploy": {"stackName": "app", "environment": "f", "operation": "delete",
                "check": {"next": "delete", "stackId": "arn:aws:cloudformation:us-east-1:1:stack/app-f/1"},
                "stackOperation": {"startedAt": 100.0}},
              "executionArn": "arn:e"}"#,
        )
        .unwrap()
    }

    /// DescribeStackEvents as CloudFormation answers for a bucket that
    /// was not empty: the resource's DELETE_FAILED, newest first.
    fn bucket_not_empty() -> aws_smithy_mocks::Rule {
        mock!(Client::describe_stack_events).then_output(|| {
            let event = |id: &str, kind: &str, status: ResourceStatus, reason: Option<&str>| {
                StackEvent::builder()
                    .stack_name("app-f")
                    .logical_resource_id(id)
                    .resource_type(kind)
                    .resource_status(status)
                    .set_resource_status_reason(reason.map(str::to_string))
                    .timestamp(DateTime::from_secs(200))
                    .build()
            };
            DescribeStackEventsOutput::builder()
                .stack_events(event(
                    "app-f",
                    "AWS::CloudFormation::Stack",
                    ResourceStatus::DeleteFailed,
                    Some("The following resource(s) failed to delete: [Uploads]. "),
                ))
                .stack_events(event(
                    "Uploads",
                    "AWS::S3::Bucket",
                    ResourceStatus::DeleteFailed,
                    Some("The bucket you tried to delete is not empty"),
                ))
                .build()
        })
    }

    #[tokio::test]
    async fn a_failed_delete_names_the_resource_that_would_not_go() {
        let (failed, events) = (stack_is(StackStatus::DeleteFailed), bucket_not_empty());
        let cfn = mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            [&failed, &events]
        );
        let ctx = crate::tasks::test_context(cfn, Duration::from_secs(30));
        let error = run(&ctx, &input()).await.unwrap_err();
        assert_eq!(error.name, "Cpsf.StackFailed");
        assert!(
            error
                .cause
                .contains("environment f: stack app-f is DELETE_FAILED"),
            "{}",
            error.cause
        );
        assert!(
            error.cause.contains("Uploads (AWS::S3::Bucket) DELETE_FAILED: The bucket you tried to delete is not empty"),
            "{}",
            error.cause
        );
    }

    #[tokio::test]
    async fn a_deleted_stack_is_gone_and_a_long_delete_hands_back() {
        let deleted = stack_is(StackStatus::DeleteComplete);
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&deleted]);
        let ctx = crate::tasks::test_context(cfn, Duration::from_secs(30));
        let done = run(&ctx, &input()).await.unwrap();
        assert_eq!(done["gone"], true);
        assert_eq!(
            done["result"]["summary"],
            "environment f deleted (stack app-f)"
        );
        let deleting = stack_is(StackStatus::DeleteInProgress);
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&deleting]);
        let ctx = crate::tasks::test_context(cfn, Duration::from_millis(50));
        assert_eq!(run(&ctx, &input()).await.unwrap(), json!({"gone": false}));
    }
}
