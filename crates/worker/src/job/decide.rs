//! The decision core: given what is known about a job's execution, what to
//! report to CodePipeline. Pure data in, data out; the AWS calls that gather
//! the facts and send the report live in `sfn.rs` and `report.rs`.

use crate::execution::{ExecutionFacts, ExecutionStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// What CodePipeline is told at the end of a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// The execution is still running: end this job and have CodePipeline
    /// queue another one carrying `token`.
    Continue {
        token: String,
        summary: String,
        execution_arn: String,
    },
    Succeed {
        summary: String,
        execution_arn: String,
        variables: BTreeMap<String, String>,
        /// The execution's output, for the output artifact.
        output: Option<String>,
    },
    Fail {
        kind: FailureKind,
        message: String,
        execution_arn: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The action's configuration is wrong: the pipeline's author fixes it.
    ConfigurationError,
    /// The deployment itself failed, or its input was bad.
    JobFailed,
    /// The worker's role may not do what the job needs (e.g. StartExecution
    /// answered AccessDeniedException): whoever runs the worker fixes it.
    PermissionError,
}

impl Report {
    pub fn fail(kind: FailureKind, message: impl Into<String>) -> Self {
        Report::Fail {
            kind,
            message: message.into(),
            execution_arn: None,
        }
    }
}

/// The continuation token: which execution a job follows. Small JSON, far
/// below CodePipeline's 2,048-character limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Continuation {
    pub execution_arn: String,
    /// When the token was handed back (epoch seconds): the next job's
    /// pickup latency is measured from here.
    #[serde(default)]
    pub handed_back_at: f64,
    /// Consecutive checks that failed (AWS errors after retries); the job
    /// fails once this reaches [`MAX_CHECK_FAILURES`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub check_failures: u32,
    /// How many jobs have followed the execution before this one: each
    /// follows eight times as long as the last (see `pacing.rs`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub round: u32,
    /// When the execution is due its next check (epoch seconds): the next
    /// job keeps the pace instead of checking on arrival. 0: at once.
    #[serde(default, skip_serializing_if = "is_unset")]
    pub next_check_at: f64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_unset(t: &f64) -> bool {
    *t == 0.0
}

/// How many continuation jobs in a row may fail to check the execution.
pub const MAX_CHECK_FAILURES: u32 = 5;

impl Continuation {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("plain struct serializes")
    }

    pub fn decode(token: &str) -> Result<Self, String> {
        serde_json::from_str(token).map_err(|e| {
            format!("the continuation token is not one cpsf wrote ({e}); was the action's provider changed mid-run?")
        })
    }
}

/// CodePipeline's limits on what a job reports; `report.rs` applies them
/// again to whatever it sends (`limits.rs`).
use crate::base::limits::{MAX_FAILURE_MESSAGE, MAX_SUMMARY};
use crate::base::text::cut;

/// What to report for an execution, given its facts; `now` is epoch seconds.
/// `round`: the round a continuation would start, if the execution runs on.
pub fn decide(facts: &ExecutionFacts, now: f64, round: u32, next_check_at: f64) -> Report {
    let arn = facts.arn.clone();
    match &facts.status {
        ExecutionStatus::Running
        | ExecutionStatus::PendingRedrive
        | ExecutionStatus::Unknown(_) => {
            let summary = match (&facts.progress, &facts.current_state) {
                (None, _) if let Some(canary) = &facts.canary => format!(
                    "{} {}: {}",
                    facts.name,
                    facts.status.label(),
                    canary.summary(now)
                ),
                (Some(progress), _) => format!(
                    "{} {}: {}",
                    facts.name,
                    facts.status.label(),
                    progress.summary()
                ),
                (None, Some(state)) => format!(
                    "{} {}: in state '{state}'",
                    facts.name,
                    facts.status.label()
                ),
                (None, None) => format!("{} {}", facts.name, facts.status.label()),
            };
            let continuation = Continuation {
                execution_arn: arn.clone(),
                handed_back_at: now,
                check_failures: 0,
                round,
                next_check_at,
            };
            Report::Continue {
                token: continuation.encode(),
                summary: cut(&summary, MAX_SUMMARY),
                execution_arn: arn,
            }
        }
        ExecutionStatus::Succeeded => {
            let (variables, left_out) = output_variables(facts);
            let mut summary = format!("{} succeeded", facts.name);
            // A state machine may say what it did in its output's `summary`.
            let said = facts
                .output
                .as_deref()
                .and_then(|o| serde_json::from_str::<Value>(o).ok())
                .and_then(|o| o.get("summary").and_then(Value::as_str).map(str::to_string));
            if let Some(said) = said {
                summary.push_str(&format!(": {said}"));
            }
            summary.push_str(&super::outputs::note(&left_out));
            Report::Succeed {
                summary: cut(&summary, MAX_SUMMARY),
                execution_arn: arn,
                variables,
                output: facts.output.clone(),
            }
        }
        ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted => {
            Report::Fail {
                kind: FailureKind::JobFailed,
                message: failure_message(facts),
                execution_arn: Some(arn),
            }
        }
    }
}

