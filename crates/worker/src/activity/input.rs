//! What every task receives: `{"deploy": <the execution's state>,
//! "executionArn": <$$.Execution.Id>}`, and the tokens derived from it;
//! the tasks that ask for approval also the execution's start and timeout
//! (`approval::deadline`).

use super::error::TaskError;
use crate::base::hash::fnv1a;
use crate::targets::key::TargetKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInput {
    pub deploy: DeployInput,
    pub execution_arn: String,
    /// `executionStartTime` and `executionTimeoutSeconds`, where given.
    #[serde(flatten)]
    pub clock: crate::approval::deadline::ExecutionClock,
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
    /// The input's `canary`, as given: read with [`TaskInput::canary`].
    pub canary: Option<Value>,
    /// A canary's progress (`$.canaryState`, CanaryStep's result:
    /// `canary::plan::Progress`).
    pub canary_state: Option<Value>,
    /// The bake after a canary's step (`$.canaryBake`: `canary::plan::Baked`).
    pub canary_bake: Option<Value>,
    /// The error a Catch kept (`$.error`: `Error` and `Cause`): CanaryStep
    /// reads WaitForStack's, a canary step's failed stack update.
    pub error: Option<Value>,
    /// The input's `operation` and `environment` (`environments::spec`),
    /// read by [`TaskInput::parse`]; `stack_name` is then the
    /// environment's stack.
    #[serde(skip)]
    pub request: crate::environments::spec::Request,
}

/// A caught error, as a Catch's ResultPath holds it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Refusal {
    #[serde(rename = "Error", default)]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// The stack's status before this deploy; None when there was none.
    pub stack_status: Option<String>,
    /// Epoch seconds when CheckStack looked: an environment's
    /// `cpsf:deployed-at`, the same for every task of the deploy.
    pub deployed_at: Option<f64>,
    /// The stack's unique id, when CheckTeardown found one to delete: the
    /// delete names the stack it checked, never a newer one of that name.
    pub stack_id: Option<String>,
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
    pub revision: Option<String>,
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
    /// The change set waiting on a decision: the request UpdateStack or
    /// CreateStack made (`approval::ask::Request`), or in a rollout's apply
    /// stage no more than the change set (GatherWave).
    pub approval: Option<Waiting>,
    /// The approver's decision, once ExecuteChangeSet ran the change set.
    pub decision: Option<Value>,
    /// The parameters read from other stacks' outputs, and where from
    /// (`references::sources`).
    pub resolved: Option<Value>,
    /// A canary about to start (`canary::start`): its progress before
    /// the first step.
    pub canary: Option<Value>,
    /// Why CodeDeploy shifted an alias's traffic in this update
    /// (`canary::template::codedeploy_note`).
    pub codedeploy: Option<String>,
}

/// A change set waiting on a decision, as ExecuteChangeSet and
/// DiscardChangeSet read it from `$.stackOperation.approval`: the fields
/// they need of an approval request. A rollout's apply stage carries no
/// more (`tasks::gather_wave`): the whole request stays in the planning
/// child's execution, and a wave of them would not fit the rollout's state
/// (`targets::budget`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Waiting {
    pub stack_name: String,
    pub change_set: String,
    #[serde(default)]
    pub timeout_minutes: u32,
}

impl Waiting {
    pub fn of(request: &crate::approval::ask::Request) -> Waiting {
        Waiting {
            stack_name: request.stack_name.clone(),
            change_set: request.change_set.clone(),
            timeout_minutes: request.timeout_minutes,
        }
    }
}

