//! Running pipelines: StartPipelineExecution, StopPipelineExecution, and the
//! engine that moves an execution through its stages.
//!
//! Stages run in order; within a stage, actions run in groups of equal
//! runOrder, lowest first. A failed action fails its stage and the
//! execution; so does an update of the pipeline, once the running actions
//! complete. `advance` is the one place that decides what runs next; every
//! event (an action finishing, a stop, an update) updates the records and
//! calls it.

use super::protocol::{ApiError, ApiResult, decode};
use super::store::{
    ActionRun, ActionStatus, Effect, ExecutionRecord, JobStatus, RunStatus, StopRequest, Store,
    new_id,
};
use super::variables;
use cpsf_worker::pipeline::wire::{
    ActionDeclaration, Artifact, ArtifactLocation, ErrorDetails, PipelineVariable,
    S3ArtifactLocation,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::SystemTime;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartInput {
    name: String,
    /// Idempotency: a retried start with the same token is the same start.
    client_request_token: Option<String>,
    /// Values for the pipeline-level variables.
    variables: Option<Vec<PipelineVariable>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopInput {
    pipeline_name: String,
    pipeline_execution_id: String,
    #[serde(default)]
    abandon: bool,
    reason: Option<String>,
}

/// How an action ended, as reported by a job worker or the source copy.
#[derive(Debug, Clone)]
pub enum ActionOutcome {
    Succeeded {
        /// Revision of the (single) output artifact, for source actions.
        revision: Option<String>,
        /// Output variables of an action the service runs itself (a
        /// source action); a job's come with PutJobSuccessResult.
        variables: BTreeMap<String, String>,
    },
    Failed(ErrorDetails),
}

impl Store {
    pub fn start_pipeline_execution(&mut self, input: Value, now: SystemTime) -> ApiResult {
        let input: StartInput = decode(input)?;
        let declaration = self.pipeline(&input.name)?.declaration.clone();
        let variables =
            variables::execution_values(&declaration.variables, input.variables.as_deref())?;
        let token = input
            .client_request_token
            .map(|t| format!("{}\u{0}{t}", input.name));
        if let Some(id) = token.as_ref().and_then(|t| self.start_tokens.get(t)) {
            return Ok(json!({ "pipelineExecutionId": id }));
        }
        let id = new_id();
        if let Some(token) = token {
            self.start_tokens.insert(token, id.clone());
        }
        self.executions.insert(
            id.clone(),
            ExecutionRecord {
                id: id.clone(),
                pipeline_name: input.name.clone(),
                declaration,
                status: RunStatus::InProgress,
                status_summary: None,
                started: now,
                updated: now,
                stage_index: 0,
                stage_status: vec![RunStatus::InProgress],
                actions: Vec::new(),
                artifacts: Default::default(),
                stop: None,
                updated_to: None,
                variables,
            },
        );
        self.executions_by_pipeline
            .entry(input.name)
            .or_default()
            .push(id.clone());
        self.advance(&id, now);
        Ok(json!({ "pipelineExecutionId": id }))
    }

    pub fn stop_pipeline_execution(&mut self, input: Value, now: SystemTime) -> ApiResult {
        let input: StopInput = decode(input)?;
        self.pipeline(&input.pipeline_name)?;
        let exec = self
            .executions
            .get_mut(&input.pipeline_execution_id)
            .filter(|e| e.pipeline_name == input.pipeline_name)
            .ok_or_else(|| {
                ApiError::new(
                    "PipelineExecutionNotStoppableException",
                    format!("Execution {} does not exist", input.pipeline_execution_id),
                )
            })?;
        match exec.status {
            RunStatus::InProgress => {}
            RunStatus::Stopping if input.abandon => {}
            RunStatus::Stopping => {
                return Err(ApiError::new(
                    "DuplicatedStopRequestException",
                    "The execution is already stopping",
                ));
            }
            other => {
                return Err(ApiError::new(
                    "PipelineExecutionNotStoppableException",
                    format!("The execution is {} and cannot be stopped", other.as_str()),
                ));
            }
        }
        exec.status = RunStatus::Stopping;
        exec.status_summary = input.reason.clone();
        exec.stop = Some(StopRequest {
            reason: input.reason,
        });
        exec.updated = now;
        if input.abandon {
            let abandoned: Vec<Option<String>> = exec
                .actions
                .iter_mut()
                .filter(|a| a.status == ActionStatus::InProgress)
                .map(|a| {
                    a.status = ActionStatus::Abandoned;
                    a.updated = now;
                    a.job_id.clone()
                })
                .collect();
            // An abandoned action's job can no longer be polled or answered.
            for job_id in abandoned.into_iter().flatten() {
                self.close_job(&job_id, JobStatus::Failed);
            }
        }
        self.advance(&input.pipeline_execution_id, now);
        Ok(json!({ "pipelineExecutionId": input.pipeline_execution_id }))
    }

    /// UpdatePipeline made `version` of `pipeline`: its executions in
    /// progress end as AWS documents (user guide, "Edit a pipeline in
    /// CodePipeline", https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-edit.html):
    /// "When you update a pipeline, CodePipeline gracefully completes all
    /// the running actions and then fails the stages and pipeline executions
    /// where the running actions were completed." So a running action's job
    /// still takes its results (continuations too) and they are recorded;
    /// no further action or stage starts; the stage and the execution end
    /// Failed. Nothing reruns: "editing a pipeline does not rerun the most
    /// recent revision" (same page). An execution already Stopping keeps the
    /// end its stop asked for: the guide does not say an update overrides it.
    pub fn end_by_update(&mut self, pipeline: &str, version: i64, now: SystemTime) {
        let ids = self
            .executions_by_pipeline
            .get(pipeline)
            .cloned()
            .unwrap_or_default();
        for id in ids {
            let Some(exec) = self.executions.get_mut(&id) else {
                continue;
            };
            if exec.status != RunStatus::InProgress {
                continue;
            }
            exec.updated_to = Some(version);
            exec.updated = now;
            self.advance(&id, now);
        }
    }

    /// Records how an action ended and moves its execution on.
    pub fn finish_action(
        &mut self,
        execution_id: &str,
        action_execution_id: &str,
        outcome: ActionOutcome,
        now: SystemTime,
    ) {
        let Some(exec) = self.executions.get_mut(execution_id) else {
            return;
        };
        let Some(run) = exec.actions.iter_mut().find(|a| {
            a.action_execution_id == action_execution_id && a.status == ActionStatus::InProgress
        }) else {
            return;
        };
        run.updated = now;
        run.job_id = None;
        let state = match outcome {
            ActionOutcome::Succeeded { .. } => "SUCCEEDED",
            ActionOutcome::Failed(_) => "FAILED",
        };
        match outcome {
            ActionOutcome::Succeeded {
                revision,
                variables,
            } => {
                run.status = ActionStatus::Succeeded;
                if !variables.is_empty() {
                    run.output_variables = variables;
                }
                for artifact in &mut run.output_artifacts {
                    if revision.is_some() {
                        artifact.revision = revision.clone();
                    }
                    exec.artifacts
                        .insert(artifact.name.clone(), artifact.clone());
                }
            }
            ActionOutcome::Failed(error) => {
                exec.status_summary = Some(format!(
                    "Action {} failed: {}",
                    run.action_name, error.message
                ));
                run.status = ActionStatus::Failed;
                run.error = Some(error);
            }
        }
        self.emit(execution_id, action_execution_id, state);
        self.advance(execution_id, now);
    }

    /// Decides what happens next in an execution: wait, launch the next
    /// group of actions, move to the next stage, or end.
    fn advance(&mut self, execution_id: &str, now: SystemTime) {
        loop {
            let Some(exec) = self.executions.get_mut(execution_id) else {
                return;
            };
            if !exec.is_active() {
                return;
            }
            let stage = exec.stage_index;
            let in_stage = || exec.actions.iter().filter(|a| a.stage_index == stage);
            if in_stage().any(|a| a.status == ActionStatus::InProgress) {
                return;
            }
            let failed = in_stage().any(|a| a.status == ActionStatus::Failed);
            let pending: Vec<ActionDeclaration> = exec.declaration.stages[stage]
                .actions
                .iter()
                .filter(|d| !in_stage().any(|a| a.action_name == d.name))
                .cloned()
                .collect();
            exec.updated = now;
            if failed {
                exec.stage_status[stage] = RunStatus::Failed;
                exec.status = RunStatus::Failed;
                return;
            }
            if let Some(version) = exec.updated_to {
                // The summary is the playground's wording; AWS documents
                // the end (Failed), not its text.
                exec.stage_status[stage] = RunStatus::Failed;
                exec.status = RunStatus::Failed;
                exec.status_summary = Some(format!(
                    "The pipeline was updated (version {version}) while this execution ran: \
                     its running actions completed, and it stopped at stage {}",
                    exec.declaration.stages[stage].name
                ));
                return;
            }
            if exec.stop.is_some() {
                exec.stage_status[stage] = RunStatus::Stopped;
                exec.status = RunStatus::Stopped;
                return;
            }
            let Some(order) = pending.iter().map(ActionDeclaration::run_order).min() else {
                exec.stage_status[stage] = RunStatus::Succeeded;
                if stage + 1 < exec.declaration.stages.len() {
                    exec.stage_index += 1;
                    exec.stage_status.push(RunStatus::InProgress);
                    continue;
                }
                exec.status = RunStatus::Succeeded;
                return;
            };
            for action in pending.iter().filter(|a| a.run_order() == order) {
                self.launch(execution_id, action, now);
            }
            // Look again: an action whose variables did not resolve has
            // already failed, and with nothing else running the stage ends.
        }
    }

    /// Starts one action: a job for a custom action, a copy for S3 source.
    fn launch(&mut self, execution_id: &str, action: &ActionDeclaration, now: SystemTime) {
        let exec = self
            .executions
            .get_mut(execution_id)
            .expect("execution exists");
        let store = exec
            .declaration
            .artifact_store
            .clone()
            .expect("validated at create");
        let input_artifacts: Vec<Artifact> = action
            .input_artifacts
            .iter()
            .filter_map(|a| exec.artifacts.get(&a.name).cloned())
            .collect();
        let output_artifacts: Vec<Artifact> = action
            .output_artifacts
            .iter()
            .map(|a| Artifact {
                name: a.name.clone(),
                revision: None,
                location: ArtifactLocation {
                    kind: "S3".into(),
                    s3_location: S3ArtifactLocation {
                        bucket_name: store.location.clone(),
                        object_key: artifact_key(&exec.pipeline_name, &a.name),
                    },
                },
            })
            .collect();
        // CodePipeline resolves every reference before the action starts
        // (user guide, "Variables reference": Variable resolution).
        let resolved = variables::resolve(&action.configuration, &scope(exec)).ok();
        let mut run = ActionRun {
            action_execution_id: new_id(),
            stage_index: exec.stage_index,
            stage_name: exec.declaration.stages[exec.stage_index].name.clone(),
            action_name: action.name.clone(),
            action_type_id: action.action_type_id.clone(),
            configuration: action.configuration.clone(),
            resolved_configuration: resolved.clone(),
            namespace: action.namespace.clone(),
            status: ActionStatus::InProgress,
            started: now,
            updated: now,
            summary: None,
            external_execution_id: None,
            percent_complete: None,
            error: None,
            output_variables: Default::default(),
            input_artifacts,
            output_artifacts,
            job_id: None,
        };
        let action_execution_id = run.action_execution_id.clone();
        let Some(configuration) = resolved else {
            // No job, no copy: the action fails as it starts.
            let error = variables::unresolved_error(&action.name);
            exec.status_summary = Some(format!("Action {} failed: {}", action.name, error.message));
            run.status = ActionStatus::Failed;
            run.error = Some(error);
            exec.actions.push(run);
            self.emit(execution_id, &action_execution_id, "FAILED");
            return;
        };
        if action.action_type_id.owner == "Custom" {
            exec.actions.push(run);
            self.enqueue_job(execution_id, &action_execution_id, None, now);
            // After the job is queued: a worker the event wakes finds it.
            self.emit(execution_id, &action_execution_id, "STARTED");
        } else {
            // Validation admits one AWS-owned type: the S3 source.
            let effect = Effect::CopySource {
                execution_id: execution_id.to_string(),
                action_execution_id: action_execution_id.clone(),
                source_bucket: configuration["S3Bucket"].clone(),
                source_key: configuration["S3ObjectKey"].clone(),
                artifact: run.output_artifacts[0].clone(),
            };
            exec.actions.push(run);
            self.effects.push(effect);
            self.emit(execution_id, &action_execution_id, "STARTED");
        }
    }
}

/// What an action of `exec` can reference: the execution's id and
/// pipeline-level variables, and the output variables of the actions that
/// succeeded before it in this execution, by their namespace.
fn scope(exec: &ExecutionRecord) -> variables::Scope<'_> {
    variables::Scope {
        execution_id: &exec.id,
        pipeline: &exec.variables,
        namespaces: exec
            .actions
            .iter()
            .filter(|a| a.status == ActionStatus::Succeeded)
            .filter_map(|a| Some((a.namespace.as_deref()?, &a.output_variables)))
            .collect(),
    }
}

/// Artifact keys look like AWS's: `<pipeline, 20 chars>/<artifact, 20 chars>/<random>`.
fn artifact_key(pipeline: &str, artifact: &str) -> String {
    let short = |s: &str| s.chars().take(20).collect::<String>();
    let random: String = new_id()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(7)
        .collect();
    format!("{}/{}/{random}", short(pipeline), short(artifact))
}
