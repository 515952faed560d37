//! check-teardown: the first state of `"operation": "delete"` (issue 19).
//! Is the environment's stack there, and may cpsf delete it
//! (`environments::teardown`)? A stack that is not there is "already gone":
//! a teardown run twice succeeds twice.

use super::TaskContext;
use super::error::TaskError;
use super::input::TaskInput;
use super::stack;
use crate::environments::spec::Operation;
use crate::environments::{tags, teardown};
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, input: &TaskInput) -> Result<Value, TaskError> {
    let environment = input
        .environment()
        .filter(|_| input.deploy.request.operation == Operation::Delete)
        .ok_or_else(|| {
            TaskError::input(
                "CheckTeardown runs for \"operation\": \"delete\" with an \"environment\"",
            )
        })?;
    let name = &input.deploy.stack_name;
    let found = stack::describe(&ctx.cfn, name).await?;
    let stamp = found.as_ref().and_then(tags::of_stack);
    let facts = found
        .as_ref()
        .map(|s| teardown::Found::of(name, s, stamp.as_ref()));
    let next = teardown::decide(
        &environment.name,
        ctx.stack_prefix.as_deref(),
        facts.as_ref(),
    )
    .map_err(|refused| TaskError::new(refused.error, refused.why))?;
    Ok(match next {
        teardown::Next::Gone => json!({
            "next": "gone",
            "result": result(name, &environment.name, None, "was already gone"),
        }),
        teardown::Next::Delete => json!({
            "next": "delete",
            "stackId": found.as_ref().and_then(|s| s.stack_id()),
            "stackStatus": facts.map(|f| f.status),
        }),
    })
}

/// The execution's output for a teardown, in the shape of a deploy's
/// (`stack::summary`), so the worker reports both alike.
pub fn result(stack: &str, environment: &str, stack_id: Option<&str>, what: &str) -> Value {
    json!({
        "stackId": stack_id,
        "stackName": stack,
        "stackStatus": "DELETE_COMPLETE",
        "environment": environment,
        "outputs": {},
        "changes": [],
        "summary": format!("environment {environment} {what} (stack {stack})"),
    })
}
