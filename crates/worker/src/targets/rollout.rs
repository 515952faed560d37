//! The rollout's data between its states (pure): the plan PlanRollout
//! makes (`$.plan`) and the progress FinishWave moves on after each wave.
//!
//! Each target is deployed by a child execution of the deploy state
//! machine itself (`arn:aws:states:::states:startExecution.sync:2`, Step
//! Functions developer guide, "Start a new AWS Step Functions state machine
//! from a running execution"), so a target takes exactly the single-target
//! path (check, change set, safety gate, execute, wait) and has a history
//! of its own. The child's input is `States.JsonMerge(shared, input)`: the
//! part every target shares, once, and each target's few keys of its own.

use super::budget;
use super::plan::{TargetResult, TargetStatus, output_variables, target_deploy, wave_outcome};
use super::rollback::{self, ROLLBACK_KEY};
use super::spec::{ROLLOUT_KEYS, Rollout};
use crate::base::hash::fnv1a;
use crate::base::limits::PIPELINE_KEY;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// `$.plan`: what the states carry from PlanRollout to the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The input's rollout keys, each target with no more than where it
    /// is (`name`, `account`, `region`, `roleArn`: [`REACH_KEYS`]); each
    /// step reads them again with `spec::parse`, so there is one reading
    /// of them. A target's own input is in `waves`, once.
    pub rollout: Map<String, Value>,
    /// The input every target's execution shares ([`shared_input`]).
    pub shared: Map<String, Value>,
    /// The targets of each wave, in order: the Map's items.
    pub waves: Vec<Vec<PlannedTarget>>,
    pub progress: Progress,
    /// How each wave's targets run first (NextWave's `stage`): "deploy",
    /// or "plan" when the input's `approval` makes each wave wait for one
    /// decision on all its change sets ([`WAVE_STAGES`]).
    #[serde(default = "deploy_stage")]
    pub first_stage: String,
}

/// With `approval`, a wave runs twice: its targets plan (make their change
/// sets, execute nothing: `tasks/asking.rs`), GatherWave joins their
/// requests into the wave's one, RequestWaveApproval waits for the
/// decision, and its targets run again to apply (ExecuteChangeSet, then
/// WaitForStack), each as a child execution of its own.
pub const WAVE_STAGES: [&str; 2] = [PLAN_STAGE, APPLY_STAGE];
pub const PLAN_STAGE: &str = "plan";
pub const APPLY_STAGE: &str = "apply";

fn deploy_stage() -> String {
    "deploy".into()
}

/// One target's child execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedTarget {
    pub name: String,
    /// The child execution's name ([`execution_name`]).
    pub execution: String,
    /// The keys of the target's own input that differ from `shared`.
    pub input: Map<String, Value>,
}

/// `$.plan.progress`: where the rollout is. The states' Choices read
/// `bake` and `done`; NextWave reads `wave`; RolloutDone outputs `result`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// The index of the next wave to deploy (the one being deployed while
    /// its Map runs).
    pub wave: usize,
    /// How many waves the rollout has.
    #[serde(default)]
    pub waves: usize,
    /// The targets of wave `wave`, for the pipeline's progress summary.
    #[serde(default)]
    pub next: Vec<String>,
    /// Every wave is deployed.
    pub done: bool,
    /// Bake before the next wave.
    pub bake: bool,
    /// When the bake after the wave just deployed ends (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake_until: Option<f64>,
    /// The results of the waves deployed so far, in wave order.
    pub results: Vec<TargetResult>,
    /// The execution's output, once `done`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The newest wave decision a person made, when the rollout asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Value>,
}

