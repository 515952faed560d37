//! A parameter whose value is another stack's output (issue 29, item 1):
//! `{"fromStack": "todolayer-dev", "output": "LayerArn"}`. CloudFormation's
//! own `Fn::ImportValue` reads exports of the same account and region only
//! (CloudFormation user guide, "Fn::ImportValue"); a reference is read
//! where the deploy goes — the worker's account and region, or a rollout
//! target's through its role — by the task that makes the stack operation
//! (`cloudformation::outputs`), before it changes anything.
//!
//! Pure: the reference's shape (checked with the rest of the input, so a
//! malformed one fails before any deploy starts), where it is read, the
//! resolved values put in place, and the messages.

use crate::environments::spec::PLACEHOLDER;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The keys of a reference, exactly these two.
pub const FROM_STACK: &str = "fromStack";
pub const OUTPUT: &str = "output";

/// One reference: the stack and the output it names; as JSON, the
/// input's own `{"fromStack", "output"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    #[serde(rename = "fromStack")]
    pub stack: String,
    pub output: String,
}

/// Where references are read: an account and a region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    pub account: String,
    pub region: String,
}

impl Place {
    /// Where a deploy goes: a rollout target's region and account (its
    /// `account`, else the account of its role), else the worker's own,
    /// which the execution's ARN names
    /// (`arn:aws:states:<region>:<account>:execution:…`): the state
    /// machine runs in the worker's account and region.
    pub fn of(
        execution_arn: &str,
        target_region: Option<&str>,
        target_account: Option<&str>,
        target_role: Option<&str>,
    ) -> Place {
        let own = |index: usize| {
            execution_arn
                .split(':')
                .nth(index)
                .unwrap_or_default()
                .to_string()
        };
        let role_account = target_role.and_then(|arn| arn.split(':').nth(4));
        Place {
            account: target_account
                .or(role_account)
                .map(str::to_string)
                .unwrap_or_else(|| own(4)),
            region: target_region.map(str::to_string).unwrap_or_else(|| own(3)),
        }
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "account {}, region {}", self.account, self.region)
    }
}

/// A reference read: the value it gave and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub parameter: String,
    pub reference: Reference,
    pub place: Place,
    pub value: String,
}

/// A parameter's value as a reference: None when it is no object (a
/// plain value); an object must be a well-formed reference, else the
/// problem, naming the parameter.
pub fn parse(parameter: &str, value: &Value) -> Option<Result<Reference, String>> {
    let object = value.as_object()?;
    Some(shape(object).map_err(|problem| {
        format!(
            "parameter {parameter}: {problem}; a parameter's value is a string, number, \
             boolean or list, or another stack's output as \
             {{\"{FROM_STACK}\": \"<stack name>\", \"{OUTPUT}\": \"<output key>\"}}"
        )
    }))
}

/// An object as a reference, or what is wrong with its shape (for the
/// other inputs that take one, such as `approval.reviewUrl`).
pub fn shape(object: &Map<String, Value>) -> Result<Reference, String> {
    if let Some(other) = object.keys().find(|k| *k != FROM_STACK && *k != OUTPUT) {
        return Err(format!("unknown key '{other}' in a stack output reference"));
    }
    let text = |key: &str| match object.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(other) => Err(format!("'{key}' must be a non-empty string; it is {other}")),
        None => Err(format!("'{key}' is missing")),
    };
    let stack = text(FROM_STACK)?;
    let output = text(OUTPUT)?;
    if stack.contains(PLACEHOLDER) {
        return Err(format!(
            "'{FROM_STACK}' is '{stack}', whose {PLACEHOLDER} only an input with an \
             'environment' fills in: add one, or name the stack"
        ));
    }
    if !is_stack_name(&stack) {
        return Err(format!(
            "'{FROM_STACK}' is '{stack}', not a stack name (a letter, then letters, digits \
             and hyphens, at most 128)"
        ));
    }
    Ok(Reference { stack, output })
}

