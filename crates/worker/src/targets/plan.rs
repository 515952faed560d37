//! A rollout's decisions (pure): the deploy input each target's path gets,
//! whether a deployed wave lets the rollout go on, what the pipeline shows
//! meanwhile, and the output variables at the end.

use super::fair::{list, units};
use super::limits::{STACK_ID_SUFFIX, STATUS_SUFFIX};
use super::spec::{ROLLOUT_KEYS, TARGET_KEY, Target};
use crate::base::limits::{MAX_FAILURE_MESSAGE, MAX_SUMMARY};
use crate::base::text::cut;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The single-target deploy input of `target`'s path: `deploy` without the
/// rollout keys, the target's `parameters` over the top-level ones key by
/// key, its `cloudFormationRoleArn` as the `roleArn` CloudFormation uses,
/// and a `target` object `{name, account, region, roleArn, stagingBucket}` the task
/// handlers read to reach it (absent fields left out: the worker's own
/// account and credentials).
pub fn target_deploy(deploy: &Value, target: &Target) -> Value {
    let mut input = deploy.as_object().cloned().unwrap_or_default();
    for key in ROLLOUT_KEYS {
        input.remove(*key);
    }
    if !target.parameters.is_empty() {
        let mut parameters = input
            .get("parameters")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        parameters.extend(target.parameters.clone());
        input.insert("parameters".into(), Value::Object(parameters));
    }
    if let Some(role) = &target.cloud_formation_role_arn {
        input.insert("roleArn".into(), json!(role));
    }
    let mut reach = Map::new();
    reach.insert("name".into(), json!(target.name));
    if let Some(account) = &target.account {
        reach.insert("account".into(), json!(account));
    }
    reach.insert("region".into(), json!(target.region));
    if let Some(role) = &target.role_arn {
        reach.insert("roleArn".into(), json!(role));
    }
    if let Some(bucket) = &target.staging_bucket {
        reach.insert("stagingBucket".into(), json!(bucket));
    }
    input.insert(TARGET_KEY.into(), Value::Object(reach));
    Value::Object(input)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TargetStatus {
    Succeeded,
    Failed,
}

impl TargetStatus {
    /// CodePipeline's own words for an action's end, so a pipeline
    /// condition can compare `<name>_Status` with one value whether the
    /// stack was created, updated or unchanged.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetStatus::Succeeded => "Succeeded",
            TargetStatus::Failed => "Failed",
        }
    }
}

/// How one target's path ended, as the rollout's output lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetResult {
    pub name: String,
    pub status: TargetStatus,
    /// The stack's ARN, when there is a stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_status: Option<String>,
    /// Where a failed path stopped (the state), and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The stack's outputs, when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Map<String, Value>>,
    /// The target's own execution, which `cpsf history` shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
}

