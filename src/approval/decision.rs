//! One decision, kept and answered to Step Functions: the decision is
//! written first, only if none is there (`store.rs`), so the page, a
//! replayed POST, `cpsf approve` and the timeout sweep can race and only
//! one answers the task. Approval is SendTaskSuccess with the decision as
//! the task's output (`$.decision`); rejection and timeout are
//! SendTaskFailure with [`REJECTED`] or [`TIMED_OUT`] (Step Functions API
//! reference). Nothing else is called with the task token.

use super::store::{Decision, Record, Store};
use serde_json::json;

/// The error a rejected approval's task fails with.
pub const REJECTED: &str = "Cpsf.Rejected";
/// The error the worker fails a task with when its approval's time is up
/// (the state machine's own timeout says `States.Timeout`).
pub const TIMED_OUT: &str = "Cpsf.ApprovalTimedOut";
/// Longest name and comment kept (SendTaskFailure's cause takes 32,768;
/// the pipeline's failure message 5,000).
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_COMMENT_CHARS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// This decision answered the task.
    Answered(Decision),
    /// Another came first; nothing changed.
    AlreadyDecided(Decision),
    /// The task had ended (timed out, or its execution stopped): the
    /// decision is kept, and changed nothing.
    TaskEnded(String),
}

/// "approved by Ann: ship it", from the task output an approval gave
/// (`$.decision`: a [`Decision`]), or None for anything else.
pub fn said(output: &serde_json::Value) -> Option<String> {
    serde_json::from_value::<Decision>(output.clone())
        .ok()
        .map(|d| d.said())
}

/// Keeps `decision` for `record` unless one was made, then answers its
/// task. A failed answer takes the decision back, so it can be made again.
pub async fn apply(
    store: &Store,
    sfn: &aws_sdk_sfn::Client,
    record: &Record,
    decision: Decision,
) -> anyhow::Result<Outcome> {
    if let Err(first) = store.decide(&record.id, &decision).await? {
        return Ok(Outcome::AlreadyDecided(first));
    }
    let token = &record.task_token;
    let sent = if decision.approved {
        let output = json!({
            "approved": true, "by": decision.by, "comment": decision.comment,
            "at": decision.at, "via": decision.via,
        });
        sfn.send_task_success()
            .task_token(token)
            .output(output.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.into_service_error().meta().clone())
    } else {
        let (error, cause) = if decision.via == "timeout" {
            (
                TIMED_OUT,
                format!(
                    "approval timed out after {} minutes",
                    record.request.timeout_minutes
                ),
            )
        } else {
            (REJECTED, decision.said())
        };
        sfn.send_task_failure()
            .task_token(token)
            .error(error)
            .cause(cause)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.into_service_error().meta().clone())
    };
    match sent {
        Ok(()) => Ok(Outcome::Answered(decision)),
        // The task is over: its timeout passed, or the execution stopped
        // (API reference, SendTaskSuccess errors).
        Err(e)
            if matches!(
                e.code(),
                Some("TaskTimedOut" | "TaskDoesNotExist" | "InvalidToken")
            ) =>
        {
            Ok(Outcome::TaskEnded(
                e.message().unwrap_or("the task has ended").to_string(),
            ))
        }
        Err(e) => {
            store.take_back(&record.id).await;
            Err(anyhow::anyhow!(
                "Step Functions did not take the decision: {}",
                e.message().unwrap_or("no message")
            ))
        }
    }
}
