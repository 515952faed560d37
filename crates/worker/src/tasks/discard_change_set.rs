//! discard-change-set: after a rejection, a timeout or an approval request
//! that could not be sent (`$.refusal`), deletes the waiting change set,
//! and the empty stack a new stack's change set made (REVIEW_IN_PROGRESS:
//! no resources, CloudFormation user guide, "Create a change set"), then
//! fails with what happened, for the pipeline to show.

use super::TaskContext;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::activity::lease::Lease;
use crate::approval::decision::{REJECTED, TIMED_OUT};
use crate::cloudformation::change_set;
use crate::cloudformation::stack;

pub async fn run(ctx: &TaskContext, lease: &Lease, input: &TaskInput) -> Result<(), TaskError> {
    let request = input
        .deploy
        .stack_operation
        .as_ref()
        .and_then(|o| o.approval.clone());
    let refusal = input.deploy.refusal.clone().unwrap_or_default();
    if let Some(request) = &request {
        discard(ctx, lease, &input.deploy.stack_name, &request.change_set).await?;
    }
    let minutes = request.as_ref().map_or(0, |r| r.timeout_minutes);
    Err(why(&refusal.error, &refusal.cause, minutes))
}

/// Deletes change set `change_set` of stack `name`, and the stack too if
/// the change set was a new stack's (REVIEW_IN_PROGRESS: no resources).
pub async fn discard(
    ctx: &TaskContext,
    lease: &Lease,
    name: &str,
    change_set: &str,
) -> Result<(), TaskError> {
    lease.confirm("deleting the change set").await?;
    change_set::discard(&ctx.cfn, name, change_set).await;
    let empty = stack::describe(&ctx.cfn, name).await?.is_some_and(|s| {
        s.stack_status()
            .is_some_and(|s| s.as_str() == "REVIEW_IN_PROGRESS")
    });
    if empty {
        lease.confirm("deleting the empty stack").await?;
        ctx.cfn
            .delete_stack()
            .stack_name(name)
            .send()
            .await
            .map_err(|e| TaskError::from_sdk("DeleteStack", e))?;
    }
    Ok(())
}

/// The error the deploy fails with, from RequestApproval's.
pub fn why(error: &str, cause: &str, minutes: u32) -> TaskError {
    match error {
        REJECTED => TaskError::new(REJECTED, format!("{cause}; the change set was deleted")),
        // The state's own timeout (TimeoutSecondsPath), or the worker's
        // when the state machine has none (`approval::inbox`).
        "States.Timeout" | TIMED_OUT => TaskError::new(
            TIMED_OUT,
            format!(
                "approval timed out after {minutes} minute{}; the change set was deleted",
                if minutes == 1 { "" } else { "s" }
            ),
        ),
        _ => TaskError::new(
            "Cpsf.ApprovalUnavailable",
            format!(
                "the approval request could not be sent ({error}: {cause}); the change set was \
                 deleted. Is the state machine installed with an approvals queue (bootstrap's \
                 ApprovalsQueue), and may its role sqs:SendMessage there?"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_says_who_rejected_or_how_long_it_waited() {
        let rejected = why(REJECTED, "rejected by Ann: not before the launch", 60);
        assert_eq!(rejected.name, REJECTED);
        assert_eq!(
            rejected.cause,
            "rejected by Ann: not before the launch; the change set was deleted"
        );
        for error in ["States.Timeout", TIMED_OUT] {
            let late = why(error, "", 90);
            assert_eq!(late.name, TIMED_OUT);
            assert_eq!(
                late.cause,
                "approval timed out after 90 minutes; the change set was deleted"
            );
        }
        assert!(
            why("States.Timeout", "", 1)
                .cause
                .contains("after 1 minute;")
        );
        let unsent = why("SQS.QueueDoesNotExistException", "no queue", 60);
        assert_eq!(unsent.name, "Cpsf.ApprovalUnavailable");
        assert!(unsent.cause.contains("no queue"), "{}", unsent.cause);
    }
}
