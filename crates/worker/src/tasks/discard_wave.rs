//! DiscardWave, after a wave's one approval was rejected, timed out or
//! could not be sent: deletes each target's planned change set where the
//! target is (`discard_change_set::discard`), then fails saying what
//! happened, as DiscardChangeSet does for one stack.

use super::TaskContext;
use super::discard_change_set::{discard, why};
use super::finish_wave::Current;
use crate::activity::error::TaskError;
use crate::activity::input::{Refusal, TaskInput};
use crate::activity::lease::Lease;
use crate::targets::rollout::PlannedTarget;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Input {
    current: Current,
}

pub async fn run(ctx: &TaskContext, lease: &Lease, input: &str) -> Result<(), TaskError> {
    let Input { current } = serde_json::from_str(input).map_err(|e| {
        TaskError::input(format!(
            "the DiscardWave task input is not as expected: {e}"
        ))
    })?;
    discard_all(ctx, lease, &current.targets).await?;
    let refusal: Refusal = current.refusal.unwrap_or_default();
    let minutes = current
        .request
        .as_ref()
        .and_then(|r| r.get("timeoutMinutes"))
        .and_then(Value::as_u64)
        .unwrap_or(0) as u32;
    Err(why(&refusal.error, &refusal.cause, minutes))
}

/// Deletes the planned change set of each target to apply, reaching it in
/// its account and region.
pub async fn discard_all(
    ctx: &TaskContext,
    lease: &Lease,
    targets: &[PlannedTarget],
) -> Result<(), TaskError> {
    for target in targets {
        let Some(request) = target
            .input
            .get("stackOperation")
            .and_then(|o| o.get("approval"))
        else {
            continue;
        };
        let (Some(stack), Some(change_set)) = (
            request.get("stackName").and_then(Value::as_str),
            request.get("changeSet").and_then(Value::as_str),
        ) else {
            continue;
        };
        let mut deploy = target.input.clone();
        deploy.insert("stackName".into(), json!(stack));
        let task = json!({"deploy": deploy, "executionArn": target.execution}).to_string();
        let input = TaskInput::parse(&task)?;
        let reached = ctx.reaching(&input).await?;
        discard(reached.as_ref().unwrap_or(ctx), lease, stack, change_set).await?;
    }
    Ok(())
}
