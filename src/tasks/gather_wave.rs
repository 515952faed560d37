//! GatherWave, after a wave whose targets planned (`targets::rollout`,
//! WAVE_STAGES): reads each target's planned change set and makes the
//! wave's one request (`approval::ask::wave_request`), the targets to
//! apply (each a second child execution, stage "apply", its change set
//! named) and those settled already: no changes (a success) or failed.
//! More failed than failureTolerance stops the rollout here, and the
//! others' planned change sets are deleted.

use super::TaskContext;
use super::error::TaskError;
use super::finish_wave::{WAVE_STOPPED, WaveInput, target_result};
use super::lease::Lease;
use crate::approval::ask::{Request, wave_request};
use crate::targets::plan::{WaveOutcome, wave_outcome};
use crate::targets::rollout::{self, APPLY_STAGE, PlannedTarget, STAGE_KEY, apply_name};
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, lease: &Lease, input: &str) -> Result<Value, TaskError> {
    let (
        WaveInput {
            plan,
            current,
            execution_arn,
            clock,
        },
        rollout,
    ) = WaveInput::parse(input, "GatherWave")?;
    let mut planned: Vec<(String, Request)> = Vec::new();
    let mut asks = false;
    let mut apply: Vec<PlannedTarget> = Vec::new();
    let mut settled = Vec::new();
    for (target, result) in current.targets.iter().zip(&current.results) {
        if result["status"] != "SUCCEEDED" {
            settled.push(target_result(ctx, &execution_arn, target, result).await?);
            continue;
        }
        let output = parsed(&result["output"]);
        let Some(plan_of) = output.get("planned") else {
            // No changes: nothing to decide on or apply.
            settled.push(rollout::succeeded(&target.name, result));
            continue;
        };
        let request: Request = serde_json::from_value(plan_of["request"].clone()).map_err(|e| {
            TaskError::input(format!("target '{}' planned no request: {e}", target.name))
        })?;
        asks |= plan_of["asks"].as_bool().unwrap_or(false);
        let mut own = target.input.clone();
        own.insert(STAGE_KEY.into(), json!(APPLY_STAGE));
        own.insert("stackOperation".into(), json!({"approval": request}));
        apply.push(PlannedTarget {
            name: target.name.clone(),
            execution: apply_name(&target.name, &execution_arn),
            input: own,
        });
        planned.push((target.name.clone(), request));
    }
    let index = plan.progress.wave;
    if let WaveOutcome::Stop { message } = wave_outcome(
        index + 1,
        plan.waves.len(),
        &settled,
        rollout.failure_tolerance,
    ) {
        super::discard_wave::discard_all(ctx, lease, &apply).await?;
        return Err(TaskError::new(WAVE_STOPPED, message));
    }
    // The targets' requests end before their own executions do; the
    // wave's must end before the rollout's (`approval::deadline`).
    let request = wave_request(index + 1, plan.waves.len(), &planned)
        .map(|r| r.end_within(clock.seconds_left(super::epoch_now())));
    Ok(json!({
        "stage": APPLY_STAGE,
        "targets": apply,
        "settled": settled,
        "asks": asks && request.is_some(),
        "request": request,
    }))
}

/// A child's output as `startExecution.sync:2` hands it back: parsed, or
/// as text.
fn parsed(output: &Value) -> Value {
    match output {
        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        other => other.clone(),
    }
}
