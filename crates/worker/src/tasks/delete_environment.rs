//! delete-environment: starts deleting the stack CheckTeardown found and
//! allowed (issue 19), by its unique id, so a stack of the same name made
//! since is never the one deleted. WaitForTeardown sees the delete through.

use super::TaskContext;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::activity::lease::Lease;
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, lease: &Lease, input: &TaskInput) -> Result<Value, TaskError> {
    let stack = super::check_teardown::checked_stack(input);
    lease.confirm("deleting the environment's stack").await?;
    let token = input.token("teardown");
    let started_at = delete(ctx, &stack, input.deploy.role_arn.clone(), Some(token)).await?;
    Ok(json!({"startedAt": started_at, "stackId": stack}))
}

/// Starts deleting stack `stack` (its unique id); returns when, in epoch
/// seconds. DeleteStack is idempotent by ClientRequestToken; without a
/// RoleARN CloudFormation uses the role the stack was deployed with
/// (CloudFormation API reference, DeleteStack). A protected stack fails
/// here with AWS's own ValidationError: never turned off.
pub async fn delete(
    ctx: &TaskContext,
    stack: &str,
    role_arn: Option<String>,
    token: Option<String>,
) -> Result<f64, TaskError> {
    let started_at = crate::base::clock::epoch_now();
    ctx.cfn
        .delete_stack()
        .stack_name(stack)
        .set_role_arn(role_arn)
        .set_client_request_token(token)
        .send()
        .await
        .map_err(|e| TaskError::from_sdk("DeleteStack", e))?;
    Ok(started_at)
}
