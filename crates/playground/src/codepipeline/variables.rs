//! CodePipeline variables, pure: the `#{namespace.key}` references in action
//! configurations, the checks CreatePipeline and UpdatePipeline make on
//! them, the values StartPipelineExecution gives pipeline-level variables,
//! and the resolution when an action starts.
//!
//! The rules are the CodePipeline user guide's "Variables reference" (a
//! reference is `#{namespace.variable_key}`; `codepipeline` is the reserved
//! namespace of `PipelineExecutionId`; an action's variables are available
//! only to actions after it, in a later stage or at a higher runOrder;
//! namespaces are unique and do not conflict with artifact names) and the
//! API reference (PipelineVariableDeclaration, PipelineVariable,
//! ActionNamespace: names `[A-Za-z0-9@\-_]+`, 1..128 and 1..100; values
//! 1..1000; at most 50 variables). Where AWS's documentation gives no
//! message, the message is AWS's as reported from the service; see
//! docs/emulators.md, "CodePipeline variables".

use super::protocol::{ApiError, check_len, check_pattern};
use cpsf_worker::pipeline::wire::{
    ActionDeclaration, Configuration, ErrorDetails, PipelineDeclaration, PipelineVariable,
    PipelineVariableDeclaration,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The reserved namespace of the variables every execution has.
pub const CODEPIPELINE: &str = "codepipeline";
/// The namespace of pipeline-level variables.
pub const VARIABLES: &str = "variables";
const MAX_VARIABLES: usize = 50;
const MAX_VARIABLE_NAME: usize = 128;
const MAX_VARIABLE_VALUE: usize = 1000;
const MAX_DESCRIPTION: usize = 200;
const MAX_NAMESPACE: usize = 100;
/// PipelineVariableName's, ActionNamespace's and OutputVariablesKey's
/// pattern in the API model (botocore codepipeline/2015-07-09/service-2.json).
pub const NAME_PATTERN: &str = r"[A-Za-z0-9@\-_]+";

/// A reference: `#{`, a namespace, a period, a key and `}`, both names of
/// [`NAME_PATTERN`] (the only characters a namespace, a variable name or
/// an output variable key may have). Anything else, `#{` without a period
/// included, is text; the user guide documents no escape, so there is none.
static REFERENCE: std::sync::LazyLock<regex_lite::Regex> = std::sync::LazyLock::new(|| {
    let name = NAME_PATTERN;
    regex_lite::Regex::new(&format!(r"#\{{({name})\.({name})\}}")).expect("a valid pattern")
});

/// One `#{namespace.key}` in a configuration value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference<'a> {
    pub namespace: &'a str,
    pub key: &'a str,
}

impl<'a> Reference<'a> {
    fn of(found: &regex_lite::Captures<'a>) -> Self {
        Reference {
            namespace: found.get(1).map_or("", |m| m.as_str()),
            key: found.get(2).map_or("", |m| m.as_str()),
        }
    }

    /// As AWS's messages show it: `namespace.key`.
    pub fn text(&self) -> String {
        format!("{}.{}", self.namespace, self.key)
    }
}

/// The references in a configuration value, in order.
pub fn references(value: &str) -> impl Iterator<Item = Reference<'_>> {
    REFERENCE.captures_iter(value).map(|c| Reference::of(&c))
}

/// What an action can see when it starts.
pub struct Scope<'a> {
    pub execution_id: &'a str,
    /// The execution's pipeline-level variables.
    pub pipeline: &'a [(String, String)],
    /// Output variables of the actions that ran before, by namespace.
    pub namespaces: HashMap<&'a str, &'a BTreeMap<String, String>>,
}

impl Scope<'_> {
    fn value(&self, r: Reference) -> Option<&str> {
        // An action's own namespace comes first: a pipeline without
        // pipeline-level variables may name an action `variables`.
        if let Some(outputs) = self.namespaces.get(r.namespace) {
            return outputs.get(r.key).map(String::as_str);
        }
        match r.namespace {
            CODEPIPELINE if r.key == "PipelineExecutionId" => Some(self.execution_id),
            VARIABLES => self
                .pipeline
                .iter()
                .find(|(name, _)| name == r.key)
                .map(|(_, value)| value.as_str()),
            _ => None,
        }
    }
}

