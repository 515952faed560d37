//! Helpers for deploy tests: the real state machine from statemachines/,
//! the sample app from app/, and a worker serving jobs and activities.

use crate::harness::*;
use crate::worker_harness::*;
use cpsf_playground::preset;
use cpsf_worker::base::limits::DEFAULT_TIMEOUT_SECONDS;
use cpsf_worker::bootstrap::definition::{DEPLOY_ASL, install, with_timeout};
use cpsf_worker::job::handle::JobSettings;
use cpsf_worker::worker::{TaskOptions, WorkerOptions};
use serde_json::Value;

pub const APP_TEMPLATE: &str = include_str!("../../app/template.yaml");
pub const APP_DEPLOY: &str = include_str!("../../app/deploy.json");

/// The sample app as a revision: deploy.json (edited by `edit`) and a template.
pub struct App {
    pub deploy: Value,
    pub template: String,
}

impl App {
    pub fn sample() -> Self {
        Self {
            deploy: serde_json::from_str(APP_DEPLOY).unwrap(),
            template: APP_TEMPLATE.to_string(),
        }
    }
}

/// Shortens every task's heartbeat timeout to `seconds` and its first
/// retry's interval to 1 s, so a dead handler is noticed and replaced fast.
pub fn short_heartbeats(definition: &mut Value, seconds: u64) {
    for state in definition["States"].as_object_mut().unwrap().values_mut() {
        // Activity tasks: a callback (RequestApproval) has no heartbeat.
        if state["Type"] == "Task" && state.get("HeartbeatSeconds").is_some() {
            state["HeartbeatSeconds"] = seconds.into();
            state["Retry"][0]["IntervalSeconds"] = 1.into();
        }
    }
}

/// A playground with the deploy state machine installed and a pipeline
/// `app` deploying the source zip with it.
pub async fn deploy_playground() -> Harness {
    deploy_playground_on(Harness::start().await).await
}

/// [`deploy_playground`]'s installation on `h`.
pub async fn deploy_playground_on(h: Harness) -> Harness {
    h.install_deploy_pipeline().await;
    h
}

/// The same, with a worker serving both jobs and tasks.
pub async fn deploy_setup() -> (Harness, RunningWorker) {
    let h = deploy_playground().await;
    let worker = h.start_deploy_worker(true, true);
    (h, worker)
}

impl Harness {
    /// Installs the activities and the deploy state machine; `tweak` may
    /// change the definition (e.g. shorter heartbeats for a test).
    pub async fn install_deploy(&self, tweak: impl FnOnce(&mut Value)) -> String {
        self.install_deploy_as("cpsf-", tweak).await
    }

    /// Like `install_deploy`: the state machine `<prefix>deploy` with the
    /// activities `<prefix>check-stack`, …
    pub async fn install_deploy_as(&self, prefix: &str, tweak: impl FnOnce(&mut Value)) -> String {
        let mut definition: Value =
            serde_json::from_str(&with_timeout(DEPLOY_ASL, DEFAULT_TIMEOUT_SECONDS)).unwrap();
        tweak(&mut definition);
        let activities = TaskOptions::activities(prefix);
        let machine = install(
            &self.sfn,
            &format!("{prefix}deploy"),
            ROLE,
            &activities,
            &definition.to_string(),
            self.env.approvals.as_ref().map(|a| a.queue.as_str()),
        )
        .await
        .expect("install the deploy state machine");
        // bootstrap/cpsf.yaml's names are the worker role's own; others
        // the test grants it.
        if prefix != "cpsf-" {
            let arns: Vec<String> = activities
                .iter()
                .map(|(_, name)| format!("arn:aws:states:us-east-1:123456789012:activity:{name}"))
                .collect();
            self.let_the_worker_run(&machine, &arns).await;
        }
        machine
    }

    /// A worker serving jobs, activities or both, as the playground runs
    /// it (`cpsf_playground::preset`).
    pub fn start_deploy_worker(&self, jobs: bool, tasks: bool) -> RunningWorker {
        self.start_deploy_worker_with(jobs, tasks, preset::job())
    }

    /// Like `start_deploy_worker`, following executions as `job` says.
    pub fn start_deploy_worker_with(
        &self,
        jobs: bool,
        tasks: bool,
        job: JobSettings,
    ) -> RunningWorker {
        self.spawn_worker(deploy_worker_options(jobs, tasks, job))
    }

