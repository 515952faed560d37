//! Which fields of an execution's `outputs` object become the action's
//! output variables, and why the others were left out.
//!
//! The deploy already succeeded when this runs, so a field CodePipeline
//! would refuse is left out and named in the summary, never a reason to
//! fail the job (a refused PutJobSuccessResult would leave it unanswered).
//! AWS's rules (botocore codepipeline/2015-07-09/service-2.json): keys
//! match `[A-Za-z0-9@\-_]+` (OutputVariablesKey), values are strings, and
//! all of an action's variables together are at most 122,880 characters
//! (OutputVariablesSizeExceededException; user guide, "Quotas").

use crate::base::limits::MAX_OUTPUT_VARIABLES_CHARS;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Output keys have no length limit in the model; pipeline-level variable
/// names stop at 128 (PipelineVariable.name), and no real output name is
/// longer, so longer ones are left out rather than risk a refusal.
const MAX_KEY: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOut {
    NotScalar,
    BadName,
    Reserved,
    TooBig,
}

impl LeftOut {
    fn reason(self) -> &'static str {
        match self {
            LeftOut::NotScalar => "not a string, number or boolean",
            LeftOut::BadName => "CodePipeline allows only A-Z a-z 0-9 @ - _ in a name",
            LeftOut::Reserved => "set by cpsf",
            LeftOut::TooBig => "over CodePipeline's 122,880-character total",
        }
    }
}

fn valid_name(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '-' | '_'))
}

/// Adds the scalar fields of `outputs` to `variables` (which holds the
/// worker's own, never replaced), within the size limit, in key order
/// (serde_json's map is sorted), so the same output always exports the
/// same variables. Returns the fields left out, and why.
pub fn export(
    variables: &mut BTreeMap<String, String>,
    outputs: &Map<String, Value>,
) -> Vec<(String, LeftOut)> {
    let mut size: usize = variables.iter().map(|(k, v)| k.len() + v.len()).sum();
    let mut left_out = Vec::new();
    for (key, value) in outputs {
        let text = match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        let verdict = match text {
            None => Err(LeftOut::NotScalar),
            Some(_) if !valid_name(key) => Err(LeftOut::BadName),
            Some(_) if variables.contains_key(key) => Err(LeftOut::Reserved),
            Some(text) if size + key.len() + text.len() > MAX_OUTPUT_VARIABLES_CHARS => {
                Err(LeftOut::TooBig)
            }
            Some(text) => Ok(text),
        };
        match verdict {
            Ok(text) => {
                size += key.len() + text.len();
                variables.insert(key.clone(), text);
            }
            Err(why) => left_out.push((key.clone(), why)),
        }
    }
    left_out
}

/// "; left out of the output variables: 'a' (why), 'b' (why)", or nothing.
pub fn note(left_out: &[(String, LeftOut)]) -> String {
    if left_out.is_empty() {
        return String::new();
    }
    let named: Vec<String> = left_out
        .iter()
        .map(|(key, why)| format!("'{key}' ({})", why.reason()))
        .collect();
    format!("; left out of the output variables: {}", named.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(outputs: Value) -> (BTreeMap<String, String>, Vec<(String, LeftOut)>) {
        let mut variables = BTreeMap::from([("ExecutionArn".to_string(), "arn".to_string())]);
        let left = export(&mut variables, outputs.as_object().unwrap());
        (variables, left)
    }

    #[test]
    fn each_kind_of_field_is_kept_or_left_out_with_its_reason() {
        let (variables, left) = run(json!({
            "Url": "https://x", "Port": 443, "Ready": true,
            "Nested": {"a": 1}, "List": [1], "Null": null,
            "bad name": "x", "dotted.name": "x", "ümlaut": "x", "": "x",
            "ok@x-y_z": "v", "ExecutionArn": "spoofed",
        }));
        assert_eq!(variables["Url"], "https://x");
        assert_eq!(variables["Port"], "443");
        assert_eq!(variables["Ready"], "true");
        assert_eq!(variables["ok@x-y_z"], "v");
        assert_eq!(variables["ExecutionArn"], "arn");
        let why = |k: &str| left.iter().find(|(key, _)| key == k).map(|(_, w)| *w);
        for k in ["Nested", "List", "Null"] {
            assert_eq!(why(k), Some(LeftOut::NotScalar), "{k}");
        }
        for k in ["bad name", "dotted.name", "ümlaut", ""] {
            assert_eq!(why(k), Some(LeftOut::BadName), "{k:?}");
        }
        assert_eq!(why("ExecutionArn"), Some(LeftOut::Reserved));
        assert_eq!(left.len(), 8);
    }

    #[test]
    fn names_over_128_characters_are_left_out() {
        let (_, left) = run(json!({ "a".repeat(129): "x", "b".repeat(128): "y" }));
        assert_eq!(left, vec![("a".repeat(129), LeftOut::BadName)]);
    }

    #[test]
    fn the_total_stays_within_the_limit() {
        let big = "x".repeat(60_000);
        let (variables, left) = run(json!({"A": big, "B": big, "C": big, "D": "small"}));
        let size: usize = variables.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(size <= MAX_OUTPUT_VARIABLES_CHARS);
        assert_eq!(left, vec![("C".to_string(), LeftOut::TooBig)]);
        assert_eq!(variables["D"], "small");
    }

    #[test]
    fn the_note_names_each_key_and_why() {
        assert_eq!(note(&[]), "");
        assert_eq!(
            note(&[
                ("a b".into(), LeftOut::BadName),
                ("N".into(), LeftOut::NotScalar)
            ]),
            "; left out of the output variables: 'a b' (CodePipeline allows only A-Z a-z 0-9 @ - _ in a name), 'N' (not a string, number or boolean)"
        );
    }
}
