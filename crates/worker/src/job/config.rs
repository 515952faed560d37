//! The action's configuration, checked: what the pipeline's author set on
//! the Deploy action. Keys mirror AWS's built-in Step Functions action so a
//! pipeline can move between the two.

use crate::base::text::json_kind;
use serde_json::{Map, Value};
use std::collections::HashMap;

pub const STATE_MACHINE_ARN: &str = "StateMachineArn";
pub const EXECUTION_NAME_PREFIX: &str = "ExecutionNamePrefix";
pub const INPUT_TYPE: &str = "InputType";
pub const INPUT: &str = "Input";
/// In a Literal input: a file of the input artifact the rest of the
/// literal is laid over (`InputSource::FileWithOverrides`).
pub const INPUT_FILE: &str = "inputFile";

/// Longest prefix that still leaves room for `-<uuid>` in an 80-char name.
pub const MAX_PREFIX: usize = 80 - 1 - 36;

#[derive(Debug, Clone, PartialEq)]
pub struct ActionConfig {
    pub state_machine_arn: String,
    pub execution_name_prefix: Option<String>,
    pub input: InputSource,
}

/// Where the state machine's input comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum InputSource {
    /// `InputType=Literal` (the default): JSON written in the configuration.
    Literal(Map<String, Value>),
    /// `InputType=FilePath`: a file inside the first input artifact.
    FilePath(String),
    /// `InputType=Literal` whose JSON names an `inputFile`: that file, with
    /// the literal's other keys laid over its top-level keys. CodePipeline
    /// resolves variables (`#{variables.branch}`) in the literal, never in
    /// a file, so this is how one deploy file serves every branch with the
    /// action type's version 1 configuration: no new key, only JSON in
    /// `Input`. A key whose value is "" is left out, so a pipeline variable
    /// may default to nothing.
    FileWithOverrides {
        path: String,
        overrides: Map<String, Value>,
    },
}

/// A configuration the pipeline's author must fix; reported as
/// `ConfigurationError`. The message always names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ActionConfig {
    pub fn parse(config: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |key: &str| config.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let state_machine_arn = get(STATE_MACHINE_ARN)
            .ok_or_else(|| {
                ConfigError(format!(
                    "{STATE_MACHINE_ARN} is required: set it to the ARN of the state machine to run"
                ))
            })?
            .to_string();
        check_state_machine_arn(&state_machine_arn)?;
        let execution_name_prefix = get(EXECUTION_NAME_PREFIX).map(str::to_string);
        if let Some(prefix) = &execution_name_prefix {
            check_prefix(prefix)?;
        }
        let input = match get(INPUT_TYPE).unwrap_or("Literal") {
            "Literal" => literal_source(parse_literal(get(INPUT))?)?,
            "FilePath" => InputSource::FilePath(
                get(INPUT)
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "{INPUT} must name a file in the input artifact when {INPUT_TYPE} is FilePath \
                             (for example app/deploy.json)"
                        ))
                    })?
                    .to_string(),
            ),
            other => {
                return Err(ConfigError(format!(
                    "{INPUT_TYPE} '{other}' is not supported: use Literal (JSON in {INPUT}) \
                     or FilePath (a file in the input artifact named by {INPUT})"
                )));
            }
        };
        Ok(Self {
            state_machine_arn,
            execution_name_prefix,
            input,
        })
    }
}

/// `arn:<partition>:states:<region>:<account>:stateMachine:<name>`
fn check_state_machine_arn(arn: &str) -> Result<(), ConfigError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let valid = parts.len() == 7
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "states"
        && !parts[3].is_empty()
        && !parts[4].is_empty()
        && parts[5] == "stateMachine"
        && !parts[6].is_empty();
    if valid {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "{STATE_MACHINE_ARN} '{arn}' is not a state machine ARN; expected \
             arn:aws:states:<region>:<account>:stateMachine:<name>"
        )))
    }
}

fn check_prefix(prefix: &str) -> Result<(), ConfigError> {
    let valid_chars = prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid_chars && prefix.len() <= MAX_PREFIX {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "{EXECUTION_NAME_PREFIX} '{prefix}' must be 1..{MAX_PREFIX} characters of \
             A-Z, a-z, 0-9, '-' and '_' (the execution name adds '-' and a 36-character id)"
        )))
    }
}

/// A literal, or the file it names with the rest laid over.
fn literal_source(mut object: Map<String, Value>) -> Result<InputSource, ConfigError> {
    let Some(file) = object.remove(INPUT_FILE) else {
        return Ok(InputSource::Literal(object));
    };
    let path = file
        .as_str()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            ConfigError(format!(
                "{INPUT}'s {INPUT_FILE} must name a file in the input artifact (for example \
             \"deploy.json\"); it is {}",
                json_kind(&file)
            ))
        })?;
    object.retain(|_, value| value.as_str() != Some(""));
    Ok(InputSource::FileWithOverrides {
        path: path.to_string(),
        overrides: object,
    })
}