impl TargetResult {
    /// The result with each field cut to its bound as JSON text
    /// (`budget::RESULT`), as the rollout's state keeps it; its stack
    /// outputs are fitted with the others' (`rollout::fit_results`).
    pub fn bounded(self) -> TargetResult {
        use super::budget::{
            RESULT_CAUSE, RESULT_ERROR, RESULT_EXECUTION_ARN, RESULT_STACK_STATUS, RESULT_STATE,
        };
        use super::limits::{MAX_NAME, MAX_STACK_ID};
        use crate::base::text::fit_text;
        let cut = |text: Option<String>, max: usize| text.map(|t| fit_text(&t, max));
        TargetResult {
            name: fit_text(&self.name, MAX_NAME),
            status: self.status,
            stack_id: cut(self.stack_id, MAX_STACK_ID),
            stack_status: cut(self.stack_status, RESULT_STACK_STATUS),
            state: cut(self.state, RESULT_STATE),
            error: cut(self.error, RESULT_ERROR),
            cause: cut(self.cause, RESULT_CAUSE),
            outputs: self.outputs,
            execution_arn: cut(self.execution_arn, RESULT_EXECUTION_ARN),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaveOutcome {
    Continue,
    /// The rollout ends here; `message` fits PutJobFailureResult.
    Stop {
        message: String,
    },
}

/// Whether wave `wave` of `waves` (counted from 1) lets the rollout go on:
/// it stops when more than `failure_tolerance` of its targets failed, with
/// a message naming each failed target with its state, error and cause.
/// Every name stays whole (`limits::MAX_NAME` is chosen for it); the
/// causes share the rest of the 5,000 characters fairly.
pub fn wave_outcome(
    wave: usize,
    waves: usize,
    results: &[TargetResult],
    failure_tolerance: u32,
) -> WaveOutcome {
    let failed: Vec<&TargetResult> = results
        .iter()
        .filter(|r| r.status == TargetStatus::Failed)
        .collect();
    if failed.len() as u64 <= u64::from(failure_tolerance) {
        return WaveOutcome::Continue;
    }
    let header = format!(
        "wave {wave}/{waves} stopped the rollout: {} of {} targets failed, more than \
         failureTolerance {failure_tolerance} allows{}: ",
        failed.len(),
        results.len(),
        not_started(wave, waves)
    );
    let items: Vec<(String, String)> = failed
        .iter()
        .map(|r| {
            let mut detail = " failed".to_string();
            if let Some(state) = &r.state {
                detail.push_str(&format!(" in {state}"));
            }
            for said in [&r.error, &r.cause].into_iter().flatten() {
                detail.push_str(&format!(": {said}"));
            }
            (r.name.clone(), detail)
        })
        .collect();
    let body = list(&items, MAX_FAILURE_MESSAGE.saturating_sub(units(&header)));
    WaveOutcome::Stop {
        message: cut(&format!("{header}{body}"), MAX_FAILURE_MESSAGE),
    }
}

/// "; wave 3 was not started" or "; waves 3 to 5 were not started", or
/// nothing after the last wave.
pub(super) fn not_started(wave: usize, waves: usize) -> String {
    match waves.saturating_sub(wave) {
        0 => String::new(),
        1 => format!("; wave {waves} was not started"),
        _ => format!("; waves {} to {waves} were not started", wave + 1),
    }
}

/// The continuation summary while wave `wave` of `waves` deploys, e.g.
/// "wave 2/3: prod-use1 UPDATE_IN_PROGRESS, prod-euw1 CREATE_COMPLETE",
/// within CodePipeline's 2,048 characters: each target with its status
/// while that fits, else the targets grouped by status, else the count of
/// each status.
pub fn progress_summary(wave: usize, waves: usize, targets: &[(String, String)]) -> String {
    let head = format!("wave {wave}/{waves}: ");
    let each: Vec<String> = targets.iter().map(|(n, s)| format!("{n} {s}")).collect();
    let full = format!("{head}{}", each.join(", "));
    if units(&full) <= MAX_SUMMARY {
        return full;
    }
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (name, status) in targets {
        match groups.iter_mut().find(|(s, _)| s == status) {
            Some((_, names)) => names.push(name),
            None => groups.push((status, vec![name])),
        }
    }
    let grouped: Vec<String> = groups
        .iter()
        .map(|(status, names)| format!("{status} {}", names.join(", ")))
        .collect();
    let grouped = format!("{head}{}", grouped.join("; "));
    if units(&grouped) <= MAX_SUMMARY {
        return grouped;
    }
    let counts: Vec<String> = groups
        .iter()
        .map(|(status, names)| format!("{} {status}", names.len()))
        .collect();
    cut(&format!("{head}{}", counts.join(", ")), MAX_SUMMARY)
}

/// `<name>_StackId` (when the target has a stack) and `<name>_Status`
/// (`Succeeded` or `Failed`) for each target. Within CodePipeline's limits
/// by construction: valid keys (`names::target_name_problem`) and at most
/// `limits::VARIABLE_CHARS_PER_TARGET` characters a target.
pub fn output_variables(results: &[TargetResult]) -> BTreeMap<String, String> {
    let mut variables = BTreeMap::new();
    for r in results {
        if let Some(id) = &r.stack_id {
            variables.insert(format!("{}{STACK_ID_SUFFIX}", r.name), id.clone());
        }
        variables.insert(
            format!("{}{STATUS_SUFFIX}", r.name),
            r.status.as_str().to_string(),
        );
    }
    variables
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
