//! check-stack: decides the operation from the stack's current status.

use super::TaskContext;
use super::error::TaskError;
use super::input::TaskInput;
use super::stack::{self, StackState};
use aws_sdk_cloudformation::types::{ChangeSetStatus, ExecutionStatus};
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, input: &TaskInput) -> Result<Value, TaskError> {
    // The first task: input that would fail later fails here, before any
    // change (every problem of `approval` at once).
    input.approval()?;
    let name = &input.deploy.stack_name;
    let found = stack::describe(&ctx.cfn, name).await?;
    let status = found
        .as_ref()
        .and_then(|s| s.stack_status())
        .map(|s| s.as_str().to_string());
    let in_use = match stack::classify(status.as_deref()) {
        StackState::Unexecuted => change_set_in_use(ctx, name).await?,
        _ => None,
    };
    let mut decided = decide(
        name,
        status.as_deref(),
        input.deploy.recreate_failed_stack,
        in_use.as_deref(),
    )?;
    if let Some(environment) = input.environment() {
        if let Some(stack) = found
            .as_ref()
            .filter(|_| status.as_deref() != Some("DELETE_COMPLETE"))
        {
            let stamp = crate::environments::tags::of_stack(stack);
            crate::environments::teardown::owned(&environment.name, name, stamp.as_ref())
                .map_err(|refused| TaskError::new(refused.error, refused.why))?;
        }
        // One clock for the deploy: every task stamps the same
        // `cpsf:deployed-at`, also when a task runs twice.
        decided["deployedAt"] = json!(super::epoch_now());
    }
    Ok(decided)
}

/// A change set of the stack being created or executed right now, if any:
/// then a REVIEW_IN_PROGRESS stack is another deploy's create under way,
/// not a leftover.
async fn change_set_in_use(ctx: &TaskContext, stack: &str) -> Result<Option<String>, TaskError> {
    let listed = ctx
        .cfn
        .list_change_sets()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| TaskError::from_sdk("ListChangeSets", e))?;
    Ok(listed
        .summaries()
        .iter()
        .find(|summary| {
            matches!(
                summary.status(),
                Some(ChangeSetStatus::CreatePending | ChangeSetStatus::CreateInProgress)
            ) || summary.execution_status() == Some(&ExecutionStatus::ExecuteInProgress)
        })
        .map(|summary| summary.change_set_name().unwrap_or("unnamed").to_string()))
}

/// `{"next": "create" | "update" | "recreate", "stackStatus": ...}`, or why
/// the stack cannot be deployed now. `change_set_in_use` names a change set
/// of a REVIEW_IN_PROGRESS stack that is being created or executed.
pub fn decide(
    name: &str,
    status: Option<&str>,
    recreate_allowed: bool,
    change_set_in_use: Option<&str>,
) -> Result<Value, TaskError> {
    let next = match stack::classify(status) {
        StackState::Absent => "create",
        StackState::Stable => "update",
        StackState::FirstCreateFailed if recreate_allowed => "recreate",
        StackState::FirstCreateFailed => {
            return Err(TaskError::new(
                "Cpsf.StackNotRecoverable",
                format!(
                    "stack {name} is {}: its first create failed, and such a stack cannot be updated. \
                     Set \"recreateFailedStack\": true in the deploy input to delete and create it again, \
                     or delete it yourself",
                    status.unwrap_or_default()
                ),
            ));
        }
        StackState::Unexecuted => match change_set_in_use {
            Some(change_set) => {
                return Err(TaskError::new(
                    "Cpsf.StackBusy",
                    format!(
                        "stack {name} is REVIEW_IN_PROGRESS and its change set {change_set} is \
                         being created or executed: another deploy is creating it"
                    ),
                ));
            }
            // Nothing to lose: it holds no resources. Deleted and created
            // without asking, and said so in the result.
            None => {
                return Ok(json!({
                    "next": "recreate",
                    "stackStatus": status,
                    "note": format!(
                        "stack {name} was REVIEW_IN_PROGRESS with no resources (a CREATE change \
                         set that was never executed): deleted, then created"
                    ),
                }));
            }
        },
        StackState::Busy => {
            return Err(TaskError::new(
                "Cpsf.StackBusy",
                format!(
                    "stack {name} is {}: another operation is running",
                    status.unwrap_or_default()
                ),
            ));
        }
        StackState::Broken => {
            return Err(TaskError::new(
                "Cpsf.StackNotRecoverable",
                format!(
                    "stack {name} is {}; fix it in the CloudFormation console (continue the rollback or delete it), then run the pipeline again",
                    status.unwrap_or_default()
                ),
            ));
        }
    };
    Ok(json!({"next": next, "stackStatus": status}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_the_operation_or_says_why_not() {
        let next = |status, allow| {
            decide("app", status, allow, None).map(|v| v["next"].as_str().unwrap().to_string())
        };
        assert_eq!(next(None, false).unwrap(), "create");
        assert_eq!(next(Some("UPDATE_COMPLETE"), false).unwrap(), "update");
        assert_eq!(next(Some("ROLLBACK_COMPLETE"), true).unwrap(), "recreate");
        let refused = next(Some("ROLLBACK_COMPLETE"), false).unwrap_err();
        assert_eq!(refused.name, "Cpsf.StackNotRecoverable");
        assert!(
            refused.cause.contains("\"recreateFailedStack\": true"),
            "{}",
            refused.cause
        );
        assert_eq!(
            next(Some("UPDATE_IN_PROGRESS"), false).unwrap_err().name,
            "Cpsf.StackBusy"
        );
        assert_eq!(
            next(Some("DELETE_FAILED"), true).unwrap_err().name,
            "Cpsf.StackNotRecoverable"
        );
    }

    /// A stack left by a CREATE change set never executed holds nothing:
    /// delete it and create, whatever recreateFailedStack says, and say so.
    #[test]
    fn an_unexecuted_change_sets_stack_is_recreated_unless_it_is_being_made() {
        let leftover = decide("app", Some("REVIEW_IN_PROGRESS"), false, None).unwrap();
        assert_eq!(leftover["next"], "recreate");
        assert!(
            leftover["note"]
                .as_str()
                .unwrap()
                .contains("never executed"),
            "{leftover}"
        );
        let busy = decide(
            "app",
            Some("REVIEW_IN_PROGRESS"),
            true,
            Some("cpsf-create-9"),
        )
        .unwrap_err();
        assert_eq!(busy.name, "Cpsf.StackBusy");
        assert!(busy.cause.contains("cpsf-create-9"), "{}", busy.cause);
    }
}