fn parse_literal(input: Option<&str>) -> Result<Map<String, Value>, ConfigError> {
    let Some(text) = input else {
        return Ok(Map::new());
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(ConfigError(format!(
            "{INPUT} must be a JSON object when {INPUT_TYPE} is Literal; it is {}",
            json_kind(&other)
        ))),
        Err(e) => {
            // serde_json ends with " at line L column C"; say it our way.
            let full = e.to_string();
            let reason = full.split(" at line ").next().unwrap_or(&full);
            Err(ConfigError(format!(
                "{INPUT} is not valid JSON: {reason} at line {}, column {}",
                e.line(),
                e.column()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:deploy";

    fn parse(pairs: &[(&str, &str)]) -> Result<ActionConfig, ConfigError> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ActionConfig::parse(&map)
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        parse(pairs).unwrap_err().0
    }

    #[test]
    fn defaults_to_an_empty_literal_object() {
        let config = parse(&[("StateMachineArn", ARN)]).unwrap();
        assert_eq!(config.input, InputSource::Literal(Map::new()));
        assert_eq!(config.execution_name_prefix, None);
    }

    #[test]
    fn reads_literal_and_file_path_inputs() {
        let literal = parse(&[("StateMachineArn", ARN), ("Input", r#"{"a": 1}"#)]).unwrap();
        assert_eq!(
            literal.input,
            InputSource::Literal(serde_json::json!({"a": 1}).as_object().unwrap().clone())
        );
        let file = parse(&[
            ("StateMachineArn", ARN),
            ("InputType", "FilePath"),
            ("Input", "app/deploy.json"),
        ])
        .unwrap();
        assert_eq!(file.input, InputSource::FilePath("app/deploy.json".into()));
    }

    #[test]
    fn a_literal_with_an_input_file_lays_its_keys_over_the_file() {
        let config = parse(&[
            ("StateMachineArn", ARN),
            (
                "Input",
                r#"{"inputFile": "app/deploy.json", "environment": "feature-1", "operation": ""}"#,
            ),
        ])
        .unwrap();
        let expected = serde_json::json!({"environment": "feature-1"});
        assert_eq!(
            config.input,
            InputSource::FileWithOverrides {
                path: "app/deploy.json".into(),
                overrides: expected.as_object().unwrap().clone(),
            }
        );
        let bad = error(&[("StateMachineArn", ARN), ("Input", r#"{"inputFile": 3}"#)]);
        assert!(bad.contains("inputFile must name a file"), "{bad}");
    }

    #[test]
    fn every_error_names_its_key() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "StateMachineArn is required"),
            (&[("StateMachineArn", "  ")], "StateMachineArn is required"),
            (
                &[("StateMachineArn", "arn:aws:lambda:us-east-1:1:function:f")],
                "StateMachineArn 'arn:aws:lambda",
            ),
            (
                &[("StateMachineArn", ARN), ("InputType", "Url")],
                "InputType 'Url' is not supported",
            ),
            (
                &[("StateMachineArn", ARN), ("Input", "[1]")],
                "Input must be a JSON object when InputType is Literal; it is an array",
            ),
            (
                &[("StateMachineArn", ARN), ("Input", "{\"a\":")],
                "Input is not valid JSON",
            ),
            (
                &[("StateMachineArn", ARN), ("InputType", "FilePath")],
                "Input must name a file",
            ),
            (
                &[
                    ("StateMachineArn", ARN),
                    ("ExecutionNamePrefix", "has space"),
                ],
                "ExecutionNamePrefix 'has space'",
            ),
        ];
        for (pairs, expected) in cases {
            let message = error(pairs);
            assert!(message.starts_with(expected), "{pairs:?}: {message}");
        }
    }

    #[test]
    fn invalid_json_reports_line_and_column() {
        let message = error(&[("StateMachineArn", ARN), ("Input", "{\n  \"a\": 1,\n}")]);
        assert!(message.contains("line 3, column 1"), "{message}");
    }

    #[test]
    fn prefix_length_leaves_room_for_the_id() {
        let ok = "p".repeat(MAX_PREFIX);
        assert!(parse(&[("StateMachineArn", ARN), ("ExecutionNamePrefix", &ok)]).is_ok());
        let long = "p".repeat(MAX_PREFIX + 1);
        assert!(
            error(&[("StateMachineArn", ARN), ("ExecutionNamePrefix", &long)]).contains("1..43")
        );
    }
}
