//! Serving activities: one GetActivityTask long-poll loop per activity,
//! at most `max_concurrent` tasks of each at once (`max_waits` of
//! wait-stack), a heartbeat every `heartbeat_every` while a handler works,
//! and the result sent back.
//!
//! A task whose worker dies stops heartbeating; Step Functions times it out
//! (`States.Timeout`) and the state machine's Retry delivers it again. The
//! handlers are idempotent, so that second delivery makes no second
//! operation.

use super::error::TaskError;
use super::lease::{Heartbeat, Lease};
use super::slots::Slots;
use crate::aws::CallContext;
use crate::metrics::Metrics;
use crate::nudge::{Nudge, Nudges};
use anyhow::Context;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::DisplayErrorContext;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// The handlers the runner serves: the registry (`tasks::Handler`), one
/// row a handler. The runner knows them only through this, so the runtime
/// imports no handler.
pub trait Registry: Copy + Eq + std::fmt::Debug + Send + Sync + 'static {
    /// What every handler is handed beside its task's input
    /// (`tasks::TaskContext`).
    type Context: Send + Sync + 'static;
    /// Every handler, in the registry's order.
    fn all() -> &'static [Self];
    /// The handler's name: check-stack, create-stack, …
    fn name(self) -> &'static str;
    /// Whether its tasks mostly wait, holding a slot long and cheaply
    /// ([`RunnerSettings::slots_for`]).
    fn waits(self) -> bool;
    /// Runs the handler on one task's input.
    fn run(
        self,
        ctx: &Self::Context,
        lease: &Lease,
        input: &str,
    ) -> impl Future<Output = Result<serde_json::Value, TaskError>> + Send;
}

/// How the activities are served; `Default` is `cpsf worker`'s (the
/// flags under "Task handlers" show these values).
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerSettings<H> {
    /// The activities to serve: handler and activity name.
    pub activities: Vec<(H, String)>,
    /// Tasks of each activity handled at once, but wait-stack's.
    pub max_concurrent: usize,
    /// wait-stack tasks handled at once.
    pub max_waits: usize,
    pub heartbeat_every: Duration,
    /// Sent as GetActivityTask's workerName (shows in the execution history).
    pub worker_name: String,
    pub shutdown_grace: Duration,
}

/// Default of `max_waits` (`--wait-concurrency`).
pub const DEFAULT_MAX_WAITS: usize = 512;

/// The activities' names start with this unless `--activity-prefix` says
/// otherwise: the names statemachines/README.md gives.
pub const DEFAULT_ACTIVITY_PREFIX: &str = "cpsf-";

impl<H: Registry> Default for RunnerSettings<H> {
    fn default() -> Self {
        Self {
            activities: activities(DEFAULT_ACTIVITY_PREFIX),
            // The handlers that work (create a change set, read a
            // template); waits have their own limit (`slots_for`).
            max_concurrent: 8,
            max_waits: DEFAULT_MAX_WAITS,
            // The deploy state machine's HeartbeatSeconds is 60: three
            // chances before a task times out.
            heartbeat_every: Duration::from_secs(20),
            worker_name: host_and_pid(),
            shutdown_grace: crate::shutdown::GRACE,
        }
    }
}

/// Every handler under its activity name: `prefix` and the handler's name
/// (`cpsf-check-stack`, … with the default prefix).
pub fn activities<H: Registry>(prefix: &str) -> Vec<(H, String)> {
    H::all()
        .iter()
        .map(|h| (*h, format!("{prefix}{}", h.name())))
        .collect()
}

/// Shown in the execution history as the activity worker: host and pid,
/// at most 80 characters (GetActivityTask's workerName).
fn host_and_pid() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "cpsf".into());
    format!("{host}-{}", std::process::id())
        .chars()
        .take(80)
        .collect()
}

impl<H: Registry> RunnerSettings<H> {
    /// How many tasks of `handler`'s activity run at once.
    ///
    /// A wait-stack task holds its slot for the stack's whole operation (up
    /// to the wait cap, an hour), but costs only a timer, a heartbeat and a
    /// paced describe (pace.rs): 100 deploys waiting took a worker from 21
    /// to 33 MB, their jobs included (bench/results/waits-*). Under the
    /// small limit of the handlers that work (create a change set, read a
    /// template), eight long stack operations held every slot and the ninth
    /// deploy's WaitForStack was never polled until its task timed out
    /// (issue 14, item 11). So waits have a limit of their own, large
    /// enough for every deploy this worker's job side may follow
    /// (`--max-in-flight`, 256 by default) and more; it bounds memory, not
    /// work.
    pub fn slots_for(&self, handler: H) -> usize {
        if handler.waits() {
            self.max_waits
        } else {
            self.max_concurrent
        }
    }
}

