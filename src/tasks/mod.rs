//! The deploy state machine's task handlers, served as Step Functions
//! activities by `cpsf worker` (statemachines/README.md describes the flow).
//!
//! - `runner.rs`: one long-poll loop per activity, bounded concurrency,
//!   heartbeats while a handler works, SendTaskSuccess/SendTaskFailure.
//! - one file per handler: `check_stack.rs`, `create_stack.rs`,
//!   `update_stack.rs`, `delete_stack.rs`, `wait_stack.rs`.
//! - shared: `input.rs` (task input, idempotency tokens), `stack.rs` (what a
//!   status means, describe, first failed event), `template.rs` (template
//!   from the revision), `error.rs` (error names a Catch can match).

pub mod check_stack;
pub mod create_stack;
pub mod definition;
pub mod delete_stack;
pub mod error;
pub mod input;
pub mod runner;
pub mod stack;
pub mod template;
pub mod unchanged;
pub mod update_stack;
pub mod wait_stack;

use crate::aws::Clients;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::types::{ChangeSetStatus, Stack};
use backon::BackoffBuilder;
use error::TaskError;
use input::TaskInput;
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use template::Templates;

/// The handlers, by the activity each serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Handler {
    CheckStack,
    CreateStack,
    UpdateStack,
    DeleteStack,
    WaitStack,
}

impl Handler {
    pub const ALL: [Handler; 5] = [
        Handler::CheckStack,
        Handler::CreateStack,
        Handler::UpdateStack,
        Handler::DeleteStack,
        Handler::WaitStack,
    ];

    /// The handler's name: check-stack, create-stack, …
    pub fn name(self) -> &'static str {
        self.default_activity().trim_start_matches("cpsf-")
    }

    /// The activity's default name (statemachines/README.md).
    pub fn default_activity(self) -> &'static str {
        match self {
            Handler::CheckStack => "cpsf-check-stack",
            Handler::CreateStack => "cpsf-create-stack",
            Handler::UpdateStack => "cpsf-update-stack",
            Handler::DeleteStack => "cpsf-delete-stack",
            Handler::WaitStack => "cpsf-wait-stack",
        }
    }

    /// The placeholder for the activity's ARN in deploy.asl.json.
    pub fn placeholder(self) -> &'static str {
        match self {
            Handler::CheckStack => "CheckStackActivityArn",
            Handler::CreateStack => "CreateStackActivityArn",
            Handler::UpdateStack => "UpdateStackActivityArn",
            Handler::DeleteStack => "DeleteStackActivityArn",
            Handler::WaitStack => "WaitStackActivityArn",
        }
    }

    pub async fn run(self, ctx: &TaskContext, input: &str) -> Result<Value, TaskError> {
        let input = TaskInput::parse(input)?;
        match self {
            Handler::CheckStack => check_stack::run(ctx, &input).await,
            Handler::CreateStack => create_stack::run(ctx, &input).await,
            Handler::UpdateStack => update_stack::run(ctx, &input).await,
            Handler::DeleteStack => delete_stack::run(ctx, &input).await,
            Handler::WaitStack => wait_stack::run(ctx, &input).await,
        }
    }
}

/// What the handlers share: clients and how long they may wait.
pub struct TaskContext {
    pub cfn: aws_sdk_cloudformation::Client,
    pub templates: Templates,
    /// How long one task waits on a stack before handing back (the state
    /// machine then asks again): keeps tasks below their TimeoutSeconds.
    pub wait_cap: Duration,
    pub poll_min: Duration,
    pub poll_max: Duration,
}

impl TaskContext {
    /// A context on `clients` that waits up to `wait_cap` on a stack,
    /// re-describing it from every half second up to every 5 s.
    pub fn new(clients: &Clients, staging_bucket: Option<String>, wait_cap: Duration) -> Self {
        Self {
            cfn: clients.cloudformation(),
            templates: Templates {
                s3: clients.s3(),
                staging_bucket,
                region: clients.region(),
            },
            wait_cap,
            poll_min: Duration::from_millis(500),
            poll_max: Duration::from_secs(5),
        }
    }

    /// Re-describes the stack with backoff until `done` returns a value, or
    /// the wait cap passes (`None`).
    pub async fn watch<T>(
        &self,
        name: &str,
        done: impl Fn(Option<&Stack>) -> Option<T>,
    ) -> Result<Option<T>, TaskError> {
        let deadline = Instant::now() + self.wait_cap;
        let mut pauses = self.pauses();
        loop {
            let found = stack::describe(&self.cfn, name).await?;
            if let Some(value) = done(found.as_ref()) {
                return Ok(Some(value));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(pauses.next().unwrap_or(self.poll_max)).await;
        }
    }

    /// Waits until a change set is no longer being created.
    pub async fn watch_change_set(
        &self,
        stack: &str,
        name: &str,
    ) -> Result<Option<DescribeChangeSetOutput>, TaskError> {
        let deadline = Instant::now() + self.wait_cap;
        let mut pauses = self.pauses();
        loop {
            let described = self
                .cfn
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(name)
                .send()
                .await
                .map_err(|e| TaskError::from_sdk("DescribeChangeSet", e))?;
            let pending = matches!(
                described.status(),
                Some(ChangeSetStatus::CreatePending | ChangeSetStatus::CreateInProgress)
            );
            if !pending {
                return Ok(Some(described));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(pauses.next().unwrap_or(self.poll_max)).await;
        }
    }

    fn pauses(&self) -> backon::ExponentialBackoff {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.poll_min)
            .with_max_delay(self.poll_max)
            .without_max_times()
            .build()
    }
}

pub fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::input::TaskInput;
    use crate::local::codepipeline::model::JobData;

    /// Every saved event parses as what its name says it is.
    #[test]
    fn test_events_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test_events");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let kind = name.split_once('-').map_or(name.as_str(), |(_, rest)| rest);
            if kind.starts_with("task-") {
                TaskInput::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            } else if kind.starts_with("job-") {
                let job: serde_json::Value = serde_json::from_str(&text).unwrap();
                let data: JobData = serde_json::from_value(job["data"].clone())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(
                    data.continuation_token.is_some(),
                    kind.starts_with("job-continuation"),
                    "{name}"
                );
            } else {
                panic!("{name}: test events are named <order>-job-… or <order>-task-…");
            }
            seen += 1;
        }
        assert_eq!(seen, 7);
    }
}