    /// The pipeline `name` deploying the source zip with `machine`.
    pub async fn create_deploy_pipeline(&self, name: &str, machine: &str) {
        self.create_worker_pipeline(
            name,
            &[
                ("StateMachineArn", machine),
                ("InputType", "FilePath"),
                ("Input", "deploy.json"),
            ],
        )
        .await;
    }

    /// Puts `app` as the source revision and runs the pipeline to its end;
    /// returns the status and the Deploy action's detail.
    pub async fn deploy(
        &self,
        pipeline: &str,
        app: &App,
    ) -> (String, aws_sdk_codepipeline::types::ActionExecutionDetail) {
        let id = self.start_deploy(pipeline, app).await;
        let status = self.wait_until_done(pipeline, &id).await;
        (status, self.deploy_detail(pipeline).await)
    }

    /// Puts `app` as the source revision and starts `pipeline`.
    pub async fn start_deploy(&self, pipeline: &str, app: &App) -> String {
        let deploy = serde_json::to_string_pretty(&app.deploy).unwrap();
        self.put_source_zip(&[("deploy.json", &deploy), ("template.yaml", &app.template)])
            .await;
        self.start_execution(pipeline).await
    }

    /// Stack operations begun on `stack`: its stack-level CREATE/UPDATE
    /// IN_PROGRESS events.
    pub async fn stack_operations(&self, stack: &str) -> usize {
        stack_operations_through(&self.clients.cloudformation(), stack).await
    }

    /// Puts `app` as the source object `key` and starts `pipeline`.
    pub async fn put_app_and_start(&self, pipeline: &str, key: &str, app: &App) -> String {
        let deploy = serde_json::to_string_pretty(&app.deploy).unwrap();
        self.put_source_zip_at(
            key,
            &[("deploy.json", &deploy), ("template.yaml", &app.template)],
        )
        .await;
        self.start_execution(pipeline).await
    }

    /// A fault proxy in front of this playground, and the variables that
    /// point a worker process at it.
    pub async fn proxy(
        &self,
        faults: cpsf_playground::proxy::FaultPlan,
        hook: Option<cpsf_playground::proxy::Hook>,
    ) -> (cpsf_playground::proxy::Proxy, cpsf_playground::LocalEnv) {
        let proxy = cpsf_playground::proxy::Proxy::start(cpsf_playground::proxy::ProxyOptions {
            codepipeline: self.env.codepipeline_endpoint.clone(),
            emulator: self.env.aws_endpoint.clone(),
            faults,
            hook,
            keep_orphaned_tasks: false,
            checks: None,
        })
        .await
        .expect("start the proxy");
        let env = cpsf_playground::LocalEnv {
            aws_endpoint: proxy.endpoint(),
            codepipeline_endpoint: proxy.endpoint(),
            ..self.env.clone()
        };
        (proxy, env)
    }

    /// The Deploy action's summaries while it runs, read every 250 ms
    /// until one holds `wanted`, the action ends, or `limit` passes (the
    /// job hands back every follow window with its execution's progress).
    pub async fn summaries_until(
        &self,
        pipeline: &str,
        wanted: &str,
        limit: std::time::Duration,
    ) -> Vec<String> {
        let mut shown: Vec<String> = Vec::new();
        let deadline = std::time::Instant::now() + limit;
        while !shown.iter().any(|s| s.contains(wanted)) {
            let detail = self.deploy_detail(pipeline).await;
            if detail.status().is_some_and(|s| s.as_str() != "InProgress") {
                break;
            }
            shown.push(summary(&detail));
            assert!(std::time::Instant::now() < deadline, "{shown:?}");
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        shown
    }

    /// How many states an execution entered.
    pub async fn states_entered(&self, execution_arn: &str) -> usize {
        self.count_entered(execution_arn, |_| true).await
    }

    /// How many times an execution entered the state `name`.
    pub async fn states_named(&self, execution_arn: &str, name: &str) -> usize {
        self.count_entered(execution_arn, |entered| entered == name)
            .await
    }

    async fn count_entered(&self, execution_arn: &str, counts: impl Fn(&str) -> bool) -> usize {
        let mut count = 0;
        let mut pages = self
            .sfn
            .get_execution_history()
            .execution_arn(execution_arn)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            count += page
                .unwrap()
                .events()
                .iter()
                .filter_map(|e| e.state_entered_event_details())
                .filter(|d| counts(d.name()))
                .count();
        }
        count
    }
}

