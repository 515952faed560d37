//! GatherWave, after a wave whose targets planned (`targets::rollout`,
//! WAVE_STAGES): reads each target's planned change set and makes the
//! wave's one request (`approval::ask::wave_request`), the targets to
//! apply (each a second child execution, stage "apply", its change set
//! named) and those settled already: no changes (a success) or failed.
//! More failed than failureTolerance stops the rollout here, and the
//! others' planned change sets are deleted.
//!
//! Each planning child's request is read from its own execution
//! (DescribeExecution): the Map keeps only its name and status, and a
//! target to apply carries only its change set (`activity::input::Waiting`),
//! so a wave's requests never enter the rollout's state, where 100 of
//! them would not fit (`targets::budget`). The wave's one request does,
//! within its bound.

use super::TaskContext;
use super::finish_wave::{WAVE_STOPPED, WaveInput, child_arn, child_output, target_result};
use crate::activity::error::TaskError;
use crate::activity::input::Waiting;
use crate::activity::lease::Lease;
use crate::approval::ask::{Request, wave_request};
use crate::targets::plan::{TargetResult, WaveOutcome, wave_outcome};
use crate::targets::rollout::{
    self, APPLY_STAGE, Plan, PlannedTarget, STAGE_KEY, Settled, apply_name,
};
use crate::targets::spec::Rollout;
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
    let mut reads = Vec::new();
    for (target, result) in current.targets.iter().zip(&current.results) {
        let read = if result["status"] == "SUCCEEDED" {
            let arn = child_arn(&execution_arn, &target.execution);
            Child::Succeeded(child_output(ctx, &arn).await?)
        } else {
            Child::Failed(
                target_result(ctx, &execution_arn, &target.name, &target.execution, result).await?,
            )
        };
        reads.push((target.clone(), result.clone(), read));
    }
    let seconds_left = clock.seconds_left(crate::base::clock::epoch_now());
    match gather(&plan, &rollout, &execution_arn, reads, seconds_left) {
        Ok(gathered) => Ok(gathered),
        Err(Stopped { message, apply }) => {
            super::discard_wave::discard_all(ctx, lease, &apply).await?;
            Err(TaskError::new(WAVE_STOPPED, message))
        }
    }
}

/// What a planning child ended with.
pub enum Child {
    /// Its output (the deploy's own; `planned` when it made a change set).
    Succeeded(Value),
    /// Its failure, read from its execution.
    Failed(TargetResult),
}

/// The wave stopped the rollout: `message`, and the targets whose planned
/// change sets are to be deleted.
pub struct Stopped {
    pub message: String,
    pub apply: Vec<PlannedTarget>,
}

