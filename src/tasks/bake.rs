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
use super::error::TaskError;
use super::finish_wave::rollout_of;
use super::input::TargetKey;
use crate::targets::alarms::{AlarmState, BakeVerdict, verdict};
use crate::targets::rollout::Plan;
use crate::targets::spec::Bake;
use aws_sdk_cloudwatch::types::AlarmType;
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
            let labels: Vec<String> = places.iter().map(label).collect();
            if let BakeVerdict::Stop { message } =
                verdict(baked + 1, plan.waves.len(), &bake, &labels, &alarms)
            {
                return Err(TaskError::new(ALARM_FIRED, message));
            }
        }
        let left = until - super::epoch_now();
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

/// A place as messages name it: the region, with the account when the
/// target gave one.
fn label(place: &TargetKey) -> String {
    match &place.account {
        Some(account) => format!("{} (account {account})", place.region),
        None => place.region.clone(),
    }
}

/// DescribeAlarms in every place, metric and composite alarms: once for
/// the names and once for the prefix (the API takes one or the other;
/// CloudWatch API reference, DescribeAlarms).
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
        let mut asks = Vec::new();
        for names in bake.alarms.chunks(100) {
            asks.push(
                cloudwatch
                    .describe_alarms()
                    .set_alarm_names(Some(names.to_vec())),
            );
        }
        if let Some(prefix) = &bake.alarm_prefix {
            asks.push(cloudwatch.describe_alarms().alarm_name_prefix(prefix));
        }
        for ask in asks {
            let mut pages = ask
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| {
                    let class = crate::sfn::class_of(&e);
                    let cause = format!(
                        "DescribeAlarms in {}: {}",
                        label(place),
                        aws_sdk_cloudwatch::error::DisplayErrorContext(&e)
                    );
                    match class {
                        crate::sfn::ErrorClass::Transient => TaskError::unavailable(cause),
                        _ => TaskError::new("Cpsf.Denied", cause),
                    }
                })?;
                let state =
                    |name: Option<&str>, value: Option<&str>, reason: Option<&str>| AlarmState {
                        name: name.unwrap_or_default().to_string(),
                        region: label(place),
                        state_value: value.unwrap_or_default().to_string(),
                        state_reason: reason.unwrap_or_default().to_string(),
                    };
                found.extend(page.metric_alarms().iter().map(|a| {
                    state(
                        a.alarm_name(),
                        a.state_value().map(|v| v.as_str()),
                        a.state_reason(),
                    )
                }));
                found.extend(page.composite_alarms().iter().map(|a| {
                    state(
                        a.alarm_name(),
                        a.state_value().map(|v| v.as_str()),
                        a.state_reason(),
                    )
                }));
            }
        }
    }
    Ok(found)
}