/// Resolves every reference in every value, once: a resolved value that
/// itself looks like a reference stays as it is. `Err` holds the references
/// that did not resolve.
pub fn resolve(configuration: &Configuration, scope: &Scope) -> Result<Configuration, Vec<String>> {
    let mut unresolved = Vec::new();
    let resolved = configuration
        .iter()
        .map(|(key, value)| {
            let out = REFERENCE.replace_all(value, |found: &regex_lite::Captures| {
                let r = Reference::of(found);
                scope.value(r).map(str::to_string).unwrap_or_else(|| {
                    unresolved.push(r.text());
                    String::new()
                })
            });
            (key.clone(), out.into_owned())
        })
        .collect();
    if unresolved.is_empty() {
        Ok(resolved)
    } else {
        Err(unresolved)
    }
}

/// How an action whose references do not resolve fails: AWS's message
/// (shown on the failed action in the console).
pub fn unresolved_error(action: &str) -> ErrorDetails {
    ErrorDetails {
        code: "JobFailed".into(),
        message: format!(
            "An action in this pipeline failed because one or more variables could not be \
             resolved: Action name={action}. This can result when a variable is referenced \
             that does not exist. Validate the configuration for this action."
        ),
    }
}

/// Checks the pipeline-level variables, the namespaces and every reference
/// of a declaration as CreatePipeline and UpdatePipeline do.
pub fn check_declaration(pipeline: &PipelineDeclaration) -> Result<(), ApiError> {
    check_variable_declarations(&pipeline.variables)?;
    if !pipeline.variables.is_empty() && pipeline.pipeline_type() != "V2" {
        return Err(ApiError::new(
            "InvalidStructureException",
            "Pipeline-level variables can only be declared in V2 pipelines",
        ));
    }
    check_namespaces(pipeline)?;
    check_references(pipeline)
}

fn check_variable_declarations(variables: &[PipelineVariableDeclaration]) -> Result<(), ApiError> {
    if variables.len() > MAX_VARIABLES {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'pipeline.variables' failed to satisfy \
             constraint: Member must have length less than or equal to {MAX_VARIABLES}"
        )));
    }
    let mut names = HashSet::new();
    for (i, variable) in variables.iter().enumerate() {
        let member = |m: &str| format!("pipeline.variables.{}.member.{m}", i + 1);
        check_name(&member("name"), &variable.name, MAX_VARIABLE_NAME)?;
        if let Some(value) = &variable.default_value {
            check_value(&member("defaultValue"), value)?;
        }
        if let Some(description) = &variable.description {
            check_len(&member("description"), description, MAX_DESCRIPTION)?;
        }
        if !names.insert(variable.name.as_str()) {
            return Err(ApiError::new(
                "InvalidStructureException",
                format!(
                    "Variable names must be unique. The following variable name is already \
                     in use: {}",
                    variable.name
                ),
            ));
        }
    }
    Ok(())
}

fn check_name(member: &str, name: &str, max: usize) -> Result<(), ApiError> {
    check_len(member, name, max)?;
    check_pattern(member, name, NAME_PATTERN)
}

/// A variable's value: 1..1000 characters ("anything except an empty
/// string").
fn check_value(member: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
        )));
    }
    check_len(member, value, MAX_VARIABLE_VALUE)
}

fn actions(pipeline: &PipelineDeclaration) -> impl Iterator<Item = (&str, &ActionDeclaration)> {
    pipeline
        .stages
        .iter()
        .flat_map(|s| s.actions.iter().map(move |a| (s.name.as_str(), a)))
}

fn check_namespaces(pipeline: &PipelineDeclaration) -> Result<(), ApiError> {
    let invalid = |message: String| ApiError::new("InvalidActionDeclarationException", message);
    let artifacts: HashSet<&str> = actions(pipeline)
        .flat_map(|(_, a)| &a.output_artifacts)
        .map(|a| a.name.as_str())
        .collect();
    let mut seen = HashSet::new();
    for (stage, action) in actions(pipeline) {
        let Some(namespace) = action.namespace.as_deref() else {
            continue;
        };
        check_name("action.namespace", namespace, MAX_NAMESPACE)?;
        let reserved =
            namespace == CODEPIPELINE || (namespace == VARIABLES && !pipeline.variables.is_empty());
        if reserved {
            return Err(invalid(format!(
                "Namespace '{namespace}' of action '{}' is reserved for CodePipeline's variables",
                action.name
            )));
        }
        if artifacts.contains(namespace) {
            return Err(invalid(format!(
                "Namespace '{namespace}' of action '{}' conflicts with an artifact name",
                action.name
            )));
        }
        if !seen.insert(namespace) {
            return Err(invalid(format!(
                "Namespaces must be unique across the pipeline definition. The following occur \
                 more than once in the pipeline. StageName=[{stage}], ActionName=[{}], \
                 Namespace=[{namespace}]",
                action.name
            )));
        }
    }
    Ok(())
}

