//! The deploy state machine's task handlers, served as Step Functions
//! activities by `cpsf worker` (statemachines/README.md describes the flow).
//!
//! - `runner.rs`: one long-poll loop per activity, bounded concurrency,
//!   heartbeats while a handler works, SendTaskSuccess/SendTaskFailure.
//! - one file per handler: `check_stack.rs`, `create_stack.rs`,
//!   `update_stack.rs`, `delete_stack.rs`, `wait_stack.rs`; a rollout's
//!   (`targets/`): `plan_rollout.rs`, `finish_wave.rs`, `bake.rs`; an
//!   environment's teardown (`environments/`): `check_teardown.rs`,
//!   `delete_environment.rs`, `wait_teardown.rs`.
//! - `reach.rs`: the credentials and region of a rollout target.
//! - `slots.rs`: how many tasks of an activity run at once, and what the
//!   worker says when they are all busy; `pace.rs`: one describe budget
//!   for all waits.
//! - shared: `input.rs` (task input, idempotency tokens), `stack.rs` (what a
//!   status means, describe, first failed event), `template.rs` (template
//!   from the revision), `error.rs` (error names a Catch can match).

pub mod alarms;
pub mod asking;
#[cfg(test)]
pub(crate) mod asl_eval;
pub mod bake;
pub mod change_set;
pub mod check_stack;
pub mod check_teardown;
pub mod create_stack;
pub mod definition;
pub mod delete_environment;
pub mod delete_stack;
pub mod discard_change_set;
pub mod discard_wave;
pub mod error;
pub mod execute_change_set;
pub mod finish_wave;
pub mod gather_wave;
pub mod input;
pub mod lease;
pub mod pace;
pub mod plan_rollout;
pub mod reach;
pub mod rollback;
pub mod runner;
pub mod slots;
pub mod stack;
pub mod template;
pub mod unchanged;
pub mod update_stack;
pub mod wait_stack;
pub mod wait_teardown;
#[cfg(test)]
mod wave_size_tests;

use crate::aws::Clients;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::types::{ChangeSetStatus, Stack};
use backon::BackoffBuilder;
use error::TaskError;
use input::TaskInput;
use lease::Lease;
use serde_json::Value;
use std::time::{Duration, Instant};
use template::{Staging, Templates};
use tokio_util::sync::CancellationToken;

/// The handlers, by the activity each serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Handler {
    CheckStack,
    CreateStack,
    UpdateStack,
    DeleteStack,
    WaitStack,
    PlanRollout,
    FinishWave,
    Bake,
    ExecuteChangeSet,
    DiscardChangeSet,
    GatherWave,
    DiscardWave,
    CheckTeardown,
    DeleteEnvironment,
    WaitTeardown,
}

