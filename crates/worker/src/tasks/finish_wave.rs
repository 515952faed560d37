//! FinishWave, after a wave's Map: each target's result, then the wave's
//! verdict (`targets::rollout::finish_wave`): stop the rollout, bake, or
//! go on to the next wave.
//!
//! Every target is read from its own execution (DescribeExecution), which
//! the plan named: the Map keeps no more of it than its name and whether
//! it succeeded (DeployTarget's `ResultSelector`; `targets::budget`), so a
//! wave of large outputs never enters the rollout's state. One that
//! succeeded is read from its output; one that failed from the state it
//! failed in and the task's error and cause, as the worker reports a single
//! deploy's failure. The error its Catch saw would be the child's only in
//! part anyway: AWS reports `States.TaskFailed` with the child's
//! description as the cause (Step Functions developer guide, "Start a new
//! AWS Step Functions state machine from a running execution"), emulators
//! differ, and neither names the state.
//!
//! It hands back the plan with the new progress, which becomes the whole
//! state (`ResultPath: $`): the wave's `$.current` is dropped with it, and
//! once the rollout is done only the output stays (`rollout::advanced`).

use super::TaskContext;
use crate::activity::error::TaskError;
use crate::execution::FailureFacts;
use crate::sfn::execution_arn;
use crate::targets::plan::{TargetResult, TargetStatus};
use crate::targets::rollout::{self, Plan, PlannedTarget, Settled};
use crate::targets::spec;
use serde::Deserialize;
use serde_json::Value;

/// The error FinishWave fails with when the wave stops the rollout.
pub const WAVE_STOPPED: &str = "Cpsf.WaveStopped";

/// `$.current`: the wave being deployed (NextWave's `targets` and
/// `stage`), the Map's `results` (`{name, status}` or `{name, failed}`
/// each), and after GatherWave the targets it `settled`, the wave's
/// `request`, the `decision` or the `refusal`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Current {
    #[serde(default)]
    pub targets: Vec<PlannedTarget>,
    #[serde(default)]
    pub results: Vec<Value>,
    #[serde(default)]
    pub settled: Vec<Settled>,
    pub request: Option<Value>,
    pub decision: Option<Value>,
    pub refusal: Option<crate::activity::input::Refusal>,
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
    if plan.waves.get(plan.progress.wave).is_none() {
        return Err(TaskError::input(format!(
            "the plan has {} waves; there is no wave {}",
            plan.waves.len(),
            plan.progress.wave + 1
        )));
    }
    // The targets of the Map that just ran, and those GatherWave settled.
    let ran = (current.targets.iter().zip(&current.results))
        .map(|(t, result)| (&t.name, &t.execution, result));
    let settled = (current.settled.iter()).map(|s| (&s.name, &s.execution, &s.result));
    let mut read = Vec::new();
    for (name, execution, result) in ran.chain(settled) {
        read.push(target_result(ctx, &execution_arn, name, execution, result).await?);
    }
    let sources = crate::targets::sources::note(&plan, &rollout, &execution_arn);
    let mut plan = finish(
        plan,
        &rollout,
        read,
        current.decision,
        crate::base::clock::epoch_now(),
    )?;
    if let Some(result) = plan.progress.result.as_mut() {
        crate::targets::sources::annotate(result, &sources);
    }
    serde_json::to_value(plan)
        .map_err(|e| TaskError::input(format!("the rollout's progress cannot be written: {e}")))
}

/// The plan FinishWave hands on (pure): the wave's results `read` (any
/// order) judged, the progress moved on with the wave's `decision`.
pub fn finish(
    plan: Plan,
    rollout: &spec::Rollout,
    mut read: Vec<TargetResult>,
    decision: Option<Value>,
    now: f64,
) -> Result<Plan, TaskError> {
    let wave = plan
        .waves
        .get(plan.progress.wave)
        .cloned()
        .unwrap_or_default();
    // In the wave's order, whichever stage each target ended in.
    read.sort_by_key(|r| wave.iter().position(|t| t.name == r.name));
    let progress = rollout::finish_wave(&plan, rollout, read, now)
        .map_err(|message| TaskError::new(WAVE_STOPPED, message))?;
    let progress = rollout::with_decision(progress, decision);
    Ok(rollout::advanced(plan, progress))
}

/// The rollout keys the plan carries, read as PlanRollout read them.
pub(super) fn rollout_of(plan: &Plan) -> Result<spec::Rollout, TaskError> {
    spec::parse(&Value::Object(plan.rollout.clone()))
        .map_err(|problems| TaskError::input(problems.join("; ")))?
        .ok_or_else(|| TaskError::input("the plan carries no targets"))
}

/// How the target `name` ended, read from its child execution `execution`
/// (a name of the rollout's own state machine), given its Map result.
pub(super) async fn target_result(
    ctx: &TaskContext,
    rollout_arn: &str,
    name: &str,
    execution: &str,
    result: &Value,
) -> Result<TargetResult, TaskError> {
    let arn = child_arn(rollout_arn, execution);
    if result["status"] == "SUCCEEDED" {
        let output = child_output(ctx, &arn).await?;
        return Ok(rollout::succeeded(name, &output, &arn));
    }
    let failure = match ctx.sfn.describe(&arn).await {
        Ok(described) => {
            ctx.sfn
                .facts(described)
                .await
                .map_err(|e| TaskError::unavailable(format!("reading {arn}: {e:#}")))?
                .failure
        }
        // The child never started (StartExecution itself was refused). The
        // Map keeps no error (its Catch has `ResultPath: null`: a child's
        // failure cause can be its whole description, `budget`); the
        // rollout's own history has StartExecution's answer.
        Err(crate::sfn::DescribeError::Gone(_)) => FailureFacts {
            error: Some(NOT_STARTED.into()),
            cause: Some(format!(
                "its execution {execution} was not started: StartExecution refused it; the \
                 rollout's history shows why, in DeployWave"
            )),
            ..FailureFacts::default()
        },
        Err(e) => {
            return Err(TaskError::unavailable(format!(
                "DescribeExecution {arn}: {e}"
            )));
        }
    };
    let task = failure.task.unwrap_or_default();
    Ok(TargetResult {
        name: name.to_string(),
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

/// The ARN of the rollout's child execution named `execution`: children
/// run in the rollout's own state machine.
pub(super) fn child_arn(rollout_arn: &str, execution: &str) -> String {
    execution_arn(&state_machine_of(rollout_arn), execution)
}

/// The error of a target whose execution never started.
pub const NOT_STARTED: &str = "Cpsf.TargetNotStarted";

/// The output of the child execution `arn`, which succeeded: parsed from
/// DescribeExecution's `output` text.
pub(super) async fn child_output(ctx: &TaskContext, arn: &str) -> Result<Value, TaskError> {
    let described = ctx
        .sfn
        .describe(arn)
        .await
        .map_err(|e| TaskError::unavailable(format!("DescribeExecution {arn}: {e}")))?;
    let text = described.output.unwrap_or_default();
    serde_json::from_str(&text)
        .map_err(|e| TaskError::input(format!("the output of {arn} is not the deploy's JSON: {e}")))
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
