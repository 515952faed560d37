//! wait-stack: blocks until the stack is stable (heartbeats are the
//! runner's), or until the wait cap passes and the state machine loops.
//! A failure names the first resource that failed and why.

use super::TaskContext;
use super::error::TaskError;
use super::input::TaskInput;
use super::stack::{self, Progress};
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, input: &TaskInput) -> Result<Value, TaskError> {
    let name = &input.deploy.stack_name;
    let operation = input.deploy.operation.clone().unwrap_or_default();
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
        return Ok(json!({"stable": false}));
    };
    let status = found.stack_status().map(|s| s.as_str()).unwrap_or_default();
    if stack::progress(status) == Progress::Succeeded {
        let what = match (status, operation.changes.len()) {
            ("CREATE_COMPLETE", _) => "created".to_string(),
            (_, 1) => "updated: 1 change".to_string(),
            (_, n) => format!("updated: {n} changes"),
        };
        return Ok(
            json!({"stable": true, "result": stack::summary(&found, &operation.changes, &what)}),
        );
    }
    let reason = stack::first_failure(&ctx.cfn, name, operation.started_at)
        .await?
        .or_else(|| found.stack_status_reason().map(str::to_string))
        .unwrap_or_else(|| "no failed resource event was found".into());
    Err(TaskError::new(
        "Cpsf.StackFailed",
        format!("stack {name} is {status}: {reason}"),
    ))
}