impl TaskInput {
    pub fn parse(input: &str) -> Result<Self, TaskError> {
        let value: Value = serde_json::from_str(input)
            .map_err(|e| TaskError::input(format!("the task input is not JSON: {e}")))?;
        let request = crate::environments::spec::parse(&value["deploy"]).map_err(|problems| {
            TaskError::input(format!(
                "the deploy input is refused: {}",
                problems.join("; ")
            ))
        })?;
        let mut parsed: Self = serde_json::from_value(value.clone()).map_err(|e| {
            TaskError::input(format!(
                "the deploy input is incomplete or mistyped: {e} (see statemachines/README.md, \"Input\")"
            ))
        })?;
        if parsed.deploy.stack_name.trim().is_empty() {
            return Err(TaskError::input("stackName must not be empty"));
        }
        // A parameter from another stack's output is read by the task that
        // makes the stack operation (`cloudformation::outputs`); its shape
        // is checked here, with the rest (the `canary` too), before any
        // task changes anything.
        if let Some(environment) = &request.environment {
            crate::references::in_environment(&mut parsed.deploy.parameters, &environment.name);
            if let Some(review) =
                (parsed.deploy.approval.as_mut()).and_then(|a| a.get_mut("reviewUrl"))
            {
                crate::references::fill_in(review, &environment.name);
            }
        }
        let mut problems = crate::references::of_parameters(&parsed.deploy.parameters)
            .err()
            .unwrap_or_default();
        problems.extend(
            crate::canary::spec::parse(&value["deploy"])
                .err()
                .unwrap_or_default(),
        );
        if !problems.is_empty() {
            return Err(TaskError::input(format!(
                "the deploy input is refused: {}",
                problems.join("; ")
            )));
        }
        if let Some(environment) = &request.environment {
            parsed.deploy.stack_name = environment.stack_name.clone();
        }
        parsed.deploy.request = request;
        Ok(parsed)
    }

    /// The environment this input deploys or tears down, if it names one.
    pub fn environment(&self) -> Option<&crate::environments::spec::Environment> {
        self.deploy.request.environment.as_ref()
    }

    /// The stack's tags: the input's `tags`, and an environment's
    /// `cpsf:*` tags (`environments::tags`).
    pub fn stack_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.deploy.tags.clone();
        if let Some(environment) = self.environment() {
            let pipeline = self.deploy.pipeline.as_ref();
            let origin = crate::environments::tags::Origin {
                pipeline: pipeline.and_then(|p| p.pipeline_name.as_deref()),
                revision: pipeline
                    .and_then(|p| p.artifacts.first())
                    .and_then(|a| a.revision.as_deref()),
                deployed_at: self
                    .deploy
                    .check
                    .as_ref()
                    .and_then(|c| c.deployed_at)
                    .and_then(crate::environments::tags::from_epoch),
            };
            tags.extend(crate::environments::tags::stamp(environment, &origin));
        }
        tags
    }

    /// The input's `approval`, checked (`approval::spec`).
    pub fn approval(&self) -> Result<Option<crate::approval::spec::Approval>, TaskError> {
        let Some(value) = &self.deploy.approval else {
            return Ok(None);
        };
        let timeout = self.clock.timeout_seconds();
        crate::approval::spec::parse(&serde_json::json!({ "approval": value }), timeout).map_err(
            |problems| {
                TaskError::input(format!(
                    "the approval input is refused: {}",
                    problems.join("; ")
                ))
            },
        )
    }

    /// The input's `canary`, checked (`canary::spec`).
    pub fn canary(&self) -> Result<Option<crate::canary::spec::Canary>, TaskError> {
        let Some(canary) = &self.deploy.canary else {
            return Ok(None);
        };
        let mut whole = serde_json::json!({ "canary": canary });
        if let Some(approval) = &self.deploy.approval {
            whole["approval"] = approval.clone();
        }
        crate::canary::spec::parse(&whole).map_err(|problems| {
            TaskError::input(format!(
                "the canary input is refused: {}",
                problems.join("; ")
            ))
        })
    }

    /// CloudFormation parameters as strings: numbers and booleans are
    /// written as CloudFormation expects them. In an environment's deploy,
    /// `{environment}` in a value is the environment's name, so a template
    /// can name its resources apart (`"Environment": "{environment}"`).
    pub fn parameters(&self) -> Result<Vec<(String, String)>, TaskError> {
        let environment = self.environment().map(|e| e.name.as_str());
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
                    // A reference ([`TaskInput::parse`] checked its shape):
                    // read before the stack operation
                    // (`cloudformation::outputs::resolve`), never here.
                    Value::Object(_) => {
                        return Err(TaskError::input(format!(
                            "parameter {key} names another stack's output ({value}), which \
                             this task does not read"
                        )));
                    }
                    other => {
                        return Err(TaskError::input(format!(
                            "parameter {key} must be a string, number, boolean or list; it is {other}"
                        )));
                    }
                };
                let text = match environment {
                    Some(name) => text.replace(crate::environments::spec::PLACEHOLDER, name),
                    None => text,
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
        token_for(&self.execution_arn, step)
    }
}