/// The plan for `deploy`'s `rollout`, run by the execution `execution_arn`.
pub fn plan(deploy: &Map<String, Value>, rollout: &Rollout, execution_arn: &str) -> Plan {
    let shared = shared_input(deploy);
    let count = rollout.waves.len();
    let planning = deploy.contains_key(crate::approval::spec::APPROVAL_KEY);
    let waves = rollout
        .waves
        .iter()
        .enumerate()
        .map(|(index, wave)| {
            let triggers = rollout
                .bake
                .as_ref()
                .and_then(|bake| rollback::for_wave(bake, index, count));
            wave.iter()
                .filter_map(|name| rollout.target(name))
                .map(|target| {
                    let mut full = target_deploy(&Value::Object(shared.clone()), target);
                    if let (Some(triggers), Some(full)) = (&triggers, full.as_object_mut()) {
                        full.insert(ROLLBACK_KEY.into(), json!(triggers));
                    }
                    if let (true, Some(full)) = (planning, full.as_object_mut()) {
                        full.insert(STAGE_KEY.into(), json!(PLAN_STAGE));
                    }
                    let input = full
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter(|(key, value)| shared.get(*key) != Some(*value))
                        .map(|(key, value)| (key.clone(), value.clone()))
                        .collect();
                    PlannedTarget {
                        name: target.name.clone(),
                        execution: execution_name(&target.name, execution_arn),
                        input,
                    }
                })
                .collect()
        })
        .collect();
    let progress = Progress {
        waves: rollout.waves.len(),
        next: rollout.waves.first().cloned().unwrap_or_default(),
        ..Progress::default()
    };
    Plan {
        first_stage: if planning {
            PLAN_STAGE.into()
        } else {
            deploy_stage()
        },
        rollout: deploy
            .iter()
            .filter(|(key, _)| ROLLOUT_KEYS.contains(&key.as_str()))
            .map(|(key, value)| match (key.as_str(), value) {
                ("targets", Value::Array(targets)) => (
                    key.clone(),
                    Value::Array(targets.iter().map(reach_of).collect()),
                ),
                _ => (key.clone(), value.clone()),
            })
            .collect(),
        shared,
        waves,
        progress,
    }
}

/// The keys of a target the steps after PlanRollout read: which it is and
/// where (FinishWave names it, Bake reads alarms there). Its parameters,
/// CloudFormation role and staging bucket are in its own input.
pub const REACH_KEYS: [&str; 4] = ["name", "account", "region", "roleArn"];

