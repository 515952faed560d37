//! check-stack: decides the operation from the stack's current status.

use super::TaskContext;
use super::error::TaskError;
use super::input::TaskInput;
use super::stack::{self, StackState};
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, input: &TaskInput) -> Result<Value, TaskError> {
    let name = &input.deploy.stack_name;
    let found = stack::describe(&ctx.cfn, name).await?;
    let status = found
        .as_ref()
        .and_then(|s| s.stack_status())
        .map(|s| s.as_str().to_string());
    decide(name, status.as_deref(), input.deploy.recreate_failed_stack)
}

/// `{"next": "create" | "update" | "recreate", "stackStatus": ...}`, or why
/// the stack cannot be deployed now.
pub fn decide(
    name: &str,
    status: Option<&str>,
    recreate_allowed: bool,
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
            decide("app", status, allow).map(|v| v["next"].as_str().unwrap().to_string())
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
}
