//! FinishWave, after a wave's Map: each target's result, then the wave's
//! verdict (`targets::rollout::finish_wave`): stop the rollout, bake, or
//! go on to the next wave.
//!
//! A target that succeeded is read from its execution's output, which
//! `startExecution.sync:2` hands back parsed. One that failed is read from
//! its own execution — the state it failed in and the task's error and
//! cause, as the worker reports a single deploy's failure — because the
//! error its Catch saw is the child's only in part: AWS reports
//! `States.TaskFailed` with the child's description as the cause (Step
//! Functions developer guide, "Start a new AWS Step Functions state machine
//! from a running execution"), emulators differ, and neither names the state.

use super::TaskContext;
use super::error::TaskError;
use crate::job::decide::FailureFacts;
use crate::sfn::execution_arn;
use crate::targets::plan::{TargetResult, TargetStatus};
use crate::targets::rollout::{self, Plan, PlannedTarget};
use crate::targets::spec;
use serde::Deserialize;
use serde_json::Value;

/// The error FinishWave fails with when the wave stops the rollout.
pub const WAVE_STOPPED: &str = "Cpsf.WaveStopped";

/// `$.current`: the wave being deployed (NextWave's `targets` and
/// `stage`), the Map's `results`, and after GatherWave the targets it
/// `settled`, the wave's `request`, the `decision` or the `refusal`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Current {
    #[serde(default)]
    pub targets: Vec<PlannedTarget>,
    #[serde(default)]
    pub results: Vec<Value>,
    #[serde(default)]
    pub settled: Vec<TargetResult>,
    pub request: Option<Value>,
    pub decision: Option<Value>,
    pub refusal: Option<super::input::Refusal>,
}

/// What FinishWave and GatherWave are given: the plan, the wave, and the
/// rollout's own execution (for GatherWave, with its clock: the wave's
/// approval ends before the rollout's execution does).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WaveInput {
    pub plan: Plan,
    pub current: Current,
    pub execution_arn: String,
    #[serde(flatten)]
    pub clock: crate::approval::deadline::ExecutionClock,
}

impl WaveInput {
    /// `input` read for the task `task`, and the rollout keys its plan
    /// carries.
    pub fn parse(input: &str, task: &str) -> Result<(WaveInput, spec::Rollout), TaskError> {
        let read: WaveInput = serde_json::from_str(input).map_err(|e| {
            TaskError::input(format!("the {task} task input is not as expected: {e}"))
        })?;
        let rollout = rollout_of(&read.plan)?;
        Ok((read, rollout))
    }
}

pub async fn run(ctx: &TaskContext, input: &str) -> Result<Value, TaskError> {
    let (
        WaveInput {
            plan,
            current,
            execution_arn,
            ..
        },
        rollout,
    ) = WaveInput::parse(input, "FinishWave")?;
    let wave = plan.waves.get(plan.progress.wave).ok_or_else(|| {
        TaskError::input(format!(
            "the plan has {} waves; there is no wave {}",
            plan.waves.len(),
            plan.progress.wave + 1
        ))
    })?;
    let mut read = current.settled;
    for (planned, result) in current.targets.iter().zip(&current.results) {
        read.push(target_result(ctx, &execution_arn, planned, result).await?);
    }
    // In the wave's order, whichever stage each target ended in.
    read.sort_by_key(|r| wave.iter().position(|t| t.name == r.name));
    let progress = rollout::finish_wave(&plan, &rollout, read, super::epoch_now())
        .map_err(|message| TaskError::new(WAVE_STOPPED, message))?;
    let progress = rollout::with_decision(progress, current.decision);
    serde_json::to_value(progress)
        .map_err(|e| TaskError::input(format!("the rollout's progress cannot be written: {e}")))
}

/// The rollout keys the plan carries, read as PlanRollout read them.
pub(super) fn rollout_of(plan: &Plan) -> Result<spec::Rollout, TaskError> {
    spec::parse(&Value::Object(plan.rollout.clone()))
        .map_err(|problems| TaskError::input(problems.join("; ")))?
        .ok_or_else(|| TaskError::input("the plan carries no targets"))
}

pub(super) async fn target_result(
    ctx: &TaskContext,
    rollout_arn: &str,
    planned: &PlannedTarget,
    result: &Value,
) -> Result<TargetResult, TaskError> {
    if result["status"] == "SUCCEEDED" {
        return Ok(rollout::succeeded(&planned.name, result));
    }
    let arn = execution_arn(&state_machine_of(rollout_arn), &planned.execution);
    let caught = FailureFacts {
        error: result["error"]["Error"].as_str().map(str::to_string),
        cause: result["error"]["Cause"].as_str().map(str::to_string),
        ..FailureFacts::default()
    };
    let failure = match ctx.sfn.describe(&arn).await {
        Ok(described) => {
            ctx.sfn
                .facts(described)
                .await
                .map_err(|e| TaskError::unavailable(format!("reading {arn}: {e:#}")))?
                .failure
        }
        // The child never started (StartExecution itself was refused): the
        // Catch's error is all there is.
        Err(crate::sfn::DescribeError::Gone(_)) => caught,
        Err(e) => {
            return Err(TaskError::unavailable(format!(
                "DescribeExecution {arn}: {e}"
            )));
        }
    };
    let task = failure.task.unwrap_or_default();
    Ok(TargetResult {
        name: planned.name.clone(),
        status: TargetStatus::Failed,
        stack_id: None,
        stack_status: None,
        state: task.state.or(failure.state),
        error: task.error.or(failure.error),
        cause: task.cause.or(failure.cause),
        outputs: None,
        execution_arn: Some(arn),
    })
}

/// `arn:aws:states:r:a:execution:sm:name` → `arn:aws:states:r:a:stateMachine:sm`.
fn state_machine_of(execution_arn: &str) -> String {
    let base = execution_arn
        .rsplit_once(':')
        .map_or(execution_arn, |(base, _)| base);
    base.replacen(":execution:", ":stateMachine:", 1)
}

#[cfg(test)]
mod tests {
    use super::state_machine_of;

    #[test]
    fn a_child_runs_in_its_parents_state_machine() {
        assert_eq!(
            state_machine_of("arn:aws:states:us-east-1:111111111111:execution:deploy:p-1"),
            "arn:aws:states:us-east-1:111111111111:stateMachine:deploy"
        );
    }
}