/// Resolves the activities' ARNs by name, then serves them until `shutdown`.
/// `sfn` must allow a read to take ≥ 65 s (GetActivityTask holds 60 s).
pub async fn run<H: Registry>(
    sfn: Client,
    ctx: Arc<H::Context>,
    settings: RunnerSettings<H>,
    metrics: Metrics,
    nudges: Nudges,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let arns = resolve(&sfn, &settings.activities).await?;
    let tracker = TaskTracker::new();
    let mut loops = Vec::new();
    for ((handler, name), arn) in settings.activities.iter().zip(arns) {
        tracing::info!(activity = %name, %arn, "serving activity");
        let serve = Serve {
            sfn: sfn.clone(),
            ctx: ctx.clone(),
            handler: *handler,
            name: name.clone(),
            arn,
            settings: settings.clone(),
            metrics: metrics.clone(),
            nudges: nudges.clone(),
            tracker: tracker.clone(),
        };
        loops.push(tokio::spawn(serve.run(shutdown.clone())));
    }
    for l in loops {
        let _ = l.await;
    }
    tracker.close();
    if tokio::time::timeout(settings.shutdown_grace, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            "shutdown grace ran out with tasks running; Step Functions will time them out and retry"
        );
    }
    Ok(())
}

/// Finds each activity's ARN by name (ListActivities, all pages).
async fn resolve<H>(sfn: &Client, activities: &[(H, String)]) -> anyhow::Result<Vec<String>> {
    let mut known = std::collections::HashMap::new();
    let mut pages = sfn.list_activities().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.call_context("ListActivities")?;
        for activity in page.activities() {
            known.insert(
                activity.name().to_string(),
                activity.activity_arn().to_string(),
            );
        }
    }
    activities
        .iter()
        .map(|(_, name)| {
            known.get(name).cloned().with_context(|| {
                format!(
                    "activity '{name}' does not exist: create it (bootstrap/ or `cpsf demo` do), \
                     or name yours with --activity-prefix, or run with --jobs-only"
                )
            })
        })
        .collect()
}

struct Serve<H: Registry> {
    sfn: Client,
    ctx: Arc<H::Context>,
    handler: H,
    /// The activity's name.
    name: String,
    arn: String,
    settings: RunnerSettings<H>,
    metrics: Metrics,
    nudges: Nudges,
    tracker: TaskTracker,
}

