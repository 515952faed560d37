//! delete-stack: removes a stack that holds nothing worth keeping — its
//! first create failed (and the input allows it), or a CREATE change set
//! never executed left it empty in REVIEW_IN_PROGRESS — so it can be created
//! again, and waits until it is gone.

use super::TaskContext;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::activity::lease::Lease;
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, lease: &Lease, input: &TaskInput) -> Result<Value, TaskError> {
    let name = &input.deploy.stack_name;
    lease.confirm("deleting the stack").await?;
    ctx.cfn
        .delete_stack()
        .stack_name(name)
        .set_role_arn(input.deploy.role_arn.clone())
        .client_request_token(input.token("delete"))
        .send()
        .await
        .map_err(|e| TaskError::from_sdk("DeleteStack", e))?;
    let gone = ctx
        .watch(name, |found| {
            let status = found.and_then(|s| s.stack_status()).map(|s| s.as_str().to_string());
            match status.as_deref() {
                None | Some("DELETE_COMPLETE") => Some(Ok(())),
                Some("DELETE_FAILED") => Some(Err(TaskError::new(
                    "Cpsf.StackNotRecoverable",
                    format!("stack {name} could not be deleted (DELETE_FAILED); delete it in the console"),
                ))),
                Some(_) => None,
            }
        })
        .await?;
    match gone {
        Some(result) => result.map(|()| json!({"deleted": name})),
        None => Err(TaskError::unavailable(format!(
            "stack {name} was still being deleted when the wait cap passed"
        ))),
    }
}