/// A stack name "must start with an alphabetic character and can't be
/// longer than 128 characters", letters, digits and hyphens only (API
/// reference, CreateStack, StackName).
fn is_stack_name(name: &str) -> bool {
    name.len() <= 128
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `parameters` with `{environment}` in each reference's stack name
/// replaced by `environment`, the branch environment's name: its stack
/// reads the same environment's other stacks (`{"fromStack":
/// "db-{environment}", …}`), as its `stackName` and plain values name it.
pub fn in_environment(parameters: &mut BTreeMap<String, Value>, environment: &str) {
    for value in parameters.values_mut() {
        fill_in(value, environment);
    }
}

/// `value`, when it is a reference, with `{environment}` in its stack
/// name replaced by `environment` (for the other inputs that take one,
/// such as `approval.reviewUrl`).
pub fn fill_in(value: &mut Value, environment: &str) {
    if let Some(Value::String(stack)) = value.as_object_mut().and_then(|o| o.get_mut(FROM_STACK)) {
        *stack = stack.replace(PLACEHOLDER, environment);
    }
}

/// The references among `parameters`, or every malformed one's problem.
pub fn of_parameters(
    parameters: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, Reference>, Vec<String>> {
    let mut found = BTreeMap::new();
    let mut problems = Vec::new();
    for (key, value) in parameters {
        match parse(key, value) {
            Some(Ok(reference)) => {
                found.insert(key.clone(), reference);
            }
            Some(Err(problem)) => problems.push(problem),
            None => {}
        }
    }
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(problems)
    }
}

/// The stacks to read, each once, in order.
pub fn stacks(references: &BTreeMap<String, Reference>) -> Vec<String> {
    let mut names: Vec<String> = references.values().map(|r| r.stack.clone()).collect();
    names.sort();
    names.dedup();
    names
}

/// The message when a referenced stack is not there; `whose` names what
/// holds the reference ("parameter LayerArn", "approval.reviewUrl").
pub fn no_stack(whose: &str, reference: &Reference, place: &Place) -> String {
    format!(
        "{whose}: stack {} does not exist, so it has no output {} (looked in {place})",
        reference.stack, reference.output
    )
}

/// The message when the stack has no such output; `available` are the
/// outputs it has.
pub fn no_output(
    whose: &str,
    reference: &Reference,
    place: &Place,
    available: &[String],
) -> String {
    let has = if available.is_empty() {
        "it has no outputs".to_string()
    } else {
        format!("it has {}", available.join(", "))
    };
    format!(
        "{whose}: stack {} has no output {} (looked in {place}; {has})",
        reference.stack, reference.output
    )
}

/// The message when reading a referenced stack was refused (`cause`:
/// AWS's AccessDenied), naming the parameters that reference it.
pub fn denied(
    stack: &str,
    references: &BTreeMap<String, Reference>,
    place: &Place,
    cause: &str,
) -> String {
    denied_to(&referencing(stack, references), stack, place, cause)
}

/// "parameter A, B": the parameters that reference `stack`.
pub fn referencing(stack: &str, references: &BTreeMap<String, Reference>) -> String {
    let parameters: Vec<&str> = references
        .iter()
        .filter(|(_, r)| r.stack == stack)
        .map(|(p, _)| p.as_str())
        .collect();
    format!("parameter {}", parameters.join(", "))
}

/// The message when reading `stack`'s outputs for `whose` was refused.
pub fn denied_to(whose: &str, stack: &str, place: &Place, cause: &str) -> String {
    format!(
        "{whose}: reading stack {stack}'s outputs (in {place}) was denied: {cause}. The \
         role deploying here may describe the stacks under its DeployedStackPrefix \
         (bootstrap/cpsf.yaml, bootstrap/target-account.yaml); reference one of those"
    )
}

/// Each reference resolved from the outputs found (`outputs[stack]`:
/// key → value; a stack absent from it does not exist), or the first
/// reference that cannot be, as its message.
pub fn resolve(
    references: &BTreeMap<String, Reference>,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
    place: &Place,
) -> Result<Vec<Resolved>, String> {
    references
        .iter()
        .map(|(parameter, reference)| {
            let whose = format!("parameter {parameter}");
            let value = value_of(&whose, reference, outputs.get(&reference.stack), place)?;
            Ok(Resolved {
                parameter: parameter.clone(),
                reference: reference.clone(),
                place: place.clone(),
                value,
            })
        })
        .collect()
}

/// The value `reference` names among `stack`'s outputs (key → value;
/// None: the stack does not exist), or why there is none, for `whose`.
pub fn value_of(
    whose: &str,
    reference: &Reference,
    stack: Option<&BTreeMap<String, String>>,
    place: &Place,
) -> Result<String, String> {
    let Some(stack) = stack else {
        return Err(no_stack(whose, reference, place));
    };
    match stack.get(&reference.output) {
        Some(value) => Ok(value.clone()),
        None => {
            let available: Vec<String> = stack.keys().cloned().collect();
            Err(no_output(whose, reference, place, &available))
        }
    }
}

/// `parameters` with each resolved reference replaced by its value.
pub fn substitute(
    parameters: &BTreeMap<String, Value>,
    resolved: &[Resolved],
) -> BTreeMap<String, Value> {
    let mut out = parameters.clone();
    for r in resolved {
        out.insert(r.parameter.clone(), Value::String(r.value.clone()));
    }
    out
}

/// Where each value came from, for the task's output and `cpsf history`:
/// `[{"parameter", "fromStack", "output", "account", "region"}]`. Not the
/// values: they are in the stack's parameters, and this list stays small.
pub fn sources(resolved: &[Resolved]) -> Value {
    Value::Array(
        resolved
            .iter()
            .map(|r| {
                serde_json::json!({
                    "parameter": r.parameter,
                    FROM_STACK: r.reference.stack,
                    OUTPUT: r.reference.output,
                    "account": r.place.account,
                    "region": r.place.region,
                })
            })
            .collect(),
    )
}

/// The summary's words for [`sources`]' list: "LayerArn ←
/// todolayer-dev.LayerArn (222222222222/eu-west-1)", joined by ", ";
/// empty when there is none (or the list is not one).
pub fn note(sources: &Value) -> String {
    let Some(items) = sources.as_array() else {
        return String::new();
    };
    let field = |item: &Value, key: &str| item[key].as_str().unwrap_or("?").to_string();
    items
        .iter()
        .map(|item| {
            format!(
                "{} ← {}.{} ({}/{})",
                field(item, "parameter"),
                field(item, FROM_STACK),
                field(item, OUTPUT),
                field(item, "account"),
                field(item, "region"),
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_environments_name_fills_in_the_stack_it_reads() {
        let mut parameters = params(json!({
            "Db": {"fromStack": "db-{environment}", "output": "Url"},
            "Stage": "{environment}"
        }));
        let unfilled = of_parameters(&parameters).unwrap_err();
        assert!(
            unfilled[0].contains("only an input with an 'environment' fills in"),
            "{unfilled:?}"
        );
        in_environment(&mut parameters, "feature-7");
        let found = of_parameters(&parameters).unwrap();
        assert_eq!(found["Db"].stack, "db-feature-7");
        // Plain values are filled in with the rest (`TaskInput::parameters`).
        assert_eq!(parameters["Stage"], "{environment}");
    }

    fn params(value: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(value).unwrap()
    }

    const ARN: &str = "arn:aws:states:us-east-1:111111111111:execution:cpsf-deploy:run-1";

    #[test]
    fn plain_values_are_no_references_and_a_reference_is_read() {
        let found = of_parameters(&params(json!({
            "Stage": "dev", "N": 3,
            "LayerArn": {"fromStack": "todolayer-dev", "output": "LayerArn"}
        })))
        .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found["LayerArn"],
            Reference {
                stack: "todolayer-dev".into(),
                output: "LayerArn".into()
            }
        );
    }

    #[test]
    fn malformed_references_are_refused_each_named() {
        let problems = of_parameters(&params(json!({
            "A": {"fromStack": "todolayer-dev"},
            "B": {"fromStack": "todolayer-dev", "output": "X", "region": "eu-west-1"},
            "C": {"fromStack": 3, "output": "X"},
            "D": {"fromStack": "1-bad_name", "output": "X"},
            "E": {"fromStack": "ok", "output": ""},
            "F": {},
        })))
        .unwrap_err();
        assert_eq!(problems.len(), 6, "{problems:?}");
        assert!(problems[0].starts_with("parameter A: 'output' is missing"));
        assert!(problems[1].contains("unknown key 'region'"));
        assert!(problems[2].contains("'fromStack' must be a non-empty string; it is 3"));
        assert!(problems[3].contains("not a stack name"));
        assert!(problems[4].contains("'output' must be a non-empty string"));
        assert!(problems[5].contains("'fromStack' is missing"));
    }

    #[test]
    fn the_place_is_the_targets_else_the_workers() {
        assert_eq!(
            Place::of(ARN, None, None, None),
            Place {
                account: "111111111111".into(),
                region: "us-east-1".into()
            }
        );
        let role = "arn:aws:iam::222222222222:role/cpsf-target";
        assert_eq!(
            Place::of(ARN, Some("eu-west-1"), None, Some(role)).to_string(),
            "account 222222222222, region eu-west-1"
        );
        assert_eq!(
            Place::of(ARN, Some("eu-west-1"), Some("333333333333"), Some(role)).account,
            "333333333333"
        );
        // Another region of the worker's own account.
        assert_eq!(
            Place::of(ARN, Some("eu-west-1"), None, None).account,
            "111111111111"
        );
    }

    fn layer() -> BTreeMap<String, BTreeMap<String, String>> {
        BTreeMap::from([(
            "todolayer-dev".to_string(),
            BTreeMap::from([("LayerArn".to_string(), "arn:layer:1".to_string())]),
        )])
    }

    #[test]
    fn resolved_values_replace_the_references_and_say_where_from() {
        let given = params(json!({
            "Stage": "dev",
            "LayerArn": {"fromStack": "todolayer-dev", "output": "LayerArn"}
        }));
        let references = of_parameters(&given).unwrap();
        let place = Place::of(ARN, Some("eu-west-1"), Some("222222222222"), None);
        let resolved = resolve(&references, &layer(), &place).unwrap();
        let put = substitute(&given, &resolved);
        assert_eq!(put["LayerArn"], "arn:layer:1");
        assert_eq!(put["Stage"], "dev");
        assert_eq!(
            note(&sources(&resolved)),
            "LayerArn ← todolayer-dev.LayerArn (222222222222/eu-west-1)"
        );
        assert_eq!(stacks(&references), ["todolayer-dev"]);
    }

    #[test]
    fn a_denied_read_names_the_parameters_and_the_stack() {
        let references = of_parameters(&params(json!({
            "A": {"fromStack": "shared", "output": "X"},
            "B": {"fromStack": "shared", "output": "Y"},
            "C": {"fromStack": "other", "output": "Z"}
        })))
        .unwrap();
        let place = Place::of(ARN, None, None, None);
        assert_eq!(
            denied("shared", &references, &place, "not authorized"),
            "parameter A, B: reading stack shared's outputs (in account 111111111111, region \
             us-east-1) was denied: not authorized. The role deploying here may describe the \
             stacks under its DeployedStackPrefix (bootstrap/cpsf.yaml, \
             bootstrap/target-account.yaml); reference one of those"
        );
    }

    #[test]
    fn a_missing_stack_or_output_names_the_stack_the_output_and_where() {
        let place = Place::of(ARN, Some("eu-west-1"), Some("222222222222"), None);
        let missing_output = of_parameters(&params(
            json!({"LayerArn": {"fromStack": "todolayer-dev", "output": "LayerVersion"}}),
        ))
        .unwrap();
        assert_eq!(
            resolve(&missing_output, &layer(), &place).unwrap_err(),
            "parameter LayerArn: stack todolayer-dev has no output LayerVersion (looked in \
             account 222222222222, region eu-west-1; it has LayerArn)"
        );
        let missing_stack = of_parameters(&params(
            json!({"LayerArn": {"fromStack": "todolayer-prod", "output": "LayerArn"}}),
        ))
        .unwrap();
        assert_eq!(
            resolve(&missing_stack, &layer(), &place).unwrap_err(),
            "parameter LayerArn: stack todolayer-prod does not exist, so it has no output \
             LayerArn (looked in account 222222222222, region eu-west-1)"
        );
    }
}
