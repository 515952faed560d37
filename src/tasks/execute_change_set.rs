//! execute-change-set: runs the change set a person approved
//! (RequestApproval's decision is in `$.decision`), with the same
//! execution token UpdateStack or CreateStack would have used, so a
//! redelivered task executes it once. Hands WaitForStack what it needs,
//! and the decision for the deploy's result.

use super::TaskContext;
use super::change_set;
use super::error::TaskError;
use super::input::TaskInput;
use super::lease::Lease;
use aws_sdk_cloudformation::types::ChangeSetStatus;
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, lease: &Lease, input: &TaskInput) -> Result<Value, TaskError> {
    let request = input
        .deploy
        .stack_operation
        .as_ref()
        .and_then(|o| o.approval.clone())
        .ok_or_else(|| {
            TaskError::input("ExecuteChangeSet ran with no approval request in $.stackOperation")
        })?;
    let name = &input.deploy.stack_name;
    let started_at = super::epoch_now();
    let described = change_set::settle(ctx, name, &request.change_set).await?;
    if described.status() != Some(&ChangeSetStatus::CreateComplete) {
        return Err(TaskError::new(
            "Cpsf.ChangeSetGone",
            format!(
                "the approved change set {} is {}: it cannot be executed (was it deleted, or \
                 did the stack change while it waited?); run the pipeline again",
                request.change_set,
                described.status().map_or("gone", |s| s.as_str())
            ),
        ));
    }
    if !change_set::executed(&described) {
        lease.confirm("executing the approved change set").await?;
        change_set::execute(&ctx.cfn, name, &request.change_set, input.token("execute")).await?;
    }
    let changes: Vec<Value> = change_set::changes_of(&described)
        .iter()
        .map(|c| json!(c))
        .collect();
    Ok(json!({
        "changed": true,
        "changes": changes,
        "stackId": described.stack_id(),
        "startedAt": started_at,
        "decision": input.deploy.decision,
    }))
}
