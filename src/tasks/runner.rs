//! Serving activities: one GetActivityTask long-poll loop per activity,
//! at most `max_concurrent` tasks of each at once, a heartbeat every
//! `heartbeat_every` while a handler works, and the result sent back.
//!
//! A task whose worker dies stops heartbeating; Step Functions times it out
//! (`States.Timeout`) and the state machine's Retry delivers it again. The
//! handlers are idempotent, so that second delivery makes no second
//! operation.

use super::{Handler, TaskContext};
use crate::aws::CallContext;
use crate::metrics::Metrics;
use crate::nudge::Nudges;
use anyhow::Context;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::DisplayErrorContext;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// The activities to serve: handler and activity name.
    pub activities: Vec<(Handler, String)>,
    pub max_concurrent: usize,
    pub heartbeat_every: Duration,
    /// Sent as GetActivityTask's workerName (shows in the execution history).
    pub worker_name: String,
    pub shutdown_grace: Duration,
}

/// Resolves the activities' ARNs by name, then serves them until `shutdown`.
/// `sfn` must allow a read to take ≥ 65 s (GetActivityTask holds 60 s).
pub async fn run(
    sfn: Client,
    ctx: Arc<TaskContext>,
    settings: RunnerSettings,
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
async fn resolve(sfn: &Client, activities: &[(Handler, String)]) -> anyhow::Result<Vec<String>> {
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

struct Serve {
    sfn: Client,
    ctx: Arc<TaskContext>,
    handler: Handler,
    arn: String,
    settings: RunnerSettings,
    metrics: Metrics,
    nudges: Nudges,
    tracker: TaskTracker,
}

impl Serve {
    async fn run(self, shutdown: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.settings.max_concurrent));
        let this = Arc::new(self);
        while !shutdown.is_cancelled() {
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => permit.expect("semaphore is never closed"),
                () = shutdown.cancelled() => break,
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
                        this.tracker.clone().spawn(async move {
                            this.handle(token, input.unwrap_or_default()).await;
                            drop(permit);
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
        let heartbeat = {
            let (sfn, token, every) = (
                self.sfn.clone(),
                token.clone(),
                self.settings.heartbeat_every,
            );
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if let Err(e) = sfn.send_task_heartbeat().task_token(&token).send().await {
                        tracing::warn!(error = %DisplayErrorContext(e), "SendTaskHeartbeat failed");
                    }
                }
            })
        };
        // A panic in a handler must still answer the task.
        let work = tokio::spawn({
            let (ctx, handler) = (self.ctx.clone(), self.handler);
            async move { handler.run(&ctx, &input).await }
        });
        let result = match work.await {
            Ok(result) => result,
            Err(e) => Err(super::error::TaskError::new(
                "Cpsf.Internal",
                format!("the task handler failed unexpectedly ({e}); please report it"),
            )),
        };
        heartbeat.abort();
        let sent = match &result {
            Ok(output) => {
                tracing::info!("task succeeded");
                self.metrics.task(self.handler.name(), "succeeded");
                self.sfn
                    .send_task_success()
                    .task_token(&token)
                    .output(output.to_string())
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
                    .cause(crate::job::decide::cut(&error.cause, 32_000))
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
                    self.nudges.nudge(execution_arn);
                }
            }
            Err(error) => {
                self.metrics.aws_error("SendTaskResult");
                tracing::error!(%error, "could not send the task's result; it will time out and be retried");
            }
        }
    }
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
    use super::execution_of;

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
