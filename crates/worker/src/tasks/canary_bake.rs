//! canary-bake: waits out a canary step's bake while reading its alarms
//! (DescribeAlarms through `alarms.rs`, as a rollout's bake does), where
//! the stack is. An alarm in ALARM ends the bake with `alarm` set, and
//! CanaryStep rolls back. The bake's start is the Pass state's
//! `$$.State.EnteredTime` in `$.canaryBake.since`, so a task handed out
//! again (a killed worker) bakes only what is left; like WaitForStack it
//! hands back `{"done": false}` at the wait cap or when the worker stops.

use super::TaskContext;
use super::alarms::describe;
use super::bake::ALARM_POLL;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::canary::plan::{self, Baked};
use serde_json::{Value, json};
use std::time::Duration;

pub async fn run(ctx: &TaskContext, input: &TaskInput) -> Result<Value, TaskError> {
    let canary = input
        .canary()?
        .ok_or_else(|| TaskError::input("CanaryBake ran for a deploy with no canary"))?;
    let baked: Baked = input
        .deploy
        .canary_bake
        .clone()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| TaskError::input(format!("the bake's start is not as expected: {e}")))?
        .unwrap_or_default();
    let since = baked
        .since
        .clone()
        .ok_or_else(|| TaskError::input("CanaryBake has no start ($.canaryBake.since)"))?;
    let until = plan::bake_until(&since, canary.bake_seconds()).map_err(TaskError::input)?;
    let answer = |done: bool, alarm: Option<String>| {
        let mut answer = json!({"since": since, "step": baked.step, "done": done});
        if let Some(alarm) = alarm {
            answer["alarm"] = json!(alarm);
        }
        answer
    };
    let config = super::canary::config(ctx, input).await?;
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    // A short bake (a test's) reads its alarms at least four times.
    let poll = ALARM_POLL.min(Duration::from_secs_f64(
        (canary.bake_seconds() / 4.0).max(1.0),
    ));
    let deadline = tokio::time::Instant::now() + ctx.wait_cap;
    loop {
        if !canary.alarms.is_empty() {
            let found = describe(&cloudwatch, &canary.alarms, None, &region).await?;
            let rows: Vec<(String, String, String)> = found
                .into_iter()
                .map(|a| (a.name, a.state_value, a.state_reason))
                .collect();
            if let Some(alarm) = plan::alarm_stop(&canary.alarms, &rows) {
                return Ok(answer(true, Some(alarm)));
            }
        }
        let left = until - crate::base::clock::epoch_now();
        if left <= 0.0 {
            return Ok(answer(true, None));
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(answer(false, None));
        }
        let pause = poll.min(Duration::from_secs_f64(left)).min(deadline - now);
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = ctx.stopping.cancelled() => return Ok(answer(false, None)),
        }
    }
}