impl Handler {
    pub const ALL: [Handler; 15] = [
        Handler::CheckStack,
        Handler::CreateStack,
        Handler::UpdateStack,
        Handler::DeleteStack,
        Handler::WaitStack,
        Handler::PlanRollout,
        Handler::FinishWave,
        Handler::Bake,
        Handler::ExecuteChangeSet,
        Handler::DiscardChangeSet,
        Handler::GatherWave,
        Handler::DiscardWave,
        Handler::CheckTeardown,
        Handler::DeleteEnvironment,
        Handler::WaitTeardown,
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
            Handler::PlanRollout => "cpsf-plan-rollout",
            Handler::FinishWave => "cpsf-finish-wave",
            Handler::Bake => "cpsf-bake",
            Handler::ExecuteChangeSet => "cpsf-execute-change-set",
            Handler::DiscardChangeSet => "cpsf-discard-change-set",
            Handler::GatherWave => "cpsf-gather-wave",
            Handler::DiscardWave => "cpsf-discard-wave",
            Handler::CheckTeardown => "cpsf-check-teardown",
            Handler::DeleteEnvironment => "cpsf-delete-environment",
            Handler::WaitTeardown => "cpsf-wait-teardown",
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
            Handler::PlanRollout => "PlanRolloutActivityArn",
            Handler::FinishWave => "FinishWaveActivityArn",
            Handler::Bake => "BakeActivityArn",
            Handler::ExecuteChangeSet => "ExecuteChangeSetActivityArn",
            Handler::DiscardChangeSet => "DiscardChangeSetActivityArn",
            Handler::GatherWave => "GatherWaveActivityArn",
            Handler::DiscardWave => "DiscardWaveActivityArn",
            Handler::CheckTeardown => "CheckTeardownActivityArn",
            Handler::DeleteEnvironment => "DeleteEnvironmentActivityArn",
            Handler::WaitTeardown => "WaitTeardownActivityArn",
        }
    }

    /// Runs the handler on one task's input; handlers with side effects
    /// confirm the `lease` before each. A deploy of a rollout target runs
    /// with that target's credentials and region.
    pub async fn run(
        self,
        ctx: &TaskContext,
        lease: &Lease,
        input: &str,
    ) -> Result<Value, TaskError> {
        match self {
            Handler::PlanRollout => return plan_rollout::run(input),
            Handler::FinishWave => return finish_wave::run(ctx, input).await,
            Handler::Bake => return bake::run(ctx, input).await,
            Handler::GatherWave => return gather_wave::run(ctx, lease, input).await,
            Handler::DiscardWave => {
                return discard_wave::run(ctx, lease, input)
                    .await
                    .map(|()| Value::Null);
            }
            _ => {}
        }
        let input = TaskInput::parse(input)?;
        let reached = ctx.reaching(&input).await?;
        let ctx = reached.as_ref().unwrap_or(ctx);
        match self {
            Handler::CheckStack => check_stack::run(ctx, &input).await,
            Handler::CreateStack => create_stack::run(ctx, lease, &input).await,
            Handler::UpdateStack => update_stack::run(ctx, lease, &input).await,
            Handler::DeleteStack => delete_stack::run(ctx, lease, &input).await,
            Handler::WaitStack => wait_stack::run(ctx, &input).await,
            Handler::CheckTeardown => check_teardown::run(ctx, &input).await,
            Handler::DeleteEnvironment => delete_environment::run(ctx, lease, &input).await,
            Handler::WaitTeardown => wait_teardown::run(ctx, &input).await,
            Handler::ExecuteChangeSet => execute_change_set::run(ctx, lease, &input).await,
            Handler::DiscardChangeSet => discard_change_set::run(ctx, lease, &input)
                .await
                .map(|()| Value::Null),
            Handler::PlanRollout
            | Handler::FinishWave
            | Handler::Bake
            | Handler::GatherWave
            | Handler::DiscardWave => {
                unreachable!("answered above")
            }
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
    /// Bounds of the pause between two describes of what a task waits on.
    pub watch_min: Duration,
    pub watch_max: Duration,
    /// Cancelled when the worker is stopping: waits end early and hand
    /// their task back unfinished.
    pub stopping: CancellationToken,
    /// Shared by all waits: keeps their describes within one budget.
    pub pace: pace::Pace,
    /// The worker's own AWS configuration, and the rollout targets' it
    /// has assumed roles for.
    pub reach: std::sync::Arc<reach::Reach>,
    /// Reads a rollout target's execution (`finish_wave.rs`).
    pub sfn: crate::sfn::Sfn,
    /// The worker's `--stack-prefix`: a teardown deletes only stacks whose
    /// names start with it (`environments::teardown`).
    pub stack_prefix: Option<String>,
}

/// The longest pause after a transient error while waiting.
const ERROR_PAUSE_MAX: Duration = Duration::from_secs(30);

impl TaskContext {
    /// The default bounds of `watch_min` and `watch_max` (`TaskOptions`).
    pub const WATCH_MIN: Duration = Duration::from_millis(500);
    pub const WATCH_MAX: Duration = Duration::from_secs(5);

    /// A context on `clients` that waits up to `wait_cap` on a stack,
    /// re-describing it from every half second up to every 5 s.
    pub fn new(clients: &Clients, staging_bucket: Option<String>, wait_cap: Duration) -> Self {
        Self {
            cfn: clients.cloudformation(),
            templates: Templates {
                s3: clients.s3(),
                staging: Staging::of_worker(clients.s3(), staging_bucket, clients.region()),
            },
            wait_cap,
            watch_min: Self::WATCH_MIN,
            watch_max: Self::WATCH_MAX,
            stopping: CancellationToken::new(),
            pace: pace::Pace::default(),
            reach: std::sync::Arc::new(reach::Reach::new(clients.sdk.clone())),
            sfn: crate::sfn::Sfn::new(clients.sfn.clone()),
            stack_prefix: None,
        }
    }

    /// For a rollout target's deploy (`deploy.target`), this context with
    /// CloudFormation in the target's account and region; None for a
    /// deploy here. The template is still read from the revision with the
    /// worker's own credentials; a large one is staged where the target
    /// can read it (`template::Staging::for_target`).
    pub async fn reaching(&self, input: &TaskInput) -> Result<Option<TaskContext>, TaskError> {
        let Some(target) = &input.deploy.target else {
            return Ok(None);
        };
        let session = input.token(&target.name);
        let config = self.reach.config(target, &session).await?;
        Ok(Some(TaskContext {
            cfn: aws_sdk_cloudformation::Client::new(&config),
            templates: Templates {
                s3: self.templates.s3.clone(),
                staging: Staging::for_target(
                    &self.templates.staging,
                    target,
                    aws_sdk_s3::Client::new(&config),
                    &self
                        .reach
                        .base()
                        .region()
                        .map(|r| r.to_string())
                        .unwrap_or_default(),
                ),
            },
            wait_cap: self.wait_cap,
            watch_min: self.watch_min,
            watch_max: self.watch_max,
            stopping: self.stopping.clone(),
            pace: self.pace.clone(),
            reach: self.reach.clone(),
            sfn: self.sfn.clone(),
            stack_prefix: self.stack_prefix.clone(),
        }))
    }

    /// Re-describes the stack with backoff until `done` returns a value, or
    /// the wait cap passes or the worker is stopping (`None`).
    pub async fn watch<T>(
        &self,
        name: &str,
        done: impl Fn(Option<&Stack>) -> Option<T>,
    ) -> Result<Option<T>, TaskError> {
        self.poll_until(
            || stack::describe(&self.cfn, name),
            |found| done(found.as_ref()),
        )
        .await
    }

    /// Waits until a change set is no longer being created.
    pub async fn watch_change_set(
        &self,
        stack: &str,
        name: &str,
    ) -> Result<Option<DescribeChangeSetOutput>, TaskError> {
        let describe = || async {
            self.cfn
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(name)
                .send()
                .await
                .map_err(|e| TaskError::from_sdk("DescribeChangeSet", e))
        };
        self.poll_until(describe, |described| {
            let pending = matches!(
                described.status(),
                Some(ChangeSetStatus::CreatePending | ChangeSetStatus::CreateInProgress)
            );
            (!pending).then_some(described)
        })
        .await
    }

    /// Fetches until `done` returns a value. `None` when the wait cap
    /// passes first, or the worker is stopping: the caller hands the task
    /// back unfinished (wait-stack answers "not stable", and the state
    /// machine asks again) rather than let it die with the process and
    /// burn a retry on a heartbeat timeout.
    ///
    /// A transient error (throttling, 5xx, a dropped connection: the SDK's
    /// own retries spent) is retried here with backoff until the wait cap,
    /// so that one throttled DescribeStacks during an hour-long update
    /// does not fail the deploy; other errors end the wait at once.
    async fn poll_until<X, T, Fut>(
        &self,
        mut fetch: impl FnMut() -> Fut,
        done: impl Fn(X) -> Option<T>,
    ) -> Result<Option<T>, TaskError>
    where
        Fut: Future<Output = Result<X, TaskError>>,
    {
        let deadline = Instant::now() + self.wait_cap;
        let _waiting = self.pace.enter();
        let mut pauses = self.pauses();
        let mut after_errors = self.error_pauses();
        loop {
            if self.stopping.is_cancelled() {
                return Ok(None);
            }
            let pause = match fetch().await {
                Ok(fetched) => {
                    if let Some(value) = done(fetched) {
                        return Ok(Some(value));
                    }
                    after_errors = self.error_pauses();
                    self.pace.stretch(pauses.next().unwrap_or(self.watch_max))
                }
                Err(error) if error.name == error::UNAVAILABLE && Instant::now() < deadline => {
                    tracing::warn!(cause = %error.cause, "a transient error while waiting; trying again");
                    after_errors.next().unwrap_or(ERROR_PAUSE_MAX)
                }
                Err(error) => return Err(error),
            };
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.stopping.cancelled() => return Ok(None),
            }
        }
    }

    /// Pauses after transient errors: from twice the shortest poll pause
    /// (1 s by default), doubling with jitter, to [`ERROR_PAUSE_MAX`] (AWS's
    /// advice for throttling: exponential backoff with jitter, "Error
    /// retries and exponential backoff in AWS").
    fn error_pauses(&self) -> backon::ExponentialBackoff {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.watch_min * 2)
            .with_max_delay(ERROR_PAUSE_MAX)
            .with_jitter()
            .without_max_times()
            .build()
    }

    fn pauses(&self) -> backon::ExponentialBackoff {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.watch_min)
            .with_max_delay(self.watch_max)
            .without_max_times()
            .build()
    }
}