fn reach_of(target: &Value) -> Value {
    match target {
        Value::Object(keys) => Value::Object(
            keys.iter()
                .filter(|(key, _)| REACH_KEYS.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The input without the rollout keys and without `pipeline.jobId`: a
/// target's execution answers no job (the worker's recovery reads
/// `pipeline.jobId` to find the job an execution answers, `job/recover.rs`,
/// and must never answer the rollout's job from one target's end). The
/// artifacts stay: each target reads the template from the revision.
pub fn shared_input(deploy: &Map<String, Value>) -> Map<String, Value> {
    let mut shared: Map<String, Value> = deploy
        .iter()
        .filter(|(key, _)| !ROLLOUT_KEYS.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if let Some(Value::Object(pipeline)) = shared.get_mut(PIPELINE_KEY) {
        pipeline.remove("jobId");
    }
    shared
}

/// `<target>-<16 hex digits of the rollout's execution ARN>`: at most
/// 40 + 17 = 57 of the 80 characters an execution name may have (Step
/// Functions API reference, StartExecution `name`), the same for every
/// start of the same target in the same rollout (so a retried start finds
/// the running execution: StartExecution is idempotent for the same name
/// and input), and different for every rollout (names are unique per
/// state machine for 90 days).
pub fn execution_name(target: &str, execution_arn: &str) -> String {
    format!("{target}-{:016x}", fnv1a(execution_arn))
}

/// The key a target's input says its stage under ([`WAVE_STAGES`]).
pub const STAGE_KEY: &str = "stage";

/// The name of a target's second execution, the one that applies its
/// approved change set: [`execution_name`] with `a` before the hash.
pub fn apply_name(target: &str, execution_arn: &str) -> String {
    format!("{target}-a{:016x}", fnv1a(execution_arn))
}

/// The name of the plan execution whose change set the execution `name`
/// applies, when `name` is an [`apply_name`]: the same target and rollout's
/// [`execution_name`]. (A plan's own name has one character fewer after
/// its last `-`, so it is never taken for an apply's.)
pub fn plan_of_apply(name: &str) -> Option<String> {
    let (target, tail) = name.rsplit_once("-a")?;
    let hash = tail.len() == 16 && tail.bytes().all(|b| b.is_ascii_hexdigit());
    (hash && !target.is_empty()).then(|| format!("{target}-{tail}"))
}

/// What a deployed wave decides: the progress after it, or the message
/// that stops the rollout. `results` are this wave's; `now` is epoch
/// seconds.
pub fn finish_wave(
    plan: &Plan,
    rollout: &Rollout,
    results: Vec<TargetResult>,
    now: f64,
) -> Result<Progress, String> {
    let index = plan.progress.wave;
    let waves = plan.waves.len();
    if let super::plan::WaveOutcome::Stop { message } =
        wave_outcome(index + 1, waves, &results, rollout.failure_tolerance)
    {
        return Err(message);
    }
    let mut all = plan.progress.results.clone();
    all.extend(results.into_iter().map(TargetResult::bounded));
    fit_results(rollout, &mut all);
    let wave = index + 1;
    let done = wave >= waves;
    let bake = (!done).then_some(rollout.bake.as_ref()).flatten();
    // Once done, the results move into the output (`targets`), which is
    // all the state keeps then (`advanced`).
    let result = done.then(|| output(rollout, &all));
    if done {
        all.clear();
    }
    Ok(Progress {
        wave,
        waves,
        next: rollout.waves.get(wave).cloned().unwrap_or_default(),
        done,
        bake: bake.is_some(),
        // With rollback the wave baked inside its stack operations
        // (`rollback.rs`): Bake only reads the alarms once more.
        bake_until: bake.map(|b| {
            now + if b.rollback {
                0.0
            } else {
                f64::from(b.seconds)
            }
        }),
        result,
        results: all,
        approval: plan.progress.approval.clone(),
    })
}

/// `progress` with a wave's `decision` kept, in the output too once the
/// rollout is done: `approval` (who, comment), as a single deploy's.
pub fn with_decision(mut progress: Progress, decision: Option<Value>) -> Progress {
    if decision.is_some() {
        progress.approval = decision;
    }
    if let (Some(approval), Some(result)) = (&progress.approval, progress.result.as_mut()) {
        result["approval"] = approval.clone();
        if let (Some(said), Some(summary)) = (
            crate::approval::decision::said(approval),
            result["summary"].as_str().map(str::to_string),
        ) {
            result["summary"] = json!(format!("{summary}; {said}"));
        }
    }
    progress
}

/// The plan FinishWave hands on (its `ResultPath` is `$`: the state
/// becomes `{"plan": …}`, and the wave's `$.current` is gone with it):
/// `plan` with `progress`, and once the rollout is done nothing but the
/// progress, whose `result` is the output (`budget::MAX_OUTPUT`).
pub fn advanced(plan: Plan, progress: Progress) -> Plan {
    if progress.done {
        return Plan {
            rollout: Map::new(),
            shared: Map::new(),
            waves: Vec::new(),
            progress,
            first_stage: plan.first_stage,
        };
    }
    Plan { progress, ..plan }
}

/// A target GatherWave settled before the apply (no changes, or failed),
/// as FinishWave reads it again: the planning execution (`execution`) and
/// its Map result. A reference, so the state carries `budget::SETTLED`
/// for it, whatever its execution output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settled {
    pub name: String,
    pub execution: String,
    pub result: Value,
}

/// The progress a task output holds: FinishWave's and PlanRollout's are
/// the plan (its `progress`); older FinishWaves returned the progress.
pub fn progress_in(output: &Value) -> Option<Progress> {
    match output.get("progress") {
        Some(progress) if output.get("waves").is_some() => {
            serde_json::from_value(progress.clone()).ok()
        }
        _ => serde_json::from_value(output.clone()).ok(),
    }
}

impl Progress {
    /// Every target's result so far: `results`, or once done the output's
    /// `targets`, where they moved.
    pub fn target_results(&self) -> Vec<TargetResult> {
        if !self.results.is_empty() {
            return self.results.clone();
        }
        self.result
            .as_ref()
            .and_then(|r| r.get("targets"))
            .and_then(|t| serde_json::from_value(t.clone()).ok())
            .unwrap_or_default()
    }
}

/// Keeps the stack outputs in `results` within [`budget::OUTPUTS`]: the
/// first target's first (they are the action's output variables), as many
/// of them as fit, then each other target's whole while they fit. The rest
/// are left out of the rollout's output; each target's own execution
/// still has them.
fn fit_results(rollout: &Rollout, results: &mut [TargetResult]) {
    let first = rollout.targets.first().map(|t| t.name.as_str());
    let mut order: Vec<usize> = (0..results.len()).collect();
    order.sort_by_key(|&i| Some(results[i].name.as_str()) != first);
    // An object's braces, then each entry with its colon and comma.
    let entry = |key: &String, value: &Value| json_len(key) + 1 + json_len(value) + 1;
    let mut used = 0;
    for i in order {
        let Some(outputs) = results[i].outputs.take() else {
            continue;
        };
        let whole = 2 + outputs.iter().map(|(k, v)| entry(k, v)).sum::<usize>();
        if used + whole <= budget::OUTPUTS {
            used += whole;
            results[i].outputs = Some(outputs);
        } else if Some(results[i].name.as_str()) == first {
            used += 2;
            let mut kept = Map::new();
            for (key, value) in outputs {
                let size = entry(&key, &value);
                if used + size <= budget::OUTPUTS {
                    used += size;
                    kept.insert(key, value);
                }
            }
            results[i].outputs = Some(kept);
        }
    }
}

fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
    serde_json::to_string(value).map_or(0, |t| t.len())
}

/// A target whose execution `execution_arn` succeeded, from its output
/// (the deploy's own: `stackId`, `stackStatus`, `outputs`, …), which
/// FinishWave reads with DescribeExecution: the Map keeps none of it
/// (`budget`). Output given as text (DescribeExecution's) is parsed.
pub fn succeeded(name: &str, output: &Value, execution_arn: &str) -> TargetResult {
    let parsed;
    let output = match output {
        Value::String(text) => {
            parsed = serde_json::from_str(text).unwrap_or(Value::Null);
            &parsed
        }
        other => other,
    };
    let text = |v: &Value| v.as_str().map(str::to_string);
    TargetResult {
        name: name.to_string(),
        status: TargetStatus::Succeeded,
        stack_id: text(&output["stackId"]),
        stack_status: text(&output["stackStatus"]),
        state: None,
        error: None,
        cause: None,
        outputs: output["outputs"].as_object().cloned(),
        execution_arn: Some(execution_arn.to_string()),
    }
}

/// The rollout's output: the first target's stack as a single deploy
/// reports it (`stackId`, `stackStatus`, and its `outputs`, so every
/// current use of the action's output variables keeps working), each
/// target's `<name>_StackId` and `<name>_Status` among the outputs, and
/// every target's result (with its own outputs) under `targets`, which
/// the output artifact holds.
pub fn output(rollout: &Rollout, results: &[TargetResult]) -> Value {
    let first = rollout
        .targets
        .first()
        .and_then(|t| results.iter().find(|r| r.name == t.name));
    let mut outputs = first.and_then(|r| r.outputs.clone()).unwrap_or_default();
    for (key, value) in output_variables(results) {
        outputs.insert(key, Value::String(value));
    }
    let succeeded = results
        .iter()
        .filter(|r| r.status == TargetStatus::Succeeded)
        .count();
    json!({
        "stackId": first.and_then(|r| r.stack_id.clone()),
        "stackStatus": first.and_then(|r| r.stack_status.clone()),
        "outputs": outputs,
        "targets": results,
        "summary": format!(
            "rollout complete: {succeeded} of {} targets deployed in {} waves",
            results.len(),
            rollout.waves.len()
        ),
    })
}

#[cfg(test)]
#[path = "rollout_tests.rs"]
mod tests;
