//! wait-stack: blocks until the stack is stable (heartbeats are the
//! runner's), or until the wait cap passes and the state machine loops.
//! A failure names the first resource that failed and why.

use super::TaskContext;
use super::error::TaskError;
use super::input::TaskInput;
use super::stack::{self, Progress};
use aws_sdk_cloudformation::types::Stack;
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, input: &TaskInput) -> Result<Value, TaskError> {
    let name = &input.deploy.stack_name;
    let operation = input.deploy.operation.clone().unwrap_or_default();
    let Some(found) = settle(ctx, name, operation.started_at).await? else {
        return Ok(json!({"stable": false}));
    };
    let status = found.stack_status().map(|s| s.as_str()).unwrap_or_default();
    let what = match (status, operation.changes.len()) {
        ("CREATE_COMPLETE", _) => "created".to_string(),
        (_, 1) => "updated: 1 change".to_string(),
        (_, n) => format!("updated: {n} changes"),
    };
    Ok(json!({"stable": true, "result": stack::summary(&found, &operation.changes, &what)}))
}

/// Waits until stack `name` is stable: the stack once its operation (started
/// at `since`, epoch seconds) succeeded, `None` if the context's wait cap
/// passed first, a `Cpsf.StackFailed` error naming the first failed resource
/// if it failed. `cpsf bootstrap` waits on its own stack with it too.
pub async fn settle(ctx: &TaskContext, name: &str, since: f64) -> Result<Option<Stack>, TaskError> {
    let ended = ctx
        .watch(name, |found| {
            let found = found?;
            let status = found.stack_status()?.as_str().to_string();
            match stack::progress(&status) {
                Progress::Running => None,
                _ => Some(found.clone()),
            }
        })
        .await?;
    let Some(found) = ended else {
        return Ok(None);
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
