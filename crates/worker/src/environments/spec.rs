//! The deploy input's `operation`, `environment` and `ttlHours`, checked
//! (issue 19): what stack an environment is, and whether the input asks to
//! deploy it or tear it down. Every problem is found at once.

use super::name;
use serde_json::Value;

pub const OPERATION_KEY: &str = "operation";
pub const ENVIRONMENT_KEY: &str = "environment";
pub const TTL_KEY: &str = "ttlHours";
/// Where a `stackName` template puts the environment's name.
pub const PLACEHOLDER: &str = "{environment}";
/// A stack name's limit (CreateStack, CloudFormation API reference).
pub const MAX_STACK_NAME: usize = 128;
/// The longest `ttlHours`: a year. An environment meant to live longer is
/// not a branch's.
pub const MAX_TTL_HOURS: u64 = 24 * 366;

/// What the input asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Operation {
    /// Create or update the stack (no `operation` key, or `"deploy"`).
    #[default]
    Deploy,
    /// Tear the environment's stack down (`"delete"`).
    Delete,
}

/// A branch's environment: its sanitised name and its stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    pub stack_name: String,
    pub ttl_hours: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    pub operation: Operation,
    pub environment: Option<Environment>,
}

/// Reads the deploy input (one JSON object). The stack of an environment
/// is `<stackName>-<environment>`, or `stackName` with `{environment}`
/// replaced when it holds the placeholder.
pub fn parse(input: &Value) -> Result<Request, Vec<String>> {
    let mut problems = Vec::new();
    let operation = match input.get(OPERATION_KEY) {
        None => Operation::Deploy,
        Some(Value::String(s)) if s == "deploy" => Operation::Deploy,
        Some(Value::String(s)) if s == "delete" => Operation::Delete,
        Some(other) => {
            problems.push(format!(
                "operation {other} is not known: use \"deploy\" (the default: create or update \
                 the stack) or \"delete\" (tear an environment down)"
            ));
            Operation::Deploy
        }
    };
    let stack_name = input.get("stackName").and_then(Value::as_str).unwrap_or("");
    let environment = match input.get(ENVIRONMENT_KEY) {
        None => None,
        Some(Value::String(raw)) => match name::sanitise(raw) {
            Ok(name) => Some(name),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        },
        Some(other) => {
            problems.push(format!(
                "environment must be a string such as the branch's name; it is {}",
                crate::base::text::json_kind(other)
            ));
            None
        }
    };
    let named = input.get(ENVIRONMENT_KEY).is_some();
    if !named && stack_name.contains(PLACEHOLDER) {
        problems.push(format!(
            "stackName {stack_name:?} holds {PLACEHOLDER} but the input names no environment: \
             add \"environment\" (e.g. \"#{{variables.branch}}\")"
        ));
    }
    if operation == Operation::Delete && !named {
        problems.push(
            "operation \"delete\" tears down an environment: name it with \"environment\" \
             (only stacks cpsf deployed as an environment are ever deleted)"
                .into(),
        );
    }
    if operation == Operation::Delete && input.get("targets").is_some() {
        problems.push(
            "operation \"delete\" is not supported with targets: tear down the environment \
             where each target is with a delete input per target (its \"target\"), or remove \
             \"targets\""
                .into(),
        );
    }
    let ttl_hours = match input.get(TTL_KEY) {
        None => None,
        Some(value) => match value.as_u64() {
            Some(hours) if (1..=MAX_TTL_HOURS).contains(&hours) && named => Some(hours),
            Some(_) if !named => {
                problems.push("ttlHours applies to an environment: add \"environment\"".into());
                None
            }
            _ => {
                problems.push(format!(
                    "ttlHours must be a whole number of hours from 1 to {MAX_TTL_HOURS}; it is {value}"
                ));
                None
            }
        },
    };
    if named && let Some(tags) = input.get("tags").and_then(Value::as_object) {
        for key in tags.keys().filter(|k| k.starts_with(super::tags::PREFIX)) {
            problems.push(format!(
                "tag {key:?}: keys starting {:?} are cpsf's own on an environment's stack",
                super::tags::PREFIX
            ));
        }
    }
    let environment = environment.and_then(|name| {
        let stack = stack_name_for(stack_name, &name);
        match check_stack_name(&stack) {
            Ok(()) => Some(Environment {
                name,
                stack_name: stack,
                ttl_hours,
            }),
            Err(problem) => {
                problems.push(problem);
                None
            }
        }
    });
    if problems.is_empty() {
        Ok(Request {
            operation,
            environment,
        })
    } else {
        Err(problems)
    }
}

