//! The service's whole state, held behind one lock so every operation is
//! atomic: two pollers can never be handed, or acknowledge, the same job.
//!
//! Operations are methods on [`Store`] split by area (action_types.rs,
//! pipelines.rs, executions.rs, jobs.rs, views.rs). They take the current
//! time as an argument and do no I/O: work that needs the network (copying a
//! source object) is queued as an [`Effect`] for the server to carry out.

use cpsf_worker::pipeline::wire::{
    ActionType, ActionTypeId, Artifact, Configuration, ErrorDetails, JobData, PipelineDeclaration,
    SessionCredentials,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

/// Settings of the local service; the timeouts are short in tests.
#[derive(Debug, Clone)]
pub struct Config {
    pub region: String,
    pub account_id: String,
    /// How long a dispatched job waits for AcknowledgeJob before it is
    /// queued again with a new nonce.
    pub dispatch_timeout: Duration,
    /// How long a job may go without a result before it times out and fails
    /// its action.
    pub job_timeout: Duration,
    /// Handed to job workers as `artifactCredentials`.
    pub artifact_credentials: SessionCredentials,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            dispatch_timeout: Duration::from_secs(60),
            job_timeout: Duration::from_secs(24 * 3600),
            artifact_credentials: SessionCredentials {
                access_key_id: "test".into(),
                secret_access_key: "test".into(),
                session_token: "cpsf-local-artifact-session".into(),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct PipelineRecord {
    pub declaration: PipelineDeclaration,
    pub created: SystemTime,
    pub updated: SystemTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    InProgress,
    Stopping,
    Stopped,
    Succeeded,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::InProgress => "InProgress",
            RunStatus::Stopping => "Stopping",
            RunStatus::Stopped => "Stopped",
            RunStatus::Succeeded => "Succeeded",
            RunStatus::Failed => "Failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionStatus {
    InProgress,
    Succeeded,
    Failed,
    Abandoned,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::InProgress => "InProgress",
            ActionStatus::Succeeded => "Succeeded",
            ActionStatus::Failed => "Failed",
            ActionStatus::Abandoned => "Abandoned",
        }
    }
}

/// One run of one action within a pipeline execution.
#[derive(Debug, Clone)]
pub struct ActionRun {
    pub action_execution_id: String,
    pub stage_index: usize,
    pub stage_name: String,
    pub action_name: String,
    pub action_type_id: ActionTypeId,
    /// As declared.
    pub configuration: Configuration,
    /// With every variable reference replaced by its value; none when a
    /// reference did not resolve and the action failed at its start.
    pub resolved_configuration: Option<Configuration>,
    pub namespace: Option<String>,
    pub status: ActionStatus,
    pub started: SystemTime,
    pub updated: SystemTime,
    pub summary: Option<String>,
    pub external_execution_id: Option<String>,
    pub percent_complete: Option<i64>,
    pub error: Option<ErrorDetails>,
    pub output_variables: BTreeMap<String, String>,
    pub input_artifacts: Vec<Artifact>,
    pub output_artifacts: Vec<Artifact>,
    /// The job currently carrying this action (custom actions only).
    pub job_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StopRequest {
    pub reason: Option<String>,
}

/// A pipeline execution: which stage it is in and every action run so far.
#[derive(Debug, Clone)]
pub struct ExecutionRecord {
    pub id: String,
    pub pipeline_name: String,
    /// The declaration as it was when the execution started: the running
    /// actions complete under it even after an update (see `updated_to`).
    pub declaration: PipelineDeclaration,
    pub status: RunStatus,
    pub status_summary: Option<String>,
    pub started: SystemTime,
    pub updated: SystemTime,
    pub stage_index: usize,
    /// Status of each stage reached so far, by stage index.
    pub stage_status: Vec<RunStatus>,
    pub actions: Vec<ActionRun>,
    /// Artifacts produced so far, by artifact name.
    pub artifacts: HashMap<String, Artifact>,
    pub stop: Option<StopRequest>,
    /// The pipeline version an UpdatePipeline made while this execution ran:
    /// its running actions complete, then its stage and the execution fail
    /// (executions.rs, `end_by_update`).
    pub updated_to: Option<i64>,
    /// Pipeline-level variables and their values for this execution, in
    /// declaration order.
    pub variables: Vec<(String, String)>,
}

impl ExecutionRecord {
    /// The run of one action execution, if it is this execution's.
    pub fn action_run(&self, action_execution_id: &str) -> Option<&ActionRun> {
        self.actions
            .iter()
            .find(|a| a.action_execution_id == action_execution_id)
    }

    pub fn is_active(&self) -> bool {
        matches!(self.status, RunStatus::InProgress | RunStatus::Stopping)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Dispatched,
    InProgress,
    Succeeded,
    Failed,
    TimedOut,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "Queued",
            JobStatus::Dispatched => "Dispatched",
            JobStatus::InProgress => "InProgress",
            JobStatus::Succeeded => "Succeeded",
            JobStatus::Failed => "Failed",
            JobStatus::TimedOut => "TimedOut",
        }
    }

    pub fn is_open(self) -> bool {
        matches!(
            self,
            JobStatus::Queued | JobStatus::Dispatched | JobStatus::InProgress
        )
    }
}

#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: String,
    /// Position in the queue: older jobs are handed out first.
    pub seq: u64,
    pub status: JobStatus,
    pub nonce: Option<String>,
    pub execution_id: String,
    pub action_execution_id: String,
    pub data: JobData,
    pub created: SystemTime,
    pub dispatched: Option<SystemTime>,
    pub acknowledged: Option<SystemTime>,
    /// When a result (success, continuation or failure) was accepted.
    pub answered: Option<SystemTime>,
}

