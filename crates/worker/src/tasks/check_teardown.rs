//! check-teardown: the first state of `"operation": "delete"` (issue 19).
//! Is the environment's stack there, and may cpsf delete it
//! (`environments::teardown`)? A stack that is not there is "already gone":
//! a teardown run twice succeeds twice.

use super::TaskContext;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::cloudformation::stack;
use crate::environments::spec::Operation;
use crate::environments::{tags, teardown};
use aws_sdk_cloudformation::types::Stack;
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
    Ok(match judge(ctx, &environment.name, name).await? {
        None => json!({
            "next": "gone",
            "result": result(name, &environment.name, None, "was already gone"),
        }),
        Some(stack) => json!({
            "next": "delete",
            "stackId": stack.stack_id(),
            "stackStatus": stack.stack_status().map(|s| s.as_str()),
        }),
    })
}

/// Stack `name` as CloudFormation describes it now, judged by the
/// teardown rule for environment `environment` under the context's stack
/// prefix: the stack to delete, None when it is gone, or the refusal
/// (`teardown::NOT_AN_ENVIRONMENT`, `PROTECTED`, `BUSY`). `cpsf
/// environments prune` judges each stack with it just before its delete.
pub async fn judge(
    ctx: &TaskContext,
    environment: &str,
    name: &str,
) -> Result<Option<Stack>, TaskError> {
    let found = stack::describe(&ctx.cfn, name).await?;
    let stamp = found.as_ref().and_then(tags::of_stack);
    let facts = found
        .as_ref()
        .map(|s| teardown::Found::of(name, s, stamp.as_ref()));
    match teardown::decide(environment, ctx.stack_prefix.as_deref(), facts.as_ref()) {
        Ok(teardown::Next::Gone) => Ok(None),
        Ok(teardown::Next::Delete) => Ok(found),
        Err(refused) => Err(TaskError::new(refused.error, refused.why)),
    }
}

/// The stack CheckTeardown found (`$.check.stackId`): DeleteEnvironment
/// deletes it and WaitForTeardown follows it by that unique id, so a
/// stack of the same name made since is never the one deleted or waited
/// on. Its name when the input carries no id.
pub fn checked_stack(input: &TaskInput) -> String {
    input
        .deploy
        .check
        .as_ref()
        .and_then(|c| c.stack_id.clone())
        .unwrap_or_else(|| input.deploy.stack_name.clone())
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
