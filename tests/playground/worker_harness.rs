//! Helpers for worker tests: state machines, the Deploy action type as the
//! worker serves it, and a worker running in this process.

use crate::harness::*;
use aws_sdk_codepipeline::types::{
    ActionCategory, ActionConfigurationProperty, ActionDeclaration, InputArtifact, OutputArtifact,
};
use cpsf_playground::preset;
use cpsf_worker::job::handle::JobSettings;
use cpsf_worker::metrics::Metrics;
use cpsf_worker::worker::WorkerOptions;
use std::io::{Cursor, Write};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// bootstrap/cpsf.yaml's state machine role, as the playground installs
/// it (Step Functions checking IAM wants a state machine's role to exist).
pub const ROLE: &str = cpsf_playground::worker_role::STATES_ROLE;
/// A secret configuration value that must never reach a log.
pub const SECRET_VALUE: &str = "S3CR3T-CONFIG-VALUE-42";

pub struct RunningWorker {
    metrics: Metrics,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningWorker {
    pub fn new(
        metrics: Metrics,
        shutdown: CancellationToken,
        task: JoinHandle<anyhow::Result<()>>,
    ) -> Self {
        Self {
            metrics,
            shutdown,
            task,
        }
    }

    /// The worker's metrics now, as `/metrics` shows them.
    pub fn metrics_text(&self) -> String {
        self.metrics.encode()
    }

    /// Stops the worker and returns its metrics once every job in flight has
    /// ended: a pipeline shows its result as soon as the report lands, a
    /// moment before the worker counts it.
    pub async fn stop(self) -> String {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
        self.metrics.encode()
    }
}

impl Harness {
    pub async fn create_state_machine(&self, name: &str, definition: serde_json::Value) -> String {
        let machine = self
            .sfn
            .create_state_machine()
            .name(name)
            .role_arn(ROLE)
            .definition(definition.to_string())
            .send()
            .await
            .expect("create state machine")
            .state_machine_arn;
        self.let_the_worker_run(&machine, &[]).await;
        machine
    }

