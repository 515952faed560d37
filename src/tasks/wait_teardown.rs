//! wait-teardown: blocks (heartbeats are the runner's) until the
//! environment's stack is deleted, or the wait cap passes and the state
//! machine asks again. A failed delete names the resource that would not go.

use super::TaskContext;
use super::error::TaskError;
use super::input::TaskInput;
use super::stack;
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, input: &TaskInput) -> Result<Value, TaskError> {
    let name = &input.deploy.stack_name;
    let environment = input
        .environment()
        .map(|e| e.name.clone())
        .unwrap_or_default();
    let operation = input.deploy.stack_operation.clone().unwrap_or_default();
    let id = input
        .deploy
        .check
        .as_ref()
        .and_then(|c| c.stack_id.clone())
        .unwrap_or_else(|| name.clone());
    // By id, a deleted stack is still described, as DELETE_COMPLETE; by
    // name it no longer exists (DescribeStacks, CloudFormation API
    // reference): both are gone.
    let ended = ctx
        .watch(&id, |found| {
            let status = found.and_then(|s| s.stack_status()).map(|s| s.as_str());
            match status {
                None | Some("DELETE_COMPLETE") => Some(None),
                Some("DELETE_FAILED") => Some(Some("DELETE_FAILED")),
                Some(_) => None,
            }
        })
        .await?;
    match ended {
        None => Ok(json!({"gone": false})),
        Some(None) => Ok(json!({
            "gone": true,
            "result": super::check_teardown::result(name, &environment, Some(&id), "deleted"),
        })),
        Some(Some(status)) => {
            let reason = stack::first_failure(&ctx.cfn, name, operation.started_at)
                .await?
                .unwrap_or_else(|| "no failed resource event was found".into());
            Err(TaskError::new(
                "Cpsf.StackFailed",
                format!(
                    "environment {environment}: stack {name} is {status}: {reason}. Fix what \
                     holds the resource (e.g. empty the bucket), then tear it down again"
                ),
            ))
        }
    }
}