/// A context on a mocked CloudFormation client, for unit tests that replay
/// AWS's answers; short pauses keep them fast.
#[cfg(test)]
pub(crate) fn test_context(cfn: aws_sdk_cloudformation::Client, wait_cap: Duration) -> TaskContext {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .build(),
    );
    TaskContext {
        cfn,
        templates: Templates {
            s3,
            staging: Err("no staging bucket in unit tests".into()),
        },
        wait_cap,
        watch_min: Duration::from_millis(5),
        watch_max: Duration::from_millis(20),
        stopping: CancellationToken::new(),
        pace: pace::Pace::default(),
        reach: std::sync::Arc::new(reach::Reach::new(
            aws_config::SdkConfig::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .region(aws_sdk_s3::config::Region::new("us-east-1"))
                .build(),
        )),
        sfn: crate::sfn::Sfn::new(aws_sdk_sfn::Client::from_conf(
            aws_sdk_sfn::Config::builder()
                .behavior_version(aws_sdk_sfn::config::BehaviorVersion::latest())
                .region(aws_sdk_sfn::config::Region::new("us-east-1"))
                .build(),
        )),
        stack_prefix: None,
    }
}

/// A mocked DescribeStacks answering that stack "app" is `status`.
#[cfg(test)]
pub(crate) fn stack_is(
    status: aws_sdk_cloudformation::types::StackStatus,
) -> aws_smithy_mocks::Rule {
    use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
    aws_smithy_mocks::mock!(aws_sdk_cloudformation::Client::describe_stacks).then_output(
        move || {
            DescribeStacksOutput::builder()
                .stacks(
                    Stack::builder()
                        .stack_name("app")
                        .stack_status(status.clone())
                        .creation_time(aws_smithy_types::DateTime::from_secs(0))
                        .build(),
                )
                .build()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::input::TaskInput;
    use crate::pipeline::wire::JobData;

    /// Every saved event parses as what its name says it is.
    #[test]
    fn test_events_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test_events");
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
                let mut job: serde_json::Value = serde_json::from_str(&text).unwrap();
                if let Some(lambda) = job.get("CodePipeline.job") {
                    // A Lambda invoke event: completed as `cpsf replay` does.
                    let mut lambda = lambda.clone();
                    let action_type = crate::replay::lambda::ActionType::cpsf();
                    crate::replay::lambda::complete(&mut lambda, &action_type);
                    job = lambda;
                }
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
        assert_eq!(seen, 8);
    }
}