impl<H: Registry> Serve<H> {
    async fn run(self, shutdown: CancellationToken) {
        let mut slots = Slots::new(
            self.settings.slots_for(self.handler),
            &self.name,
            self.handler.name(),
            &self.metrics,
        );
        let this = Arc::new(self);
        while !shutdown.is_cancelled() {
            let Some(slot) = slots.take(&shutdown).await else {
                break;
            };
            // A poll cancelled by shutdown may have been handed a task: it
            // times out and is retried, as if this worker had died.
            let polled = tokio::select! {
                polled = this.sfn.get_activity_task().activity_arn(&this.arn).worker_name(&this.settings.worker_name).send() => polled,
                () = shutdown.cancelled() => break,
            };
            match polled {
                Ok(task) => match (task.task_token, task.input) {
                    (Some(token), input) if !token.is_empty() => {
                        let this = this.clone();
                        let slot = slot.occupy();
                        this.tracker.clone().spawn(async move {
                            this.handle(token, input.unwrap_or_default()).await;
                            drop(slot);
                        });
                    }
                    _ => {}
                },
                Err(error) => {
                    this.metrics.aws_error("GetActivityTask");
                    tracing::warn!(error = %DisplayErrorContext(error), activity = %this.arn, "GetActivityTask failed");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        () = shutdown.cancelled() => break,
                    }
                }
            }
        }
    }

    async fn handle(&self, token: String, input: String) {
        let span = tracing::info_span!("task", handler = ?self.handler);
        self.handle_in_span(token, input).instrument(span).await;
    }

    async fn handle_in_span(&self, token: String, input: String) {
        let execution = execution_of(&input);
        let lease = Arc::new(Lease::new(self.sfn.clone(), token.clone()));
        let heartbeat = {
            let (lease, every) = (lease.clone(), self.settings.heartbeat_every);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if lease.heartbeat().await == Heartbeat::Gone {
                        return;
                    }
                }
            })
        };
        // A panic in a handler must still answer the task.
        let mut work = tokio::spawn({
            let (ctx, handler, lease) = (self.ctx.clone(), self.handler, lease.clone());
            async move { handler.run(&ctx, &lease, &input).await }
        });
        let result = tokio::select! {
            joined = &mut work => match joined {
                Ok(result) => result,
                Err(e) => Err(TaskError::new(
                    "Cpsf.Internal",
                    format!("the task handler failed unexpectedly ({e}); please report it"),
                )),
            },
            // Nobody reads a closed task's result: stop the handler at its
            // next await (before any further AWS call) and free the slot.
            () = lease.gone().cancelled() => {
                work.abort();
                heartbeat.abort();
                self.metrics.task(self.handler.name(), "abandoned");
                return;
            }
        };
        heartbeat.abort();
        if lease.gone().is_cancelled() {
            // The handler itself found the task closed before a side effect.
            self.metrics.task(self.handler.name(), "abandoned");
            return;
        }
        let sent = match &answer(self.handler.name(), result) {
            Ok(output) => {
                tracing::info!("task succeeded");
                self.metrics.task(self.handler.name(), "succeeded");
                self.sfn
                    .send_task_success()
                    .task_token(&token)
                    .output(output)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| DisplayErrorContext(e).to_string())
            }
            Err(error) => {
                tracing::info!(error = error.name, cause = %error.cause, "task failed");
                self.metrics.task(self.handler.name(), "failed");
                self.sfn
                    .send_task_failure()
                    .task_token(&token)
                    .error(error.name)
                    .cause(crate::base::text::cut(&error.cause, 32_000))
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| DisplayErrorContext(e).to_string())
            }
        };
        match sent {
            // The execution moves on: a job of this process following it
            // looks now rather than at its next paced check.
            Ok(()) => {
                if let Some(execution_arn) = &execution {
                    self.nudges.nudge(execution_arn, Nudge::TaskAnswered);
                }
            }
            Err(error) => {
                self.metrics.aws_error("SendTaskResult");
                tracing::error!(%error, "could not send the task's result; it will time out and be retried");
            }
        }
    }
}

/// The most a task's result may be: SendTaskSuccess's `output` is at most
/// 262,144, "expressed as bytes in UTF-8 encoding" (Step Functions API
/// reference, SendTaskSuccess).
const MAX_RESULT_BYTES: usize = crate::base::limits::MAX_INPUT_BYTES;

/// What is sent for a handler's outcome: its result as JSON, or a failure.
/// A result over [`MAX_RESULT_BYTES`] (a stack's outputs and changes travel
/// in it) is a failure that names its size: Step Functions would refuse it
/// with a ValidationException, the task would time out, and its retries
/// would hand back the same result until the deploy ended in a timeout
/// that names nothing.
fn answer(
    handler: &str,
    outcome: Result<serde_json::Value, TaskError>,
) -> Result<String, TaskError> {
    let output = outcome?.to_string();
    if output.len() > MAX_RESULT_BYTES {
        return Err(TaskError::new(
            "Cpsf.ResultTooLarge",
            format!(
                "{handler}'s result is {} bytes; Step Functions takes at most {MAX_RESULT_BYTES} \
                 from a task. The stack's outputs and changes travel in it: fewer or smaller \
                 outputs",
                output.len()
            ),
        ));
    }
    Ok(output)
}

