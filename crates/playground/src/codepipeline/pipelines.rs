//! CreatePipeline, GetPipeline, UpdatePipeline, DeletePipeline, ListPipelines
//! and the structural checks AWS makes on a pipeline declaration.

use super::protocol::{ApiError, ApiResult, check_len, check_pattern, decode, epoch, paginate};
use super::store::{PipelineRecord, Store};
use super::variables;
use cpsf_worker::pipeline::wire::{
    ActionDeclaration, ActionTypeId, Configuration, PipelineDeclaration,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::SystemTime;

const MAX_CONFIGURATION_VALUE: usize = 1000;
/// What GetPipeline shows in place of a secret configuration value.
const MASK: &str = "****";

#[derive(Deserialize)]
struct PipelineInput {
    pipeline: PipelineDeclaration,
}

#[derive(Deserialize)]
struct NameInput {
    name: String,
    version: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListInput {
    next_token: Option<String>,
    max_results: Option<usize>,
}

impl Store {
    pub fn create_pipeline(&mut self, input: Value, now: SystemTime) -> ApiResult {
        let PipelineInput { mut pipeline } = decode(input)?;
        implied_type(&mut pipeline);
        self.validate_pipeline(&pipeline)?;
        if self.pipelines.contains_key(&pipeline.name) {
            return Err(ApiError::new(
                "PipelineNameInUseException",
                format!("A pipeline named {} already exists", pipeline.name),
            ));
        }
        pipeline.version = Some(1);
        let record = PipelineRecord {
            declaration: pipeline.clone(),
            created: now,
            updated: now,
        };
        self.pipelines.insert(pipeline.name.clone(), record);
        Ok(json!({ "pipeline": self.masked(&pipeline) }))
    }

    pub fn update_pipeline(&mut self, input: Value, now: SystemTime) -> ApiResult {
        let PipelineInput { mut pipeline } = decode(input)?;
        implied_type(&mut pipeline);
        self.validate_pipeline(&pipeline)?;
        let record = self.pipelines.get_mut(&pipeline.name).ok_or_else(|| {
            ApiError::validation(format!("Pipeline {} does not exist", pipeline.name))
        })?;
        let version = record.declaration.version.unwrap_or(1) + 1;
        pipeline.version = Some(version);
        record.declaration = pipeline.clone();
        record.updated = now;
        // What an update does to the executions in progress: executions.rs.
        self.end_by_update(&pipeline.name, version, now);
        Ok(json!({ "pipeline": self.masked(&pipeline) }))
    }

    pub fn get_pipeline(&mut self, input: Value) -> ApiResult {
        let input: NameInput = decode(input)?;
        let record = self.pipeline(&input.name)?;
        if let Some(v) = input.version
            && Some(v) != record.declaration.version
        {
            return Err(ApiError::new(
                "PipelineVersionNotFoundException",
                format!("Version {v} of pipeline {} is not available", input.name),
            ));
        }
        Ok(json!({
            "pipeline": self.masked(&record.declaration),
            "metadata": {
                "pipelineArn": self.pipeline_arn(&input.name),
                "created": epoch(record.created),
                "updated": epoch(record.updated),
            }
        }))
    }

    pub fn delete_pipeline(&mut self, input: Value) -> ApiResult {
        let input: NameInput = decode(input)?;
        self.pipelines.remove(&input.name);
        Ok(json!({}))
    }

    pub fn list_pipelines(&mut self, input: Value) -> ApiResult {
        let input: ListInput = decode(input)?;
        let summaries: Vec<Value> = self
            .pipelines
            .values()
            .map(|r| {
                json!({
                    "name": r.declaration.name,
                    "version": r.declaration.version,
                    "pipelineType": r.declaration.extra.get("pipelineType").cloned().unwrap_or(json!("V1")),
                    "executionMode": r.declaration.extra.get("executionMode").cloned().unwrap_or(json!("SUPERSEDED")),
                    "created": epoch(r.created),
                    "updated": epoch(r.updated),
                })
            })
            .collect();
        let (page, next) = paginate(
            &summaries,
            input.next_token.as_deref(),
            input.max_results,
            1000,
        )?;
        Ok(json!({ "pipelines": page, "nextToken": next }))
    }

    pub fn pipeline(&self, name: &str) -> Result<&PipelineRecord, ApiError> {
        self.pipelines.get(name).ok_or_else(|| {
            ApiError::new(
                "PipelineNotFoundException",
                format!(
                    "Account '{}' does not have a pipeline with name '{name}'",
                    self.config.account_id
                ),
            )
        })
    }

    /// The declaration with secret configuration values hidden, as AWS shows it.
    pub fn masked(&self, pipeline: &PipelineDeclaration) -> PipelineDeclaration {
        let mut pipeline = pipeline.clone();
        for action in pipeline
            .stages
            .iter_mut()
            .flat_map(|s| s.actions.iter_mut())
        {
            action.configuration =
                self.masked_configuration(&action.action_type_id, &action.configuration);
        }
        pipeline
    }

    pub fn masked_configuration(
        &self,
        type_id: &ActionTypeId,
        configuration: &Configuration,
    ) -> Configuration {
        let secrets: HashSet<String> = self
            .action_type(type_id)
            .map(|t| {
                t.action_configuration_properties
                    .into_iter()
                    .filter(|p| p.secret)
                    .map(|p| p.name)
                    .collect()
            })
            .unwrap_or_default();
        configuration
            .iter()
            .map(|(k, v)| {
                let v = if secrets.contains(k) {
                    MASK.to_string()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }

    fn validate_pipeline(&self, pipeline: &PipelineDeclaration) -> Result<(), ApiError> {
        validate_name("pipeline.name", &pipeline.name)?;
        variables::check_declaration(pipeline)?;
        match &pipeline.artifact_store {
            Some(store) if store.kind == "S3" && !store.location.is_empty() => {}
            _ => {
                return Err(ApiError::new(
                    "InvalidStructureException",
                    "The pipeline needs an artifactStore of type S3 with a bucket as its location",
                ));
            }
        }
        if pipeline.stages.len() < 2 {
            return Err(ApiError::new(
                "InvalidStructureException",
                "A pipeline must contain at least two stages",
            ));
        }
        let mut stage_names = HashSet::new();
        // Artifacts produced by earlier stages (and lower run orders).
        let mut available: HashSet<&str> = HashSet::new();
        for (index, stage) in pipeline.stages.iter().enumerate() {
            validate_name("stage.name", &stage.name)?;
            if !stage_names.insert(stage.name.as_str()) {
                return Err(ApiError::new(
                    "InvalidStageDeclarationException",
                    format!("Stage name '{}' is used more than once", stage.name),
                ));
            }
            if stage.actions.is_empty() {
                return Err(ApiError::new(
                    "InvalidStageDeclarationException",
                    format!("Stage '{}' has no actions", stage.name),
                ));
            }
            let mut action_names = HashSet::new();
            for action in &stage.actions {
                if !action_names.insert(action.name.as_str()) {
                    return Err(ApiError::new(
                        "InvalidActionDeclarationException",
                        format!(
                            "Action name '{}' is used more than once in stage '{}'",
                            action.name, stage.name
                        ),
                    ));
                }
                let is_source = action.action_type_id.category == "Source";
                if is_source != (index == 0) {
                    return Err(ApiError::new(
                        "InvalidStructureException",
                        format!(
                            "Action '{}': source actions belong in the first stage, and only there",
                            action.name
                        ),
                    ));
                }
                self.validate_action(action)?;
            }
            // Within a stage, an action sees outputs of lower run orders only.
            let mut orders: Vec<i64> = stage
                .actions
                .iter()
                .map(ActionDeclaration::run_order)
                .collect();
            orders.sort_unstable();
            orders.dedup();
            for order in orders {
                let group = stage.actions.iter().filter(|a| a.run_order() == order);
                for action in group.clone() {
                    if let Some(missing) = action
                        .input_artifacts
                        .iter()
                        .find(|a| !available.contains(a.name.as_str()))
                    {
                        return Err(ApiError::new(
                            "InvalidStructureException",
                            format!(
                                "Action '{}' reads artifact '{}', which no earlier action produces",
                                action.name, missing.name
                            ),
                        ));
                    }
                }
                for artifact in group.flat_map(|a| &a.output_artifacts) {
                    if !available.insert(artifact.name.as_str()) {
                        return Err(ApiError::new(
                            "InvalidStructureException",
                            format!(
                                "Output artifact name '{}' is used more than once",
                                artifact.name
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn validate_action(&self, action: &ActionDeclaration) -> Result<(), ApiError> {
        let invalid = |message: String| ApiError::new("InvalidActionDeclarationException", message);
        validate_name("action.name", &action.name)?;
        if !(1..=999).contains(&action.run_order()) {
            return Err(invalid(format!(
                "Action '{}': runOrder must be within 1..999",
                action.name
            )));
        }
        let action_type = self.action_type(&action.action_type_id).ok_or_else(|| {
            invalid(format!(
                "ActionType ({}) in action '{}' is not available",
                action.action_type_id, action.name
            ))
        })?;
        for (key, value) in &action.configuration {
            if !action_type
                .action_configuration_properties
                .iter()
                .any(|p| p.name == *key)
            {
                return Err(invalid(format!(
                    "Action configuration for action '{}' contains unknown configuration '{key}'",
                    action.name
                )));
            }
            check_len(
                &format!("configuration.{key}"),
                value,
                MAX_CONFIGURATION_VALUE,
            )?;
        }
        for property in action_type
            .action_configuration_properties
            .iter()
            .filter(|p| p.required)
        {
            if !action.configuration.contains_key(&property.name) {
                return Err(invalid(format!(
                    "Action configuration for action '{}' is missing required configuration '{}'",
                    action.name, property.name
                )));
            }
        }
        for (what, count, details) in [
            (
                "input",
                action.input_artifacts.len(),
                action_type.input_artifact_details,
            ),
            (
                "output",
                action.output_artifacts.len(),
                action_type.output_artifact_details,
            ),
        ] {
            let count = count as i64;
            if count < details.minimum_count || count > details.maximum_count {
                return Err(invalid(format!(
                    "Action '{}' has {count} {what} artifacts; its type allows {}..{}",
                    action.name, details.minimum_count, details.maximum_count
                )));
            }
        }
        Ok(())
    }
}

/// Pipeline, stage and action names: 1..100 of `[A-Za-z0-9.@_-]`.
fn validate_name(member: &str, name: &str) -> Result<(), ApiError> {
    check_len(member, name, 100)?;
    check_pattern(member, name, r"[A-Za-z0-9.@\-_]+")
}

/// A declaration with V2 members and no `pipelineType` is a V2 pipeline
/// (API reference, PipelineDeclaration: "Including V2 parameters … will
/// result in the pipeline having the V2 type").
fn implied_type(pipeline: &mut PipelineDeclaration) {
    if !pipeline.variables.is_empty() && !pipeline.extra.contains_key("pipelineType") {
        pipeline
            .extra
            .insert("pipelineType".into(), Value::String("V2".into()));
    }
}