/// A `cpsf worker --tasks-only` process on `env`, stopped gracefully
/// within 10 s on SIGTERM: a real process, so a stopped worker's
/// unfinished work dies with it.
pub fn task_worker_process(env: &cpsf_playground::LocalEnv) -> KillOnDrop {
    let mut command = cpsf_worker(env);
    command
        .args(["--tasks-only", "--shutdown-grace", "10s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    KillOnDrop(command.spawn().expect("start a task worker"))
}

/// A `cpsf worker --jobs-only` process on `env`, to be killed: the job
/// poller that follows executions, apart from the task handlers.
pub fn job_worker_process(env: &cpsf_playground::LocalEnv) -> KillOnDrop {
    let mut command = cpsf_worker(env);
    command
        .args(["--jobs-only", "--poll-max", &poll_max_flag()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    KillOnDrop(command.spawn().expect("start a job worker"))
}

/// SIGKILL to a worker process of the test's own: nothing of it runs on.
pub fn kill_hard(worker: &mut KillOnDrop) {
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(worker.0.id() as i32, libc::SIGKILL) };
    worker.0.wait().unwrap();
}

impl Harness {
    /// The action type, the deploy state machine and the pipeline `app`
    /// that runs it; the machine's ARN.
    pub async fn install_deploy_pipeline(&self) -> String {
        self.create_worker_type().await;
        let machine = self.install_deploy(|_| {}).await;
        self.create_deploy_pipeline("app", &machine).await;
        machine
    }

    /// A job worker in this process that recovers the jobs of `machine`'s
    /// executions a killed worker was following (`job/recover.rs`).
    pub fn start_recovering_job_worker(&self, machine: &str) -> RunningWorker {
        self.start_deploy_worker_with(
            true,
            false,
            JobSettings {
                follow_for: std::time::Duration::from_secs(5),
                recover_from: vec![machine.to_string()],
                ..JobSettings::default()
            },
        )
    }
}

/// The test worker's `--stack-prefix`: a teardown deletes only stacks
/// named under it.
pub const STACK_PREFIX: &str = "cpsf-";

/// What `start_deploy_worker_with` runs: the playground's worker
/// (`cpsf_playground::preset`), its job poller if `jobs`, its task handlers
/// if `tasks`, following executions as `job` says.
pub fn deploy_worker_options(jobs: bool, tasks: bool, job: JobSettings) -> WorkerOptions {
    let preset = preset::worker(STACK_PREFIX);
    WorkerOptions {
        poller: preset.poller.filter(|_| jobs),
        tasks: preset.tasks.filter(|_| tasks),
        job,
        ..preset
    }
}

pub fn output_variable(
    detail: &aws_sdk_codepipeline::types::ActionExecutionDetail,
    name: &str,
) -> Option<String> {
    detail.output()?.output_variables()?.get(name).cloned()
}

pub fn error_message(detail: &aws_sdk_codepipeline::types::ActionExecutionDetail) -> String {
    detail
        .output()
        .and_then(|o| o.execution_result())
        .and_then(|r| r.error_details())
        .and_then(|e| e.message())
        .unwrap_or_default()
        .to_string()
}

pub fn summary(detail: &aws_sdk_codepipeline::types::ActionExecutionDetail) -> String {
    detail
        .output()
        .and_then(|o| o.execution_result())
        .and_then(|r| r.external_execution_summary())
        .unwrap_or_default()
        .to_string()
}

/// [`Harness::stack_operations`] through `cfn` (another account or region).
pub async fn stack_operations_through(cfn: &aws_sdk_cloudformation::Client, stack: &str) -> usize {
    let Ok(events) = cfn.describe_stack_events().stack_name(stack).send().await else {
        return 0; // no stack yet
    };
    events
        .stack_events()
        .iter()
        .filter(|e| e.logical_resource_id() == Some(stack))
        .filter(|e| {
            matches!(
                e.resource_status().map(|s| s.as_str()),
                Some("CREATE_IN_PROGRESS" | "UPDATE_IN_PROGRESS")
            )
        })
        .count()
}
