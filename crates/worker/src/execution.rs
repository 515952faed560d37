//! What is known of one Step Functions execution, in plain types: its
//! status as DescribeExecution gives it, why it failed as its history
//! tells, and where a rollout is. `sfn.rs` gathers these facts; the job's
//! decision (`job/decide.rs`), the history views and the task handlers
//! read them.

use crate::targets::glance::Glance;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionStatus {
    Running,
    /// Redriven and about to run again: followed like a running one.
    PendingRedrive,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    Unknown(String),
}

impl ExecutionStatus {
    pub fn parse(status: &str) -> Self {
        match status {
            "RUNNING" => Self::Running,
            "PENDING_REDRIVE" => Self::PendingRedrive,
            "SUCCEEDED" => Self::Succeeded,
            "FAILED" => Self::Failed,
            "TIMED_OUT" => Self::TimedOut,
            "ABORTED" => Self::Aborted,
            other => Self::Unknown(other.to_string()),
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::TimedOut | Self::Aborted
        )
    }

    /// As Step Functions spells it: `RUNNING`, `SUCCEEDED`, …
    pub fn label(&self) -> &str {
        match self {
            Self::Running => "RUNNING",
            Self::PendingRedrive => "PENDING_REDRIVE",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::TimedOut => "TIMED_OUT",
            Self::Aborted => "ABORTED",
            Self::Unknown(s) => s,
        }
    }
}

/// Why an execution ended badly, read from its history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FailureFacts {
    /// The state the execution was in when it failed.
    pub state: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The task whose error was caught on the way to a Fail state: the
    /// Fail state says what failed, the task says why.
    pub task: Option<TaskFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskFailure {
    pub state: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// Everything the decision needs about an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionFacts {
    pub arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub status: ExecutionStatus,
    pub output: Option<String>,
    /// The newest state entered, for progress summaries.
    pub current_state: Option<String>,
    /// Where a rollout is ("wave 2/3: …"), when the newest history says:
    /// shown instead of the state.
    pub progress: Option<Glance>,
    /// Where a canary is ("canary 10%: baking, 3 min left"), when the
    /// newest history says: shown instead of the state.
    pub canary: Option<crate::canary::plan::Glance>,
    pub failure: FailureFacts,
}