/// Every reference must name a namespace an earlier action declares (a
/// later stage, or the same stage at a higher runOrder), `codepipeline`, or
/// a declared pipeline-level variable, which source actions may not use.
fn check_references(pipeline: &PipelineDeclaration) -> Result<(), ApiError> {
    let declared: HashSet<&str> = pipeline.variables.iter().map(|v| v.name.as_str()).collect();
    let mut earlier: HashSet<&str> = HashSet::new();
    for stage in &pipeline.stages {
        let mut orders: Vec<i64> = stage.actions.iter().map(|a| a.run_order()).collect();
        orders.sort_unstable();
        orders.dedup();
        for order in orders {
            let group: Vec<&ActionDeclaration> = stage
                .actions
                .iter()
                .filter(|a| a.run_order() == order)
                .collect();
            for action in &group {
                for (key, value) in &action.configuration {
                    for r in references(value) {
                        let at = Location {
                            stage: &stage.name,
                            action: &action.name,
                            key,
                            reference: r,
                        };
                        if earlier.contains(r.namespace) || r.namespace == CODEPIPELINE {
                            continue;
                        }
                        if r.namespace != VARIABLES || declared.is_empty() {
                            return Err(at.error(
                                "InvalidActionDeclarationException",
                                "Valid format for a pipeline execution variable reference is a \
                                 namespace and a key separated by a period (.). The following \
                                 pipeline execution variables are referencing a namespace that \
                                 does not exist.",
                            ));
                        }
                        if action.action_type_id.category == "Source" {
                            return Err(at.error(
                                "InvalidActionDeclarationException",
                                "Variables at the pipeline level cannot be used in source actions.",
                            ));
                        }
                        if !declared.contains(r.key) {
                            return Err(at.error(
                                "InvalidActionDeclarationException",
                                "The referenced variables haven't been declared.",
                            ));
                        }
                    }
                }
            }
            earlier.extend(group.iter().filter_map(|a| a.namespace.as_deref()));
        }
    }
    Ok(())
}

/// Where a reference is, as AWS's messages name it.
struct Location<'a> {
    stage: &'a str,
    action: &'a str,
    key: &'a str,
    reference: Reference<'a>,
}

impl Location<'_> {
    fn error(&self, code: &'static str, what: &str) -> ApiError {
        ApiError::new(
            code,
            format!(
                "{what}\nStageName=[{}], ActionName=[{}], ActionConfigurationKey=[{}], \
                 VariableReferenceText=[{}]",
                self.stage,
                self.action,
                self.key,
                self.reference.text()
            ),
        )
    }
}

/// The pipeline-level variables of a new execution, in declaration order:
/// each the value StartPipelineExecution gives it, else its default.
pub fn execution_values(
    declared: &[PipelineVariableDeclaration],
    given: Option<&[PipelineVariable]>,
) -> Result<Vec<(String, String)>, ApiError> {
    let given = given.unwrap_or_default();
    if given.len() > MAX_VARIABLES {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'variables' failed to satisfy constraint: \
             Member must have length less than or equal to {MAX_VARIABLES} (got {})",
            given.len()
        )));
    }
    let mut names = HashSet::new();
    for (i, variable) in given.iter().enumerate() {
        let member = |m: &str| format!("variables.{}.member.{m}", i + 1);
        check_name(&member("name"), &variable.name, MAX_VARIABLE_NAME)?;
        check_value(&member("value"), &variable.value)?;
        if !names.insert(variable.name.as_str()) {
            return Err(ApiError::validation(format!(
                "Variable '{}' is given more than once",
                variable.name
            )));
        }
        if !declared.iter().any(|d| d.name == variable.name) {
            return Err(ApiError::validation(format!(
                "Variable '{}' is not declared in the pipeline",
                variable.name
            )));
        }
    }
    let mut missing = Vec::new();
    let values = declared
        .iter()
        .filter_map(|d| {
            let value = given
                .iter()
                .find(|g| g.name == d.name)
                .map(|g| g.value.clone())
                .or_else(|| d.default_value.clone());
            if value.is_none() {
                missing.push(d.name.as_str());
            }
            Some((d.name.clone(), value?))
        })
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::validation(format!(
            "Values for required variables haven't been provided: {}",
            missing.join(",")
        )));
    }
    Ok(values)
}

#[cfg(test)]
mod tests;
