//! A request's members checked against its operation's input shape, as AWS
//! checks every request before it acts on it, and AWS's words for what
//! fails: "1 validation error detected: Value 'x' at 'stackName' failed to
//! satisfy constraint: Member must have length less than or equal to 128".
//!
//! Pure: a request as JSON (AWS JSON bodies as they are, Query forms read by
//! `query.rs`) in, violations out.

use super::model::{Kind, Length, Model, ShapeId};
use serde_json::Value;

/// One failed constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where, as AWS names it: lowerCamelCase members, list items as
    /// `tags.1.member`.
    pub path: String,
    pub value: Shown,
    /// AWS's words, e.g. "Member must not be null".
    pub constraint: String,
}

/// How a value appears in AWS's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// "Value null at": a required member is missing.
    Null,
    /// "Value at": the member is sensitive, so AWS leaves it out.
    Hidden,
    /// "Value 'x' at".
    Value(String),
}

impl Violation {
    /// As AWS writes it.
    pub fn describe(&self) -> String {
        let value = match &self.value {
            Shown::Null => "Value null".to_string(),
            Shown::Hidden => "Value".to_string(),
            Shown::Value(value) => format!("Value '{value}'"),
        };
        format!(
            "{value} at '{}' failed to satisfy constraint: {}",
            self.path, self.constraint
        )
    }

    /// Without the value (which may be a secret or a task token): for logs
    /// and test failures.
    pub fn summary(&self) -> String {
        format!("at '{}': {}", self.path, self.constraint)
    }
}

/// AWS's message for a request that failed `violations` (at least one).
pub fn message(violations: &[Violation]) -> String {
    let n = violations.len();
    let described: Vec<String> = violations.iter().map(Violation::describe).collect();
    format!(
        "{n} validation error{} detected: {}",
        if n == 1 { "" } else { "s" },
        described.join("; ")
    )
}

/// Every constraint of `shape` (and what it holds) that `value` fails.
pub fn validate(model: &Model, shape: ShapeId, value: &Value) -> Vec<Violation> {
    let mut found = Vec::new();
    check(model, shape, value, "", false, &mut found);
    found
}

fn check(
    model: &Model,
    id: ShapeId,
    value: &Value,
    path: &str,
    utf8_bytes: bool,
    found: &mut Vec<Violation>,
) {
    let shape = model.shape(id);
    let shown = || {
        if shape.sensitive {
            Shown::Hidden
        } else {
            Shown::Value(java_string(value))
        }
    };
    let fail = |found: &mut Vec<Violation>, constraint: String| {
        found.push(Violation {
            path: path.to_string(),
            value: shown(),
            constraint,
        })
    };
    match &shape.kind {
        Kind::Structure(members) => {
            let Some(object) = value.as_object() else {
                return;
            };
            for member in members {
                let at = child(path, &lower_first(&member.name));
                match object.get(&member.name) {
                    None | Some(Value::Null) if member.required => found.push(Violation {
                        path: at,
                        value: Shown::Null,
                        constraint: "Member must not be null".into(),
                    }),
                    None | Some(Value::Null) => {}
                    Some(inner) => check(model, member.shape, inner, &at, member.utf8_bytes, found),
                }
            }
        }
        Kind::List { member, length, .. } => {
            let Some(items) = value.as_array() else {
                return;
            };
            for constraint in length_constraints(items.len() as u64, *length, false) {
                fail(found, constraint);
            }
            for (i, item) in items.iter().enumerate() {
                let at = format!("{}.member", child(path, &(i + 1).to_string()));
                check(model, *member, item, &at, false, found);
            }
        }
        Kind::Map {
            key,
            value: value_shape,
            length,
            ..
        } => {
            let Some(entries) = value.as_object() else {
                return;
            };
            for constraint in length_constraints(entries.len() as u64, *length, false) {
                fail(found, constraint);
            }
            let mut key_failures = Vec::new();
            let mut value_failures = Vec::new();
            for (name, inner) in entries {
                key_failures.extend(scalar_constraints(model, *key, &Value::from(name.as_str())));
                if matches!(
                    model.shape(*value_shape).kind,
                    Kind::Structure(_) | Kind::List { .. } | Kind::Map { .. }
                ) {
                    check(model, *value_shape, inner, &child(path, name), false, found);
                } else {
                    value_failures.extend(scalar_constraints(model, *value_shape, inner));
                }
            }
            for (what, mut failures) in [("keys", key_failures), ("value", value_failures)] {
                failures.dedup();
                if !failures.is_empty() {
                    fail(
                        found,
                        format!(
                            "Map {what} must satisfy constraint: [{}]",
                            failures.join(", ")
                        ),
                    );
                }
            }
        }
        _ => {
            for constraint in scalar_constraints_counting(model, id, value, utf8_bytes) {
                fail(found, constraint);
            }
        }
    }
}

fn scalar_constraints(model: &Model, id: ShapeId, value: &Value) -> Vec<String> {
    scalar_constraints_counting(model, id, value, false)
}

/// What a string, number or boolean fails; `utf8_bytes`: a string's length
/// is its size in UTF-8 bytes.
fn scalar_constraints_counting(
    model: &Model,
    id: ShapeId,
    value: &Value,
    utf8_bytes: bool,
) -> Vec<String> {
    let mut failed = Vec::new();
    match &model.shape(id).kind {
        Kind::String {
            length,
            pattern,
            enum_values,
        } => {
            let Some(text) = value.as_str() else {
                return failed;
            };
            let size = if utf8_bytes {
                text.len()
            } else {
                text.chars().count()
            } as u64;
            failed.extend(length_constraints(size, *length, utf8_bytes));
            if let Some(pattern) = pattern
                && let Some(regex) = &pattern.regex
                && !regex.is_match(text)
            {
                failed.push(format!(
                    "Member must satisfy regular expression pattern: {}",
                    pattern.source
                ));
            }
            if let Some(allowed) = enum_values
                && !allowed.iter().any(|a| a == text)
            {
                failed.push(format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ));
            }
        }
        Kind::Number { min, max } => {
            let Some(number) = value.as_f64() else {
                return failed;
            };
            if let Some(max) = max
                && number > *max
            {
                failed.push(format!(
                    "Member must have value less than or equal to {max}"
                ));
            }
            if let Some(min) = min
                && number < *min
            {
                failed.push(format!(
                    "Member must have value greater than or equal to {min}"
                ));
            }
        }
        _ => {}
    }
    failed
}

fn length_constraints(size: u64, length: Length, utf8_bytes: bool) -> Vec<String> {
    let mut failed = Vec::new();
    if let Some(max) = length.max
        && size > max
    {
        failed.push(if utf8_bytes {
            format!("Member must have size less than or equal to {max} bytes in UTF-8 encoding")
        } else {
            format!("Member must have length less than or equal to {max}")
        });
    }
    if let Some(min) = length.min
        && size < min
    {
        failed.push(if utf8_bytes {
            format!("Member must have size greater than or equal to {min} bytes in UTF-8 encoding")
        } else {
            format!("Member must have length greater than or equal to {min}")
        });
    }
    failed
}

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// AWS names members in lowerCamelCase whatever the model's case
/// (`StackName` → `stackName`).
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A value as AWS (Java) prints it: strings bare, lists `[a, b]`, maps
/// and structures `{k=v}`.
fn java_string(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(java_string).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{k}={}", java_string(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Number(number) => number.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
    }
}
