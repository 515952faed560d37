//! Wire shapes of the CodePipeline API (AWS JSON 1.1, camelCase members):
//! what the local CodePipeline service speaks, and how `cpsf replay` reads
//! a saved job.
//!
//! Only the members the local service reads or writes are typed. Declarations
//! a client sends (pipelines, actions) keep unknown members in `extra` so that
//! GetPipeline returns what CreatePipeline was given.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Configuration of an action: property name to value, as AWS sends it.
pub type Configuration = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionTypeId {
    pub category: String,
    pub owner: String,
    pub provider: String,
    pub version: String,
}

impl std::fmt::Display for ActionTypeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.category, self.owner, self.provider, self.version
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionTypeSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub third_party_configuration_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_url_template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_url_template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision_url_template: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationProperty {
    pub name: String,
    pub required: bool,
    pub key: bool,
    pub secret: bool,
    #[serde(default)]
    pub queryable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactDetails {
    pub minimum_count: i64,
    pub maximum_count: i64,
}

/// An action type as ListActionTypes and CreateCustomActionType return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionType {
    pub id: ActionTypeId,
    #[serde(default)]
    pub settings: ActionTypeSettings,
    #[serde(default)]
    pub action_configuration_properties: Vec<ConfigurationProperty>,
    pub input_artifact_details: ArtifactDetails,
    pub output_artifact_details: ArtifactDetails,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionKey {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactStore {
    #[serde(rename = "type")]
    pub kind: String,
    pub location: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<EncryptionKey>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactName {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionDeclaration {
    pub name: String,
    pub action_type_id: ActionTypeId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_order: Option<i64>,
    #[serde(default, skip_serializing_if = "Configuration::is_empty")]
    pub configuration: Configuration,
    #[serde(default)]
    pub output_artifacts: Vec<ArtifactName>,
    #[serde(default)]
    pub input_artifacts: Vec<ArtifactName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Members the local service does not interpret (roleArn, region, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ActionDeclaration {
    /// Actions without a runOrder run first, as in AWS.
    pub fn run_order(&self) -> i64 {
        self.run_order.unwrap_or(1)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageDeclaration {
    pub name: String,
    pub actions: Vec<ActionDeclaration>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineDeclaration {
    pub name: String,
    pub role_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_store: Option<ArtifactStore>,
    pub stages: Vec<StageDeclaration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Pipeline-level variables (V2 pipelines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<PipelineVariableDeclaration>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A pipeline-level variable as a V2 pipeline declares it
/// (API reference, PipelineVariableDeclaration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineVariableDeclaration {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A value StartPipelineExecution gives a pipeline-level variable
/// (API reference, PipelineVariable).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PipelineVariable {
    pub name: String,
    pub value: String,
}

impl PipelineDeclaration {
    /// `pipelineType` as declared; AWS's default is V1.
    pub fn pipeline_type(&self) -> &str {
        self.extra
            .get("pipelineType")
            .and_then(Value::as_str)
            .unwrap_or("V1")
    }

    pub fn action(&self, stage: usize, action: &str) -> Option<&ActionDeclaration> {
        self.stages
            .get(stage)?
            .actions
            .iter()
            .find(|a| a.name == action)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3ArtifactLocation {
    pub bucket_name: String,
    pub object_key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactLocation {
    #[serde(rename = "type")]
    pub kind: String,
    pub s3_location: S3ArtifactLocation,
}

/// An artifact as job data carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    pub location: ArtifactLocation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionContext {
    pub name: String,
    pub action_execution_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageContext {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineContext {
    pub pipeline_name: String,
    pub stage: StageContext,
    pub action: ActionContext,
    pub pipeline_arn: String,
    pub pipeline_execution_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionConfiguration {
    pub configuration: Configuration,
}

/// What a job worker gets to do its work: PollForJobs' `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobData {
    pub action_type_id: ActionTypeId,
    pub action_configuration: ActionConfiguration,
    pub pipeline_context: PipelineContext,
    pub input_artifacts: Vec<Artifact>,
    pub output_artifacts: Vec<Artifact>,
    pub artifact_credentials: SessionCredentials,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<EncryptionKey>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetails {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetails {
    pub summary: Option<String>,
    pub external_execution_id: Option<String>,
    pub percent_complete: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureDetails {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    pub external_execution_id: Option<String>,
}

/// Failure types PutJobFailureResult accepts.
pub const FAILURE_TYPES: &[&str] = &[
    "JobFailed",
    "ConfigurationError",
    "PermissionError",
    "RevisionOutOfSync",
    "RevisionUnavailable",
    "SystemUnavailable",
];

/// Action categories CreateCustomActionType accepts.
pub const CATEGORIES: &[&str] = &[
    "Source", "Build", "Deploy", "Test", "Invoke", "Approval", "Compute",
];