/// [`TaskInput::token`] of the execution `execution_arn`.
pub fn token_for(execution_arn: &str, step: &str) -> String {
    let name = execution_arn.rsplit(':').next().unwrap_or_default();
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(80)
        .collect();
    format!("cpsf-{step}-{:016x}-{clean}", fnv1a(execution_arn))
        .chars()
        .take(128)
        .collect()
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
        let bad = input(serde_json::json!({"stackName": "s", "parameters": {"A": null}}));
        assert!(bad.parameters().unwrap_err().cause.contains("parameter A"));
    }

    /// A malformed reference to another stack's output fails the input's
    /// check, the first task's, before anything is deployed.
    #[test]
    fn a_malformed_stack_output_reference_is_refused() {
        let task = |parameters: Value| {
            TaskInput::parse(
                &serde_json::json!({"deploy": {"stackName": "s", "parameters": parameters},
                                    "executionArn": "arn:aws:states:us-east-1:1:execution:d:r"})
                .to_string(),
            )
        };
        let refused = task(serde_json::json!({"A": {"x": 1}})).unwrap_err();
        assert_eq!(refused.name, "Cpsf.InputInvalid");
        assert!(
            refused.cause.contains("parameter A: unknown key 'x'"),
            "{}",
            refused.cause
        );
        let fine = task(serde_json::json!({"A": {"fromStack": "layer", "output": "Arn"}}));
        assert!(fine.is_ok());
    }

    /// A branch environment's references name its own stacks: the
    /// parameters' and the approval's review link.
    #[test]
    fn an_environment_fills_in_the_stacks_its_references_read() {
        let a = input(serde_json::json!({
            "stackName": "api", "environment": "Feature/7",
            "parameters": {"Db": {"fromStack": "db-{environment}", "output": "Url"}},
            "approval": {"when": "always", "notify": "arn:aws:sns:us-east-1:111111111111:t",
                         "reviewUrl": {"fromStack": "web-{environment}", "output": "SiteUrl"}}
        }));
        assert_eq!(a.deploy.parameters["Db"]["fromStack"], "db-feature-7");
        match a.approval().unwrap().unwrap().review_url {
            Some(crate::approval::spec::ReviewUrl::FromStack(r)) => {
                assert_eq!(r.stack, "web-feature-7")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_environment_names_the_stack_and_stamps_its_tags() {
        let a = input(serde_json::json!({
            "stackName": "app", "environment": "Feature/7", "ttlHours": 24, "tags": {"team": "web"},
            "check": {"deployedAt": 1_764_000_000.0},
            "pipeline": {"pipelineName": "web", "artifacts": [{"bucket": "b", "key": "k", "revision": "v9"}]}
        }));
        assert_eq!(a.deploy.stack_name, "app-feature-7");
        let tags = a.stack_tags();
        let templated = input(serde_json::json!({
            "stackName": "app", "environment": "f-1", "parameters": {"Stage": "{environment}", "N": 1}
        }));
        assert_eq!(
            templated.parameters().unwrap(),
            [
                ("N".to_string(), "1".to_string()),
                ("Stage".to_string(), "f-1".to_string())
            ]
        );
        let expected = [
            ("cpsf:deployed-at", "2025-11-24T16:00:00Z"),
            ("cpsf:environment", "feature-7"),
            ("cpsf:pipeline", "web"),
            ("cpsf:revision", "v9"),
            ("cpsf:ttl-hours", "24"),
            ("team", "web"),
        ];
        let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(tags, expected);
        let plain = input(serde_json::json!({"stackName": "app", "tags": {"team": "web"}}));
        assert_eq!(plain.deploy.stack_name, "app");
        assert_eq!(plain.stack_tags().len(), 1);
    }

    #[test]
    fn a_bad_environment_or_operation_fails_every_task_before_anything_happens() {
        let error = TaskInput::parse(
            r#"{"deploy": {"stackName": "app", "environment": "//", "operation": "nuke"}, "executionArn": "x"}"#,
        )
        .unwrap_err();
        assert_eq!(error.name, "Cpsf.InputInvalid");
        assert!(
            error.cause.contains("no letters or digits"),
            "{}",
            error.cause
        );
        assert!(
            error.cause.contains("\"nuke\" is not known"),
            "{}",
            error.cause
        );
    }

    #[test]
    fn a_missing_stack_name_is_named() {
        let error = TaskInput::parse(r#"{"deploy": {}, "executionArn": "x"}"#).unwrap_err();
        assert_eq!(error.name, "Cpsf.InputInvalid");
        assert!(error.cause.contains("stackName"), "{}", error.cause);
    }
}