/// The stack an environment deploys: the template with the placeholder
/// filled, or the name with `-<environment>` after it.
pub fn stack_name_for(stack_name: &str, environment: &str) -> String {
    if stack_name.contains(PLACEHOLDER) {
        stack_name.replace(PLACEHOLDER, environment)
    } else {
        format!("{stack_name}-{environment}")
    }
}

/// CloudFormation's rule for a stack name: a letter, then letters, digits
/// and hyphens, 128 characters at most.
fn check_stack_name(stack: &str) -> Result<(), String> {
    let mut chars = stack.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !starts_with_letter || !rest_ok {
        return Err(format!(
            "the environment's stack name {stack:?} is not one CloudFormation accepts: it must \
             start with a letter and hold only letters, digits and hyphens"
        ));
    }
    if stack.len() > MAX_STACK_NAME {
        return Err(format!(
            "the environment's stack name {stack:?} is {} characters; CloudFormation's limit \
             is {MAX_STACK_NAME}: shorten stackName or the environment",
            stack.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn environment(input: Value) -> Environment {
        parse(&input).unwrap().environment.unwrap()
    }

    fn problems(input: Value) -> String {
        parse(&input).unwrap_err().join("\n")
    }

    #[test]
    fn no_environment_is_a_plain_deploy() {
        let plain = parse(&json!({"stackName": "app"})).unwrap();
        assert_eq!(plain, Request::default());
        let explicit = parse(&json!({"stackName": "app", "operation": "deploy"})).unwrap();
        assert_eq!(explicit.operation, Operation::Deploy);
    }

    #[test]
    fn the_stack_is_the_name_and_environment_or_the_template() {
        let suffixed = environment(json!({"stackName": "app", "environment": "Feature/12"}));
        assert_eq!(suffixed.name, "feature-12");
        assert_eq!(suffixed.stack_name, "app-feature-12");
        let templated = environment(
            json!({"stackName": "web-{environment}-api", "environment": "fix-1", "ttlHours": 48}),
        );
        assert_eq!(templated.stack_name, "web-fix-1-api");
        assert_eq!(templated.ttl_hours, Some(48));
    }

    #[test]
    fn delete_names_an_environment_and_has_no_targets() {
        let delete =
            parse(&json!({"stackName": "app", "environment": "f", "operation": "delete"})).unwrap();
        assert_eq!(delete.operation, Operation::Delete);
        assert!(
            problems(json!({"stackName": "app", "operation": "delete"}))
                .contains("name it with \"environment\"")
        );
        assert!(
            problems(
                json!({"stackName": "app", "environment": "f", "operation": "delete",
                "targets": [{"name": "a", "region": "us-east-1"}]})
            )
            .contains("not supported with targets")
        );
    }

    #[test]
    fn bad_input_is_refused_all_at_once() {
        let said = problems(json!({
            "stackName": "app", "operation": "destroy", "environment": "///", "ttlHours": 0,
            "tags": {"cpsf:environment": "x"}
        }));
        for expected in [
            "operation \"destroy\" is not known",
            "no letters or digits",
            "ttlHours must be a whole number of hours from 1 to 8784",
            "tag \"cpsf:environment\"",
        ] {
            assert!(said.contains(expected), "{expected}: {said}");
        }
        assert!(problems(json!({"stackName": "a-{environment}"})).contains("names no environment"));
        assert!(
            problems(json!({"stackName": "app", "ttlHours": 3}))
                .contains("applies to an environment")
        );
        assert!(
            problems(json!({"stackName": "app", "environment": 7})).contains("must be a string")
        );
    }

    #[test]
    fn the_whole_stack_name_must_suit_cloudformation() {
        let long = problems(json!({"stackName": "s".repeat(100), "environment": "x".repeat(40)}));
        assert!(
            long.contains("141 characters") && long.contains("limit is 128"),
            "{long}"
        );
        let digit_first = problems(json!({"stackName": "{environment}-app", "environment": "123"}));
        assert!(
            digit_first.contains("must start with a letter"),
            "{digit_first}"
        );
    }
}