    /// A state machine of the test's own, not bootstrap/cpsf.yaml's
    /// `cpsf-deploy`, which is the only one the worker's role may run: the
    /// test lets it run this one too (and poll `activities`), as an
    /// operator would for a pipeline that names another state machine.
    /// A fixture: the account's root adds an inline policy to the role
    /// through CloudFormation. Nothing where the playground has no role.
    pub async fn let_the_worker_run(&self, machine: &str, activities: &[String]) {
        let Some(profiles) = &self.env.profiles else {
            return;
        };
        let name: String = machine
            .rsplit(':')
            .next()
            .unwrap()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let executions = format!("{}:*", machine.replacen(":stateMachine:", ":execution:", 1));
        let mut statements = vec![
            serde_json::json!({"Effect": "Allow", "Resource": machine,
                "Action": ["states:StartExecution", "states:ListExecutions"]}),
            serde_json::json!({"Effect": "Allow", "Resource": executions,
                "Action": ["states:DescribeExecution", "states:GetExecutionHistory"]}),
        ];
        if !activities.is_empty() {
            statements.push(
                serde_json::json!({"Effect": "Allow", "Resource": activities,
                "Action": "states:GetActivityTask"}),
            );
        }
        let role = profiles.worker.arn.rsplit('/').next().unwrap();
        let template = serde_json::json!({"Resources": {"Grant": {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": format!("test-machine-{name}"),
            "Roles": [role],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
        }}}});
        let stack = format!("test-machine-{name}");
        let cfn = self.clients.cloudformation();
        cfn.create_stack()
            .stack_name(&stack)
            .template_body(template.to_string())
            .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam)
            .send()
            .await
            .expect("grant the worker's role a test's state machine");
        wait_for("the worker's grant of a test's state machine", || async {
            let stacks = cfn.describe_stacks().stack_name(&stack).send().await.ok()?;
            let status = stacks.stacks()[0].stack_status()?.as_str().to_string();
            assert!(!status.contains("FAILED"), "{stack}: {status}");
            (status == "CREATE_COMPLETE").then_some(())
        })
        .await;
    }

    /// A state machine that waits `seconds` in state `Deploying`, then ends.
    pub async fn create_slow_machine(&self, name: &str, seconds: u64) -> String {
        let definition = serde_json::json!({"StartAt": "Deploying", "States": {
            "Deploying": {"Type": "Wait", "Seconds": seconds, "Next": "Done"},
            "Done": {"Type": "Pass", "End": true}}});
        self.create_state_machine(name, definition).await
    }

    /// The Deploy action type with the worker's configuration keys. None is
    /// required here, so tests can hand the worker a bad configuration.
    pub async fn create_worker_type(&self) {
        self.create_worker_type_for(PROVIDER).await;
    }

    /// Like `create_worker_type`, under another provider name.
    pub async fn create_worker_type_for(&self, provider: &str) {
        let property = |name: &str, secret: bool| {
            ActionConfigurationProperty::builder()
                .name(name)
                .required(false)
                .key(false)
                .secret(secret)
                .build()
                .unwrap()
        };
        let mut request = self
            .cp
            .create_custom_action_type()
            .category(ActionCategory::Deploy)
            .provider(provider)
            .version("1")
            .input_artifact_details(artifacts(0, 5))
            .output_artifact_details(artifacts(0, 1));
        for name in [
            "StateMachineArn",
            "ExecutionNamePrefix",
            "InputType",
            "Input",
        ] {
            request = request.configuration_properties(property(name, false));
        }
        request
            .configuration_properties(property("ApiToken", true))
            .send()
            .await
            .expect("create worker action type");
    }

    /// A pipeline `name`: S3 source, then one Deploy action with `config`.
    pub async fn create_worker_pipeline(&self, name: &str, config: &[(&str, &str)]) {
        self.create_worker_pipeline_from(name, SOURCE_KEY, config)
            .await;
    }

    /// Like `create_worker_pipeline`, with its own source object.
    pub async fn create_worker_pipeline_from(
        &self,
        name: &str,
        source_key: &str,
        config: &[(&str, &str)],
    ) {
        self.create_worker_pipeline_with(name, source_key, PROVIDER, config)
            .await;
    }

    /// Like `create_worker_pipeline_from`, for the action type of `provider`.
    pub async fn create_worker_pipeline_with(
        &self,
        name: &str,
        source_key: &str,
        provider: &str,
        config: &[(&str, &str)],
    ) {
        let mut action = ActionDeclaration::builder()
            .name("Deploy")
            .action_type_id(deploy_type_id_for(provider))
            .input_artifacts(
                InputArtifact::builder()
                    .name("SourceOutput")
                    .build()
                    .unwrap(),
            )
            .output_artifacts(
                OutputArtifact::builder()
                    .name("DeployOutput")
                    .build()
                    .unwrap(),
            )
            .configuration("ApiToken", SECRET_VALUE);
        for (key, value) in config {
            action = action.configuration(*key, *value);
        }
        self.cp
            .create_pipeline()
            .pipeline(pipeline_from(
                name,
                source_key,
                vec![action.build().unwrap()],
            ))
            .send()
            .await
            .expect("create pipeline");
    }

    /// Replaces the source object with a zip of `files`.
    pub async fn put_source_zip(&self, files: &[(&str, &str)]) {
        self.put_source_zip_at(SOURCE_KEY, files).await;
    }

    /// Replaces the source object `key` with a zip of `files`.
    pub async fn put_source_zip_at(&self, key: &str, files: &[(&str, &str)]) {
        self.s3
            .put_object()
            .bucket(SOURCE_BUCKET)
            .key(key)
            .body(zip_of(files).into())
            .send()
            .await
            .expect("put source zip");
    }

    /// A job poller in this process as the playground runs it
    /// (`cpsf_playground::preset`), following each execution for `follow_for`.
    pub fn start_worker(&self, follow_for: Duration) -> RunningWorker {
        let options = WorkerOptions {
            poller: Some(preset::poller()),
            tasks: None,
            job: JobSettings {
                follow_for,
                ..preset::job()
            },
            listen: None,
            approvals: None,
        };
        self.spawn_worker(options)
    }

    /// Runs `cpsf worker` with `options` in this process.
    pub fn spawn_worker(&self, options: WorkerOptions) -> RunningWorker {
        let metrics = Metrics::default();
        let shutdown = CancellationToken::new();
        let run = cpsf_worker::worker::run(
            self.worker_clients.clone(),
            options,
            metrics.clone(),
            shutdown.clone(),
        );
        RunningWorker::new(metrics, shutdown, tokio::spawn(run))
    }

    /// The Deploy action's newest execution detail in ListActionExecutions.
    pub async fn deploy_detail(
        &self,
        pipeline: &str,
    ) -> aws_sdk_codepipeline::types::ActionExecutionDetail {
        self.deploy_detail_if_any(pipeline)
            .await
            .expect("a Deploy action execution")
    }

    /// Like `deploy_detail`, None before the Deploy action starts.
    pub async fn deploy_detail_if_any(
        &self,
        pipeline: &str,
    ) -> Option<aws_sdk_codepipeline::types::ActionExecutionDetail> {
        self.action_detail(pipeline, "Deploy").await
    }

    /// The newest execution of the action `action` of `pipeline`, if any.
    pub async fn action_detail(
        &self,
        pipeline: &str,
        action: &str,
    ) -> Option<aws_sdk_codepipeline::types::ActionExecutionDetail> {
        let details = self
            .cp
            .list_action_executions()
            .pipeline_name(pipeline)
            .send()
            .await
            .unwrap();
        details
            .action_execution_details()
            .iter()
            .find(|d| d.action_name() == Some(action))
            .cloned()
    }

    /// The Deploy action's error details (its code and message).
    pub async fn deploy_error(&self, pipeline: &str) -> aws_sdk_codepipeline::types::ErrorDetails {
        let detail = self.deploy_detail(pipeline).await;
        detail
            .output()
            .and_then(|o| o.execution_result())
            .and_then(|r| r.error_details())
            .cloned()
            .unwrap_or_else(|| panic!("{pipeline}'s Deploy action has no error: {detail:?}"))
    }

    /// Every execution of `machine`.
    pub async fn executions(&self, machine: &str) -> Vec<aws_sdk_sfn::types::ExecutionListItem> {
        let mut executions = Vec::new();
        let mut pages = self
            .sfn
            .list_executions()
            .state_machine_arn(machine)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            executions.extend(page.unwrap().executions().iter().cloned());
        }
        executions
    }

    /// The names of `machine`'s executions, asserting no name repeats.
    pub async fn execution_names(&self, machine: &str) -> std::collections::HashSet<String> {
        let mut names = std::collections::HashSet::new();
        for execution in self.executions(machine).await {
            assert!(
                names.insert(execution.name().to_string()),
                "duplicate execution {}",
                execution.name()
            );
        }
        names
    }

    /// Waits for the pipeline's newest execution to end, returning its status.
    pub async fn wait_until_done(&self, pipeline: &str, id: &str) -> String {
        self.wait_until_done_within(pipeline, id, Duration::from_secs(60))
            .await
    }

    /// Like `wait_until_done`, with a caller-chosen limit.
    pub async fn wait_until_done_within(
        &self,
        pipeline: &str,
        id: &str,
        limit: Duration,
    ) -> String {
        wait_for_long(&format!("{pipeline} to finish"), limit, || async {
            let status = self.execution_status(pipeline, id).await;
            (status.as_str() != "InProgress").then(|| status.as_str().to_string())
        })
        .await
    }
}

pub fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in files {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(content.as_bytes()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}
