//! What a person looks at in the console: GetPipelineState,
//! GetPipelineExecution, ListPipelineExecutions, ListActionExecutions.

use super::protocol::{ApiError, ApiResult, decode, epoch, paginate};
use super::store::{ActionRun, ExecutionRecord, Store};
use cpsf_worker::pipeline::wire::{ActionTypeSettings, Configuration};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct NameInput {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionInput {
    pipeline_name: String,
    pipeline_execution_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListInput {
    pipeline_name: String,
    filter: Option<Value>,
    next_token: Option<String>,
    max_results: Option<usize>,
}

impl Store {
    pub fn get_pipeline_state(&mut self, input: Value) -> ApiResult {
        let input: NameInput = decode(input)?;
        let record = self.pipeline(&input.name)?;
        let executions = self.executions_newest_first(&input.name);
        let stages: Vec<Value> = record
            .declaration
            .stages
            .iter()
            .map(|stage| {
                // The newest execution that reached this stage.
                let latest = executions.iter().find_map(|e| {
                    let index = e
                        .declaration
                        .stages
                        .iter()
                        .position(|s| s.name == stage.name)?;
                    e.stage_status.get(index).map(|status| (e, *status))
                });
                let actions: Vec<Value> = stage
                    .actions
                    .iter()
                    .map(|action| {
                        let run = executions.iter().find_map(|e| {
                            e.actions.iter().rev().find(|a| {
                                a.stage_name == stage.name && a.action_name == action.name
                            })
                        });
                        let settings = self.settings(&action.action_type_id);
                        json!({
                            "actionName": action.name,
                            "latestExecution": run.map(|r| self.action_execution(r)),
                            "currentRevision": run
                                .and_then(|r| r.output_artifacts.first())
                                .and_then(|a| a.revision.as_ref())
                                .map(|rev| json!({ "revisionId": rev })),
                            "entityUrl": settings
                                .entity_url_template
                                .map(|t| expand_url(&t, &action.configuration, None)),
                        })
                    })
                    .collect();
                json!({
                    "stageName": stage.name,
                    "inboundTransitionState": { "enabled": true },
                    "actionStates": actions,
                    "latestExecution": latest.map(|(e, status)| json!({
                        "pipelineExecutionId": e.id,
                        "status": status.as_str(),
                    })),
                })
            })
            .collect();
        Ok(json!({
            "pipelineName": input.name,
            "pipelineVersion": record.declaration.version,
            "stageStates": stages,
            "created": epoch(record.created),
            "updated": epoch(record.updated),
        }))
    }

    pub fn get_pipeline_execution(&mut self, input: Value) -> ApiResult {
        let input: ExecutionInput = decode(input)?;
        self.pipeline(&input.pipeline_name)?;
        let exec = self.execution(&input.pipeline_name, &input.pipeline_execution_id)?;
        let revisions: Vec<Value> = source_runs(exec)
            .flat_map(|run| &run.output_artifacts)
            .map(|a| json!({ "name": a.name, "revisionId": a.revision }))
            .collect();
        Ok(json!({
            "pipelineExecution": {
                "pipelineName": exec.pipeline_name,
                "pipelineVersion": exec.declaration.version,
                "pipelineExecutionId": exec.id,
                "status": exec.status.as_str(),
                "statusSummary": exec.status_summary,
                "artifactRevisions": revisions,
                "variables": (!exec.variables.is_empty()).then(|| exec.variables.iter()
                    .map(|(name, value)| json!({ "name": name, "resolvedValue": value }))
                    .collect::<Vec<_>>()),
                "trigger": { "triggerType": "StartPipelineExecution" },
                "executionMode": "SUPERSEDED",
            }
        }))
    }

    pub fn list_pipeline_executions(&mut self, input: Value) -> ApiResult {
        let input: ListInput = decode(input)?;
        self.pipeline(&input.pipeline_name)?;
        let summaries: Vec<Value> = self
            .executions_newest_first(&input.pipeline_name)
            .into_iter()
            .map(|e| {
                let sources: Vec<Value> = source_runs(e)
                    .map(|run| json!({
                        "actionName": run.action_name,
                        "revisionId": run.output_artifacts.first().and_then(|a| a.revision.clone()),
                    }))
                    .collect();
                json!({
                    "pipelineExecutionId": e.id,
                    "status": e.status.as_str(),
                    "statusSummary": e.status_summary,
                    "startTime": epoch(e.started),
                    "lastUpdateTime": epoch(e.updated),
                    "sourceRevisions": sources,
                    "trigger": { "triggerType": "StartPipelineExecution" },
                    "stopTrigger": e.stop.as_ref().map(|s| json!({ "reason": s.reason })),
                    "executionMode": "SUPERSEDED",
                })
            })
            .collect();
        let (page, next) = paginate(
            &summaries,
            input.next_token.as_deref(),
            input.max_results,
            100,
        )?;
        Ok(json!({ "pipelineExecutionSummaries": page, "nextToken": next }))
    }

    pub fn list_action_executions(&mut self, input: Value) -> ApiResult {
        let input: ListInput = decode(input)?;
        self.pipeline(&input.pipeline_name)?;
        let wanted = input
            .filter
            .as_ref()
            .and_then(|f| f.get("pipelineExecutionId"))
            .and_then(Value::as_str);
        let executions: Vec<&ExecutionRecord> = match wanted {
            Some(id) => vec![self.execution(&input.pipeline_name, id)?],
            None => self.executions_newest_first(&input.pipeline_name),
        };
        let details: Vec<Value> = executions
            .iter()
            .flat_map(|e| e.actions.iter().rev().map(move |run| (e, run)))
            .map(|(e, run)| self.action_execution_detail(e, run))
            .collect();
        let (page, next) = paginate(
            &details,
            input.next_token.as_deref(),
            input.max_results,
            100,
        )?;
        Ok(json!({ "actionExecutionDetails": page, "nextToken": next }))
    }

    fn execution(&self, pipeline: &str, id: &str) -> Result<&ExecutionRecord, ApiError> {
        self.executions
            .get(id)
            .filter(|e| e.pipeline_name == pipeline)
            .ok_or_else(|| {
                ApiError::new(
                    "PipelineExecutionNotFoundException",
                    format!("Pipeline execution {id} of pipeline {pipeline} does not exist"),
                )
            })
    }

    fn executions_newest_first(&self, pipeline: &str) -> Vec<&ExecutionRecord> {
        self.executions_by_pipeline
            .get(pipeline)
            .map(|ids| ids.iter().rev().map(|id| &self.executions[id]).collect())
            .unwrap_or_default()
    }

    fn settings(&self, type_id: &cpsf_worker::pipeline::wire::ActionTypeId) -> ActionTypeSettings {
        self.action_type(type_id)
            .map(|t| t.settings)
            .unwrap_or_default()
    }

    fn execution_url(&self, run: &ActionRun) -> Option<String> {
        let template = self.settings(&run.action_type_id).execution_url_template?;
        let id = run.external_execution_id.as_deref()?;
        let configuration = run
            .resolved_configuration
            .as_ref()
            .unwrap_or(&run.configuration);
        Some(expand_url(&template, configuration, Some(id)))
    }

    /// The `latestExecution` of an action in GetPipelineState.
    fn action_execution(&self, run: &ActionRun) -> Value {
        json!({
            "actionExecutionId": run.action_execution_id,
            "status": run.status.as_str(),
            "summary": run.summary,
            "lastStatusChange": epoch(run.updated),
            "externalExecutionId": run.external_execution_id,
            "externalExecutionUrl": self.execution_url(run),
            "percentComplete": run.percent_complete,
            "errorDetails": run.error,
        })
    }

    fn action_execution_detail(&self, exec: &ExecutionRecord, run: &ActionRun) -> Value {
        let location = |a: &cpsf_worker::pipeline::wire::Artifact| {
            json!({
                "name": a.name,
                "s3location": {
                    "bucket": a.location.s3_location.bucket_name,
                    "key": a.location.s3_location.object_key,
                }
            })
        };
        let configuration = self.masked_configuration(&run.action_type_id, &run.configuration);
        // ActionExecutionInput: the configuration as declared, and with
        // every variable reference replaced (none when that failed).
        let resolved = run
            .resolved_configuration
            .as_ref()
            .map(|c| self.masked_configuration(&run.action_type_id, c));
        json!({
            "pipelineExecutionId": exec.id,
            "actionExecutionId": run.action_execution_id,
            "pipelineVersion": exec.declaration.version,
            "stageName": run.stage_name,
            "actionName": run.action_name,
            "startTime": epoch(run.started),
            "lastUpdateTime": epoch(run.updated),
            "status": run.status.as_str(),
            "input": {
                "actionTypeId": run.action_type_id,
                "configuration": configuration,
                "resolvedConfiguration": resolved,
                "region": self.config.region,
                "inputArtifacts": run.input_artifacts.iter().map(location).collect::<Vec<_>>(),
                "namespace": run.namespace,
            },
            "output": {
                "outputArtifacts": run.output_artifacts.iter().map(location).collect::<Vec<_>>(),
                "executionResult": {
                    "externalExecutionId": run.external_execution_id,
                    "externalExecutionSummary": run.summary,
                    "externalExecutionUrl": self.execution_url(run),
                    "errorDetails": run.error,
                },
                "outputVariables": run.output_variables,
            },
        })
    }
}

fn source_runs(exec: &ExecutionRecord) -> impl Iterator<Item = &ActionRun> {
    exec.actions
        .iter()
        .filter(|a| a.action_type_id.category == "Source")
}

/// Fills an action type's URL template: `{ExternalExecutionId}` and
/// `{Config:<property>}`, as AWS does.
pub fn expand_url(
    template: &str,
    configuration: &Configuration,
    external_id: Option<&str>,
) -> String {
    let mut url = template.to_string();
    if let Some(id) = external_id {
        url = url.replace("{ExternalExecutionId}", id);
    }
    for (key, value) in configuration {
        url = url.replace(&format!("{{Config:{key}}}"), value);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_url_fills_execution_id_and_config() {
        let config = Configuration::from([("Region".to_string(), "eu-west-1".to_string())]);
        let url = expand_url(
            "https://{Config:Region}.console/#/v2/executions/details/{ExternalExecutionId}",
            &config,
            Some("arn:x"),
        );
        assert_eq!(
            url,
            "https://eu-west-1.console/#/v2/executions/details/arn:x"
        );
    }
}