/// The new `$.current` from each planning target, its Map result and how
/// its child ended (pure). `seconds_left`: how long the wave's request may
/// wait before the rollout's execution times out (`approval::deadline`).
pub fn gather(
    plan: &Plan,
    rollout: &Rollout,
    execution_arn: &str,
    reads: Vec<(PlannedTarget, Value, Child)>,
    seconds_left: Option<u32>,
) -> Result<Value, Stopped> {
    let mut planned: Vec<(String, Request)> = Vec::new();
    let mut asks = false;
    let mut apply: Vec<PlannedTarget> = Vec::new();
    let mut settled = Vec::new();
    // The settled targets' results, which judge the wave.
    let mut judged = Vec::new();
    for (target, result, child) in reads {
        let settle = |result: Value| Settled {
            name: target.name.clone(),
            execution: target.execution.clone(),
            result,
        };
        let output = match child {
            Child::Failed(failure) => {
                judged.push(failure);
                settled.push(settle(result));
                continue;
            }
            Child::Succeeded(output) => output,
        };
        let request = output
            .get("planned")
            .and_then(|p| serde_json::from_value::<Request>(p["request"].clone()).ok());
        let Some(request) = request else {
            // No changes: nothing to decide on or apply.
            let arn = child_arn(execution_arn, &target.execution);
            judged.push(rollout::succeeded(&target.name, &output, &arn));
            settled.push(settle(result));
            continue;
        };
        asks |= output["planned"]["asks"].as_bool().unwrap_or(false);
        let mut own = target.input.clone();
        own.insert(STAGE_KEY.into(), json!(APPLY_STAGE));
        own.insert(
            "stackOperation".into(),
            json!({"approval": Waiting::of(&request)}),
        );
        apply.push(PlannedTarget {
            name: target.name.clone(),
            execution: apply_name(&target.name, execution_arn),
            input: own,
        });
        planned.push((target.name.clone(), request));
    }
    let index = plan.progress.wave;
    if let WaveOutcome::Stop { message } = wave_outcome(
        index + 1,
        plan.waves.len(),
        &judged,
        rollout.failure_tolerance,
    ) {
        return Err(Stopped { message, apply });
    }
    // The targets' requests end before their own executions do; the
    // wave's must end before the rollout's (`approval::deadline`).
    let request =
        wave_request(index + 1, plan.waves.len(), &planned).map(|r| r.end_within(seconds_left));
    Ok(json!({
        "stage": APPLY_STAGE,
        "targets": apply,
        "settled": settled,
        "asks": asks && request.is_some(),
        "request": request,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::plan::TargetStatus;
    use crate::targets::{rollout, spec};

    const ROLLOUT: &str = "arn:aws:states:us-east-1:111111111111:execution:deploy:app-1";

    fn planned(tolerance: u32) -> (Plan, Rollout) {
        let deploy = json!({
            "stackName": "app", "approval": {"when": "always"},
            "targets": [{"name": "a", "region": "us-east-1"}, {"name": "b", "region": "us-east-1",
                         "account": "222222222222", "roleArn": "arn:aws:iam::222222222222:role/t"},
                        {"name": "c", "region": "us-west-2"}],
            "waves": [["a", "b", "c"]], "failureTolerance": tolerance,
        });
        let rollout = spec::parse(&deploy).unwrap().unwrap();
        (
            rollout::plan(deploy.as_object().unwrap(), &rollout, ROLLOUT),
            rollout,
        )
    }

    fn reads(plan: &Plan) -> Vec<(PlannedTarget, Value, Child)> {
        let wave = &plan.waves[0];
        let request = crate::approval::ask::test_request(
            &[crate::cloudformation::change_set::test_change(
                "Remove", "Queue", None,
            )],
            "note",
        );
        vec![
            (
                wave[0].clone(),
                json!({"name": wave[0].execution, "failed": true}),
                Child::Failed(TargetResult {
                    name: "a".into(),
                    status: TargetStatus::Failed,
                    stack_id: None,
                    stack_status: None,
                    state: Some("UpdateStack".into()),
                    error: Some("Cpsf.TemplateInvalid".into()),
                    cause: Some("bad".into()),
                    outputs: None,
                    execution_arn: None,
                }),
            ),
            (
                wave[1].clone(),
                json!({"name": wave[1].execution, "status": "SUCCEEDED"}),
                Child::Succeeded(json!({"stackId": "arn:s:b", "changed": false})),
            ),
            (
                wave[2].clone(),
                json!({"name": wave[2].execution, "status": "SUCCEEDED"}),
                Child::Succeeded(json!({"changed": true, "changes": [],
                    "planned": {"request": request, "asks": true}})),
            ),
        ]
    }

    #[test]
    fn the_state_keeps_references_and_the_change_set_not_the_requests() {
        let (plan, rollout) = planned(1);
        let Ok(current) = gather(&plan, &rollout, ROLLOUT, reads(&plan), None) else {
            panic!("one failure is tolerated");
        };
        let settled: Vec<Settled> = serde_json::from_value(current["settled"].clone()).unwrap();
        assert_eq!(
            settled
                .iter()
                .map(|s| (s.name.as_str(), s.execution.as_str()))
                .collect::<Vec<_>>(),
            [
                ("a", plan.waves[0][0].execution.as_str()),
                ("b", plan.waves[0][1].execution.as_str())
            ],
            "the planning executions, which FinishWave reads again"
        );
        assert_eq!(settled[0].result["failed"], true);
        let apply = current["targets"].as_array().unwrap();
        assert_eq!(apply.len(), 1);
        assert_eq!(apply[0]["execution"], apply_name("c", ROLLOUT));
        assert_eq!(apply[0]["input"][STAGE_KEY], APPLY_STAGE);
        assert_eq!(
            apply[0]["input"]["stackOperation"],
            json!({"approval": {"stackName": "app", "changeSet": "cs", "timeoutMinutes": 60}}),
            "the change set waiting, no more"
        );
        assert_eq!(current["asks"], true);
        assert_eq!(current["request"]["changes"][0]["logicalId"], "c / Queue");
    }

    #[test]
    fn more_failures_than_tolerated_stop_the_wave_and_name_the_change_sets_to_delete() {
        let (plan, rollout) = planned(0);
        let Err(stopped) = gather(&plan, &rollout, ROLLOUT, reads(&plan), None) else {
            panic!("no failure is tolerated");
        };
        assert!(
            stopped.message.contains("1 of 2 targets failed"),
            "{}",
            stopped.message
        );
        assert_eq!(stopped.apply.len(), 1);
        assert_eq!(stopped.apply[0].name, "c");
    }
}
