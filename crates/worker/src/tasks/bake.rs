//! Bake, between waves: waits out `bake.seconds` after the wave just
//! deployed while watching its CloudWatch alarms in every account and
//! region that wave deployed to, and stops the rollout when one is in
//! ALARM (`targets::alarms::verdict` decides; this file asks).
//!
//! A heartbeat task, not a Wait loop: the runner heartbeats while it
//! waits, DescribeAlarms is asked every [`ALARM_POLL`], and the task hands
//! back `{"done": false}` at the wait cap or when the worker stops, like
//! WaitForStack, so the Choice after it asks again until `bakeUntil`.

use super::TaskContext;
use super::alarms::describe;
use super::finish_wave::rollout_of;
use crate::activity::error::TaskError;
use crate::targets::alarms::{AlarmState, BakeVerdict, verdict};
use crate::targets::key::TargetKey;
use crate::targets::rollout::Plan;
use crate::targets::spec::Bake;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// The error Bake fails with when an alarm stops the rollout.
pub const ALARM_FIRED: &str = "Cpsf.AlarmFired";

/// How often the alarms are read during a bake. An alarm evaluates its
/// metric at most once a period (60 s for most, 10 s for high-resolution
/// ones), so reading it more often learns nothing sooner.
pub const ALARM_POLL: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Input {
    plan: Plan,
    execution_arn: String,
}

pub async fn run(ctx: &TaskContext, input: &str) -> Result<Value, TaskError> {
    let Input {
        plan,
        execution_arn,
    } = serde_json::from_str(input)
        .map_err(|e| TaskError::input(format!("the Bake task input is not as expected: {e}")))?;
    let rollout = rollout_of(&plan)?;
    let bake = rollout
        .bake
        .clone()
        .ok_or_else(|| TaskError::input("Bake ran for a rollout with no bake"))?;
    let until = plan.progress.bake_until.unwrap_or_default();
    // The wave just deployed (progress.wave is the next one).
    let baked = plan.progress.wave.max(1) - 1;
    let places = places(&plan, baked);
    let deadline = tokio::time::Instant::now() + ctx.wait_cap;
    let session = format!(
        "cpsf-bake-{}",
        execution_arn.rsplit(':').next().unwrap_or_default()
    );
    loop {
        if !bake.alarms.is_empty() || bake.alarm_prefix.is_some() {
            let alarms = read_alarms(ctx, &bake, &places, &session).await?;
            let labels: Vec<String> = places.iter().map(TargetKey::place).collect();
            if let BakeVerdict::Stop { message } =
                verdict(baked + 1, plan.waves.len(), &bake, &labels, &alarms)
            {
                return Err(TaskError::new(ALARM_FIRED, message));
            }
        }
        let left = until - crate::base::clock::epoch_now();
        if left <= 0.0 {
            return Ok(json!({"done": true}));
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(json!({"done": false}));
        }
        let pause = ALARM_POLL
            .min(Duration::from_secs_f64(left))
            .min(deadline - now);
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = ctx.stopping.cancelled() => return Ok(json!({"done": false})),
        }
    }
}

/// Where the wave `index` deployed: each account (by role) and region once.
fn places(plan: &Plan, index: usize) -> Vec<TargetKey> {
    let mut places: Vec<TargetKey> = Vec::new();
    for planned in plan.waves.get(index).into_iter().flatten() {
        let Some(target) = planned
            .input
            .get("target")
            .and_then(|t| serde_json::from_value::<TargetKey>(t.clone()).ok())
        else {
            continue;
        };
        let seen = places
            .iter()
            .any(|p| p.region == target.region && p.role_arn == target.role_arn);
        if !seen {
            places.push(target);
        }
    }
    places
}

/// The watched alarms in every place (`alarms.rs`).
async fn read_alarms(
    ctx: &TaskContext,
    bake: &Bake,
    places: &[TargetKey],
    session: &str,
) -> Result<Vec<AlarmState>, TaskError> {
    let mut found = Vec::new();
    for place in places {
        let config = ctx.reach.config(place, session).await?;
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
        let region = place.place();
        let alarms = describe(
            &cloudwatch,
            &bake.alarms,
            bake.alarm_prefix.as_deref(),
            &region,
        )
        .await?;
        found.extend(alarms.into_iter().map(|a| AlarmState {
            name: a.name,
            region: region.clone(),
            state_value: a.state_value,
            state_reason: a.state_reason,
        }));
    }
    Ok(found)
}