/// The report when the execution could not be checked (an AWS error that
/// outlasted the SDK's retries): try again in a later job, up to a limit.
pub fn check_failed(
    previous: Option<&Continuation>,
    execution_arn: &str,
    error: &str,
    now: f64,
) -> Report {
    let failures = previous.map_or(0, |c| c.check_failures) + 1;
    if failures >= MAX_CHECK_FAILURES {
        return Report::Fail {
            kind: FailureKind::JobFailed,
            message: cut(
                &format!(
                    "Could not check execution {execution_arn} {failures} times in a row; last error: {error}"
                ),
                MAX_FAILURE_MESSAGE,
            ),
            execution_arn: Some(execution_arn.to_string()),
        };
    }
    let continuation = Continuation {
        execution_arn: execution_arn.to_string(),
        handed_back_at: now,
        check_failures: failures,
        round: previous.map_or(0, |p| p.round),
        next_check_at: 0.0,
    };
    Report::Continue {
        token: continuation.encode(),
        summary: cut(
            &format!("could not check the execution (attempt {failures}, will retry): {error}"),
            MAX_SUMMARY,
        ),
        execution_arn: execution_arn.to_string(),
    }
}

/// "Execution X FAILED in state 'S': Error: cause", cut to CodePipeline's limit.
pub fn failure_message(facts: &ExecutionFacts) -> String {
    let failure = &facts.failure;
    let mut message = format!("Execution {} {}", facts.name, facts.status.label());
    if let Some(state) = &failure.state {
        message.push_str(&format!(" in state '{state}'"));
    }
    match (&failure.error, &failure.cause) {
        (Some(error), Some(cause)) => message.push_str(&format!(": {error}: {cause}")),
        (Some(error), None) => message.push_str(&format!(": {error}")),
        (None, Some(cause)) => message.push_str(&format!(": {cause}")),
        (None, None) => {}
    }
    if let Some(task) = &failure.task
        && (task.error != failure.error || task.cause != failure.cause)
    {
        message.push_str(" — caused by");
        if let Some(state) = &task.state {
            message.push_str(&format!(" task '{state}'"));
        }
        let detail: Vec<&str> = [task.error.as_deref(), task.cause.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !detail.is_empty() {
            message.push_str(&format!(": {}", detail.join(": ")));
        }
    }
    message.push_str(&format!(" (details: cpsf history {})", facts.arn));
    cut(&message, MAX_FAILURE_MESSAGE)
}

/// `ExecutionArn`, `StateMachineArn`, and the scalar fields of the output's
/// `outputs` object (`outputs.rs`). Returns the variables and the fields
/// left out, with why.
fn output_variables(
    facts: &ExecutionFacts,
) -> (
    BTreeMap<String, String>,
    Vec<(String, super::outputs::LeftOut)>,
) {
    let mut variables = BTreeMap::from([
        ("ExecutionArn".to_string(), facts.arn.clone()),
        (
            "StateMachineArn".to_string(),
            facts.state_machine_arn.clone(),
        ),
    ]);
    let output: Option<Value> = facts
        .output
        .as_deref()
        .and_then(|o| serde_json::from_str(o).ok());
    // Who approved the change set, when a person did (`approval/`), as
    // plain text: a later action may put it in a shell.
    if let Some(approval) = output.as_ref().and_then(|o| o.get("approval")) {
        for (variable, key) in [("ApprovedBy", "by"), ("ApprovalComment", "comment")] {
            if let Some(value) = approval
                .get(key)
                .and_then(Value::as_str)
                .map(crate::base::plain::plain)
                .filter(|v| !v.is_empty())
            {
                variables.insert(variable.to_string(), value);
            }
        }
    }
    let left_out = match output
        .as_ref()
        .and_then(|o| o.get("outputs"))
        .and_then(Value::as_object)
    {
        Some(outputs) => super::outputs::export(&mut variables, outputs),
        None => Vec::new(),
    };
    (variables, left_out)
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
