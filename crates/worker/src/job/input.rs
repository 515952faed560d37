//! The state machine's input and the execution's name, built from the job.
//!
//! Both are deterministic for a given action execution, which is what makes
//! starting the execution idempotent (see `handle.rs`).

use super::config::MAX_PREFIX;
use super::data::Job;
use crate::base::limits::{MAX_INPUT_BYTES, PIPELINE_KEY};
use crate::base::text::json_kind;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("{path} is not valid JSON: {reason} at line {line}, column {column}")]
    NotJson {
        path: String,
        reason: String,
        line: usize,
        column: usize,
    },
    #[error("{path} must hold a JSON object; it holds {kind}")]
    NotObject { path: String, kind: &'static str },
    #[error(
        "the input already has a '{PIPELINE_KEY}' key; cpsf reserves it for the pipeline's context: rename yours"
    )]
    ReservedKey,
    #[error(
        "the state machine input is {bytes} bytes; Step Functions accepts at most {MAX_INPUT_BYTES}: \
         pass large data by S3 reference instead"
    )]
    TooLarge { bytes: usize },
}

/// Parses an input file from the artifact: it must be a JSON object.
pub fn parse_input_file(path: &str, bytes: &[u8]) -> Result<Map<String, Value>, InputError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(InputError::NotObject {
            path: path.to_string(),
            kind: json_kind(&other),
        }),
        Err(e) => {
            let full = e.to_string();
            // serde_json appends " at line L column C"; we say it our way.
            let reason = full.split(" at line ").next().unwrap_or(&full).to_string();
            Err(InputError::NotJson {
                path: path.to_string(),
                reason,
                line: e.line(),
                column: e.column(),
            })
        }
    }
}

/// The user's object plus the reserved `pipeline` key. Never credentials:
/// an execution's input is readable by anyone who can read its history.
pub fn state_machine_input(
    mut object: Map<String, Value>,
    job: &Job,
) -> Result<String, InputError> {
    if object.contains_key(PIPELINE_KEY) {
        return Err(InputError::ReservedKey);
    }
    let artifacts: Vec<Value> = job
        .input_artifacts
        .iter()
        .map(|a| json!({"name": a.name, "bucket": a.bucket, "key": a.key, "revision": a.revision}))
        .collect();
    let context = &job.context;
    object.insert(
        PIPELINE_KEY.into(),
        json!({
            "pipelineName": context.pipeline_name,
            "pipelineExecutionId": context.pipeline_execution_id,
            "stage": context.stage,
            "action": context.action,
            "actionExecutionId": context.action_execution_id,
            "jobId": job.id,
            "artifacts": artifacts,
        }),
    );
    let text = Value::Object(object).to_string();
    if text.len() > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge { bytes: text.len() });
    }
    Ok(text)
}

/// `<prefix>-<action execution id>`: one name per action execution, so a
/// retried start can never make a second execution. The prefix defaults to
/// the pipeline's name; the result is ≤ 80 chars of `[A-Za-z0-9_-]`.
pub fn execution_name(prefix: Option<&str>, job: &Job) -> String {
    let prefix = prefix.unwrap_or(&job.context.pipeline_name);
    let id = job
        .context
        .action_execution_id
        .as_deref()
        .unwrap_or(&job.id);
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let mut prefix: String = clean(prefix).chars().take(MAX_PREFIX).collect();
    if prefix.is_empty() {
        prefix = "cpsf".into();
    }
    let name = format!("{prefix}-{}", clean(id));
    name.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::location::{ArtifactCredentials, ArtifactRef};
    use crate::job::data::{Configuration, PipelineContext};

    pub fn job() -> Job {
        Job {
            id: "11111111-2222-3333-4444-555555555555".into(),
            nonce: Some("n".into()),
            context: PipelineContext {
                pipeline_name: "my.app@prod".into(),
                pipeline_execution_id: "pe-1".into(),
                stage: "Deploy".into(),
                action: "Deploy".into(),
                action_execution_id: Some("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".into()),
            },
            configuration: Configuration::default(),
            input_artifacts: vec![ArtifactRef {
                name: "SourceOutput".into(),
                bucket: "artifacts".into(),
                key: "app/SourceOut/abc".into(),
                revision: Some("v1".into()),
            }],
            output_artifacts: vec![],
            credentials: Some(ArtifactCredentials {
                access_key_id: "AKID".into(),
                secret_access_key: "SECRET".into(),
                session_token: "TOKEN".into(),
            }),
            encryption_key: None,
            continuation_token: None,
        }
    }

    #[test]
    fn input_adds_the_pipeline_context_and_no_credentials() {
        let object = json!({"stackName": "app"}).as_object().unwrap().clone();
        let text = state_machine_input(object, &job()).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["stackName"], "app");
        assert_eq!(value["pipeline"]["pipelineName"], "my.app@prod");
        assert_eq!(
            value["pipeline"]["jobId"],
            "11111111-2222-3333-4444-555555555555"
        );
        assert_eq!(
            value["pipeline"]["artifacts"][0],
            json!({"name": "SourceOutput", "bucket": "artifacts", "key": "app/SourceOut/abc", "revision": "v1"})
        );
        for secret in ["AKID", "SECRET", "TOKEN"] {
            assert!(!text.contains(secret), "{text}");
        }
    }

    #[test]
    fn input_is_deterministic_and_refuses_the_reserved_key_and_oversize() {
        let object = || json!({"b": 1, "a": 2}).as_object().unwrap().clone();
        assert_eq!(
            state_machine_input(object(), &job()),
            state_machine_input(object(), &job())
        );
        let reserved = json!({"pipeline": 1}).as_object().unwrap().clone();
        assert_eq!(
            state_machine_input(reserved, &job()),
            Err(InputError::ReservedKey)
        );
        let big = json!({"blob": "x".repeat(MAX_INPUT_BYTES)})
            .as_object()
            .unwrap()
            .clone();
        assert!(matches!(
            state_machine_input(big, &job()),
            Err(InputError::TooLarge { .. })
        ));
    }

    #[test]
    fn input_files_must_be_json_objects() {
        assert_eq!(parse_input_file("d.json", b"{\"a\": 1}").unwrap()["a"], 1);
        assert_eq!(
            parse_input_file("d.json", b"[1]").unwrap_err().to_string(),
            "d.json must hold a JSON object; it holds an array"
        );
        assert_eq!(
            parse_input_file("d.json", b"{\n  \"a\": 1,\n}")
                .unwrap_err()
                .to_string(),
            "d.json is not valid JSON: trailing comma at line 3, column 1"
        );
    }

    #[test]
    fn execution_names_are_safe_and_bounded() {
        let job = job();
        assert_eq!(
            execution_name(None, &job),
            "my_app_prod-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
        );
        assert_eq!(
            execution_name(Some("deploy"), &job),
            "deploy-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
        );
        let mut long = job.clone();
        long.context.pipeline_name = "p".repeat(100);
        let name = execution_name(None, &long);
        assert_eq!(name.len(), 80);
        assert!(name.ends_with("-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"));
        let mut no_action_id = job.clone();
        no_action_id.context.action_execution_id = None;
        assert!(execution_name(None, &no_action_id).ends_with(&job.id));
    }
}