/// Network work the server performs after an operation releases the lock.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Run an `AWS/Source/S3` action: copy the source object into the
    /// artifact store, then report back through `finish_source_action`.
    CopySource {
        execution_id: String,
        action_execution_id: String,
        source_bucket: String,
        source_key: String,
        artifact: Artifact,
    },
}

#[derive(Debug, Default)]
pub struct Store {
    pub config: Config,
    pub action_types: BTreeMap<ActionTypeId, ActionType>,
    /// AWS does not let a deleted custom action type come back under the
    /// same version.
    pub deleted_action_types: BTreeSet<ActionTypeId>,
    pub pipelines: BTreeMap<String, PipelineRecord>,
    pub executions: HashMap<String, ExecutionRecord>,
    /// Execution ids per pipeline, oldest first.
    pub executions_by_pipeline: HashMap<String, Vec<String>>,
    pub jobs: HashMap<String, JobRecord>,
    /// Queued jobs by `seq`, so polls hand out the oldest first.
    pub queue: BTreeMap<u64, String>,
    pub next_seq: u64,
    pub effects: Vec<Effect>,
    /// Action state change events for EventBridge (`events.rs`), taken by
    /// the server after each operation.
    pub events: Vec<super::events::ActionEvent>,
    /// StartPipelineExecution's clientRequestTokens: pipeline and token to
    /// the execution they started.
    pub start_tokens: HashMap<String, String>,
}

impl Store {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    pub fn pipeline_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:codepipeline:{}:{}:{}",
            self.config.region, self.config.account_id, name
        )
    }

    /// Takes the events of the last operation.
    pub fn take_events(&mut self) -> Vec<super::events::ActionEvent> {
        std::mem::take(&mut self.events)
    }

    /// Queues the event of an action run reaching `state`.
    pub fn emit(&mut self, execution_id: &str, action_execution_id: &str, state: &str) {
        let Some(exec) = self.executions.get(execution_id) else {
            return;
        };
        let Some(run) = exec.action_run(action_execution_id) else {
            return;
        };
        let arn = self.pipeline_arn(&exec.pipeline_name);
        let event = super::events::action_event(exec, run, state, &self.config.region, arn);
        self.events.push(event);
    }

    /// Takes the effects queued by the last operation.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
