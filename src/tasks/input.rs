//! What every task receives: `{"deploy": <the execution's state>,
//! "executionArn": <$$.Execution.Id>}`, and the tokens derived from it.

use super::error::TaskError;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInput {
    pub deploy: DeployInput,
    pub execution_arn: String,
}

/// The deploy file's fields (statemachines/README.md), plus what earlier
/// tasks added to the state.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployInput {
    pub stack_name: String,
    pub template_path: Option<String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, Value>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub role_arn: Option<String>,
    #[serde(default)]
    pub allow_replacements: bool,
    #[serde(default)]
    pub recreate_failed_stack: bool,
    pub pipeline: Option<PipelineKey>,
    /// Where the stack goes when this deploy is one target of a rollout
    /// (`targets::plan::target_deploy`); None: the worker's own account
    /// and region.
    pub target: Option<TargetKey>,
    /// A rollout target's rollback triggers (`bake.rollback`,
    /// `targets::rollback`): the stack operation rolls back on an alarm.
    pub rollback_triggers: Option<crate::targets::rollback::RollbackTriggers>,
    /// What CheckStack found (`$.check`).
    pub check: Option<Check>,
    /// What CreateStack or UpdateStack returned (`$.stackOperation`).
    pub stack_operation: Option<Operation>,
    /// A rollout target's stage when its wave waits for one decision
    /// (`targets::rollout`): "plan" makes the change set and stops there,
    /// "apply" executes the approved one.
    pub stage: Option<String>,
    /// The input's `approval`, as given: read with [`TaskInput::approval`].
    pub approval: Option<Value>,
    /// What the approver decided (`$.decision`, RequestApproval's result).
    pub decision: Option<Value>,
    /// Why RequestApproval ended without one (`$.refusal`: its Catch's
    /// `Error` and `Cause`).
    pub refusal: Option<Refusal>,
}

/// A caught error, as a Catch's ResultPath holds it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Refusal {
    #[serde(rename = "Error", default)]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// A rollout target's place: its account and region, and the role that
/// reaches it (`tasks/reach.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetKey {
    pub name: String,
    pub account: Option<String>,
    pub region: String,
    pub role_arn: Option<String>,
    /// Where a large template is staged for this target.
    #[serde(default)]
    pub staging_bucket: Option<String>,
}

impl TargetKey {
    /// Where the target is, as messages name it: its region, with its
    /// account when the target gave one.
    pub fn place(&self) -> String {
        match &self.account {
            Some(account) => format!("{} (account {account})", self.region),
            None => self.region.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// The stack's status before this deploy; None when there was none.
    pub stack_status: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PipelineKey {
    #[serde(default)]
    pub artifacts: Vec<ArtifactKey>,
    #[serde(rename = "pipelineName")]
    pub pipeline_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ArtifactKey {
    pub name: Option<String>,
    pub bucket: String,
    pub key: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// Epoch seconds when the stack operation started: stack events before
    /// it belong to earlier deploys.
    #[serde(default)]
    pub started_at: f64,
    #[serde(default)]
    pub changes: Vec<Value>,
    /// The request a change set waits on (`approval::ask::Request`).
    pub approval: Option<crate::approval::ask::Request>,
    /// The approver's decision, once ExecuteChangeSet ran the change set.
    pub decision: Option<Value>,
}

impl TaskInput {
    pub fn parse(input: &str) -> Result<Self, TaskError> {
        let value: Value = serde_json::from_str(input)
            .map_err(|e| TaskError::input(format!("the task input is not JSON: {e}")))?;
        let parsed: Self = serde_json::from_value(value).map_err(|e| {
            TaskError::input(format!(
                "the deploy input is incomplete or mistyped: {e} (see statemachines/README.md, \"Input\")"
            ))
        })?;
        if parsed.deploy.stack_name.trim().is_empty() {
            return Err(TaskError::input("stackName must not be empty"));
        }
        Ok(parsed)
    }

    /// The input's `approval`, checked (`approval::spec`).
    pub fn approval(&self) -> Result<Option<crate::approval::spec::Approval>, TaskError> {
        let Some(value) = &self.deploy.approval else {
            return Ok(None);
        };
        crate::approval::spec::parse(&serde_json::json!({ "approval": value })).map_err(
            |problems| {
                TaskError::input(format!(
                    "the approval input is refused: {}",
                    problems.join("; ")
                ))
            },
        )
    }

    /// CloudFormation parameters as strings: numbers and booleans are
    /// written as CloudFormation expects them.
    pub fn parameters(&self) -> Result<Vec<(String, String)>, TaskError> {
        self.deploy
            .parameters
            .iter()
            .map(|(key, value)| {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string()))
                        .collect::<Vec<_>>()
                        .join(","),
                    other => {
                        return Err(TaskError::input(format!(
                            "parameter {key} must be a string, number, boolean or list; it is {other}"
                        )));
                    }
                };
                Ok((key.clone(), text))
            })
            .collect()
    }

    /// A token for one step of this execution, valid as a CloudFormation
    /// ClientRequestToken or change set name (`[a-zA-Z][-a-zA-Z0-9]*`, ≤128).
    /// The same execution and step always give the same token, so a task
    /// delivered twice makes one stack operation.
    pub fn token(&self, step: &str) -> String {
        let name = self.execution_arn.rsplit(':').next().unwrap_or_default();
        let clean: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(80)
            .collect();
        format!("cpsf-{step}-{:016x}-{clean}", fnv1a(&self.execution_arn))
            .chars()
            .take(128)
            .collect()
    }
}

/// FNV-1a: a stable hash (std's hasher may change between Rust releases).
pub fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(deploy: Value) -> TaskInput {
        TaskInput::parse(&serde_json::json!({"deploy": deploy, "executionArn": "arn:aws:states:us-east-1:1:execution:deploy:app_run.1"}).to_string())
            .unwrap()
    }

    #[test]
    fn tokens_are_stable_per_execution_and_step_and_well_formed() {
        let a = input(serde_json::json!({"stackName": "s"}));
        assert_eq!(a.token("create"), a.token("create"));
        assert_ne!(a.token("create"), a.token("execute"));
        let token = a.token("create");
        assert!(
            token.starts_with("cpsf-create-") && token.ends_with("-app-run-1"),
            "{token}"
        );
        assert!(token.len() <= 128 && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn parameters_become_strings() {
        let a = input(
            serde_json::json!({"stackName": "s", "parameters": {"A": "x", "B": 3, "C": true, "D": ["a", "b"]}}),
        );
        assert_eq!(
            a.parameters().unwrap(),
            vec![
                ("A".into(), "x".into()),
                ("B".into(), "3".into()),
                ("C".into(), "true".into()),
                ("D".into(), "a,b".into())
            ]
        );
        let bad = input(serde_json::json!({"stackName": "s", "parameters": {"A": {"x": 1}}}));
        assert!(bad.parameters().unwrap_err().cause.contains("parameter A"));
    }

    #[test]
    fn a_missing_stack_name_is_named() {
        let error = TaskInput::parse(r#"{"deploy": {}, "executionArn": "x"}"#).unwrap_err();
        assert_eq!(error.name, "Cpsf.InputInvalid");
        assert!(error.cause.contains("stackName"), "{}", error.cause);
    }
}