/// The execution a task belongs to: its input's `executionArn`
/// (statemachines/deploy.asl.json passes `$$.Execution.Id`).
fn execution_of(input: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Of {
        #[serde(rename = "executionArn")]
        execution_arn: String,
    }
    serde_json::from_str::<Of>(input)
        .ok()
        .map(|of| of.execution_arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::Handler;
    use aws_sdk_cloudformation::types::StackStatus;
    use aws_sdk_sfn::operation::send_task_failure::SendTaskFailureOutput;
    use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    #[test]
    fn a_result_over_256_kib_is_a_failure_naming_its_size_and_one_at_it_is_sent() {
        // `"…"`: the quotes make two of the bytes.
        let at_limit = serde_json::Value::from("x".repeat(MAX_RESULT_BYTES - 2));
        assert_eq!(
            answer("wait-stack", Ok(at_limit)).unwrap().len(),
            MAX_RESULT_BYTES
        );
        // Fewer characters than the limit, more bytes.
        let over = serde_json::json!({"outputs": {"Big": "é".repeat(MAX_RESULT_BYTES / 2)}});
        let error = answer("wait-stack", Ok(over)).unwrap_err();
        assert_eq!(error.name, "Cpsf.ResultTooLarge");
        assert!(
            error.cause.starts_with(
                "wait-stack's result is 262166 bytes; Step Functions takes at most 262144"
            ),
            "{}",
            error.cause
        );
        let failed = crate::activity::error::TaskError::input("bad");
        assert_eq!(answer("check-stack", Err(failed.clone())), Err(failed));
    }

    /// An execution stopped while its stack update runs: the wait-stack
    /// task's next heartbeat says the task is closed, and the handler stops
    /// there instead of holding its slot until the wait cap (an hour).
    #[tokio::test]
    async fn a_closed_task_frees_its_slot_at_the_next_heartbeat() {
        let updating = crate::tasks::stack_is(StackStatus::UpdateInProgress);
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&updating]);
        let closed = crate::activity::lease::tests::timed_out();
        let success = mock!(Client::send_task_success)
            .then_output(|| SendTaskSuccessOutput::builder().build());
        let failure = mock!(Client::send_task_failure)
            .then_output(|| SendTaskFailureOutput::builder().build());
        let sfn = mock_client!(
            aws_sdk_sfn,
            RuleMode::MatchAny,
            [&closed, &success, &failure]
        );
        let serve = Serve {
            sfn,
            ctx: Arc::new(crate::tasks::test_context(cfn, Duration::from_secs(3600))),
            handler: Handler::WaitStack,
            name: "cpsf-wait-stack".into(),
            arn: "arn:aws:states:us-east-1:123456789012:activity:cpsf-wait-stack".into(),
            settings: RunnerSettings {
                activities: vec![],
                max_concurrent: 1,
                max_waits: 1,
                heartbeat_every: Duration::from_millis(50),
                worker_name: "test".into(),
                shutdown_grace: Duration::from_secs(1),
            },
            metrics: Metrics::default(),
            nudges: Nudges::default(),
            tracker: TaskTracker::new(),
        };
        let input =
            include_str!("../../../../test_events/3-task-wait-stack--after-create--stable.json");
        let handled = tokio::time::timeout(
            Duration::from_secs(5),
            serve.handle("token".into(), input.into()),
        )
        .await;
        assert!(
            handled.is_ok(),
            "the handler kept waiting for a closed task"
        );
        assert!(
            updating.num_calls() >= 1,
            "the handler was waiting on the stack"
        );
        assert_eq!(closed.num_calls(), 1);
        assert_eq!(
            success.num_calls() + failure.num_calls(),
            0,
            "a closed task has no reader"
        );
        assert!(serve.metrics.encode().contains("abandoned"));
    }

    /// Waits do not take the working handlers' slots (issue 14, item 11).
    #[test]
    fn waits_have_a_limit_of_their_own() {
        let settings = RunnerSettings {
            activities: vec![],
            max_concurrent: 8,
            max_waits: DEFAULT_MAX_WAITS,
            heartbeat_every: Duration::from_secs(20),
            worker_name: "test".into(),
            shutdown_grace: Duration::from_secs(1),
        };
        assert_eq!(settings.slots_for(Handler::WaitStack), DEFAULT_MAX_WAITS);
        for handler in Handler::ALL
            .into_iter()
            .filter(|h| !matches!(h, Handler::WaitStack | Handler::Bake | Handler::CanaryBake))
        {
            assert_eq!(settings.slots_for(handler), 8, "{handler:?}");
        }
    }

    #[test]
    fn a_task_names_its_execution_in_its_input() {
        let input = r#"{"deploy": {"stackName": "app"}, "executionArn": "arn:aws:states:us-east-1:1:execution:deploy:run-1"}"#;
        assert_eq!(
            execution_of(input).as_deref(),
            Some("arn:aws:states:us-east-1:1:execution:deploy:run-1")
        );
        assert_eq!(execution_of(r#"{"deploy": {}}"#), None);
        assert_eq!(execution_of("not json"), None);
    }
}
