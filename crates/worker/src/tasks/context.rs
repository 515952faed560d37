//! What the handlers share: the worker's clients, how long a task may
//! wait, and the waits themselves (a stack, a change set), paced and
//! retried; for a rollout target's deploy, the same reaching the target.

use crate::activity::error::{self, TaskError};
use crate::activity::input::TaskInput;
use crate::activity::pace;
use crate::aws::Clients;
use crate::cloudformation::stack;
use crate::cloudformation::template::{Staging, Templates};
use crate::reach;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::types::{ChangeSetStatus, Stack};
use backon::BackoffBuilder;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

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
