//! A job as the worker sees it: the parts of CodePipeline's job data it
//! uses, in plain types. Secrets (artifact credentials, secret configuration
//! values) are kept out of `Debug` so no log line can carry them.

use crate::artifact::location::{ArtifactCredentials, ArtifactRef, EncryptionKey};
use aws_sdk_codepipeline::types as sdk;
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub nonce: Option<String>,
    pub context: PipelineContext,
    pub configuration: Configuration,
    pub input_artifacts: Vec<ArtifactRef>,
    pub output_artifacts: Vec<ArtifactRef>,
    pub credentials: Option<ArtifactCredentials>,
    pub encryption_key: Option<EncryptionKey>,
    pub continuation_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PipelineContext {
    pub pipeline_name: String,
    pub pipeline_execution_id: String,
    pub stage: String,
    pub action: String,
    pub action_execution_id: Option<String>,
}

/// The action configuration. Values can be secret, so `Debug` shows keys only.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Configuration(pub HashMap<String, String>);

impl fmt::Debug for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<&String> = self.0.keys().collect();
        keys.sort();
        f.debug_struct("Configuration")
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

/// Job data too broken to act on; the job is failed with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the job data from CodePipeline is incomplete: {0}")]
pub struct JobDataError(pub String);

impl Job {
    /// A job with nothing but defaults; fill in what is known.
    pub fn empty() -> Self {
        Self {
            id: String::new(),
            nonce: None,
            context: PipelineContext::default(),
            configuration: Configuration::default(),
            input_artifacts: Vec::new(),
            output_artifacts: Vec::new(),
            credentials: None,
            encryption_key: None,
            continuation_token: None,
        }
    }

    /// A job as PollForJobs returns it in JSON (`{"id", "data", "nonce",
    /// "accountId"}`), e.g. a saved event for `cpsf replay`.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, JobDataError> {
        use crate::pipeline::wire;
        let id = value["id"]
            .as_str()
            .ok_or_else(|| JobDataError("\"id\" is missing".into()))?;
        let data: wire::JobData = serde_json::from_value(value["data"].clone())
            .map_err(|e| JobDataError(format!("\"data\" is not job data: {e}")))?;
        let artifacts = |list: &[wire::Artifact]| -> Vec<ArtifactRef> {
            list.iter()
                .map(|a| ArtifactRef {
                    name: a.name.clone(),
                    bucket: a.location.s3_location.bucket_name.clone(),
                    key: a.location.s3_location.object_key.clone(),
                    revision: a.revision.clone(),
                })
                .collect()
        };
        let context = &data.pipeline_context;
        Ok(Self {
            id: id.to_string(),
            nonce: value["nonce"].as_str().map(str::to_string),
            context: PipelineContext {
                pipeline_name: context.pipeline_name.clone(),
                pipeline_execution_id: context.pipeline_execution_id.clone(),
                stage: context.stage.name.clone(),
                action: context.action.name.clone(),
                action_execution_id: Some(context.action.action_execution_id.clone()),
            },
            configuration: Configuration(
                data.action_configuration
                    .configuration
                    .clone()
                    .into_iter()
                    .collect(),
            ),
            input_artifacts: artifacts(&data.input_artifacts),
            output_artifacts: artifacts(&data.output_artifacts),
            credentials: Some(ArtifactCredentials {
                access_key_id: data.artifact_credentials.access_key_id.clone(),
                secret_access_key: data.artifact_credentials.secret_access_key.clone(),
                session_token: data.artifact_credentials.session_token.clone(),
            }),
            encryption_key: data.encryption_key.as_ref().map(|k| EncryptionKey {
                id: k.id.clone(),
                kind: k.kind.clone(),
            }),
            continuation_token: data.continuation_token.clone(),
        })
    }

    pub fn from_sdk(job: &sdk::Job) -> Result<Self, JobDataError> {
        let missing = |what: &str| JobDataError(format!("{what} is missing"));
        let id = job.id().ok_or_else(|| missing("the job id"))?.to_string();
        let data = job.data().ok_or_else(|| missing("data"))?;
        let context = data
            .pipeline_context()
            .ok_or_else(|| missing("pipelineContext"))?;
        let context = PipelineContext {
            pipeline_name: context.pipeline_name().unwrap_or_default().to_string(),
            pipeline_execution_id: context
                .pipeline_execution_id()
                .unwrap_or_default()
                .to_string(),
            stage: context
                .stage()
                .and_then(|s| s.name())
                .unwrap_or_default()
                .to_string(),
            action: context
                .action()
                .and_then(|a| a.name())
                .unwrap_or_default()
                .to_string(),
            action_execution_id: context
                .action()
                .and_then(|a| a.action_execution_id())
                .map(str::to_string),
        };
        let configuration = data
            .action_configuration()
            .and_then(|c| c.configuration())
            .cloned()
            .unwrap_or_default();
        Ok(Self {
            id,
            nonce: job.nonce().map(str::to_string),
            context,
            configuration: Configuration(configuration),
            input_artifacts: artifacts(data.input_artifacts())?,
            output_artifacts: artifacts(data.output_artifacts())?,
            credentials: data.artifact_credentials().map(|c| ArtifactCredentials {
                access_key_id: c.access_key_id().to_string(),
                secret_access_key: c.secret_access_key().to_string(),
                session_token: c.session_token().to_string(),
            }),
            encryption_key: data.encryption_key().map(|k| EncryptionKey {
                id: k.id().to_string(),
                kind: k.r#type().as_str().to_string(),
            }),
            continuation_token: data.continuation_token().map(str::to_string),
        })
    }
}

fn artifacts(list: &[sdk::Artifact]) -> Result<Vec<ArtifactRef>, JobDataError> {
    list.iter()
        .map(|a| {
            let name = a.name().unwrap_or_default().to_string();
            let s3 = a
                .location()
                .and_then(|l| l.s3_location())
                .ok_or_else(|| JobDataError(format!("artifact '{name}' has no S3 location")))?;
            Ok(ArtifactRef {
                bucket: s3.bucket_name().to_string(),
                key: s3.object_key().to_string(),
                revision: a.revision().map(str::to_string),
                name,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secrets() {
        let job = Job {
            id: "j".into(),
            nonce: None,
            context: PipelineContext::default(),
            configuration: Configuration(HashMap::from([(
                "Token".into(),
                "hunter2-config".into(),
            )])),
            input_artifacts: vec![],
            output_artifacts: vec![],
            credentials: Some(ArtifactCredentials {
                access_key_id: "AKIDSECRET".into(),
                secret_access_key: "hunter2-secret".into(),
                session_token: "hunter2-session".into(),
            }),
            encryption_key: None,
            continuation_token: None,
        };
        let shown = format!("{job:?} {job:#?}");
        for secret in ["hunter2", "AKIDSECRET"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("Token"), "keys are shown: {shown}");
    }
}
