//! The benchmark's world: the playground, simulated work served as a Step
//! Functions activity, pipelines, and `cpsf worker` processes behind
//! counting proxies.

use crate::stats;
use aws_sdk_codepipeline::types::ActionTypeId;
use cpsf_playground::proxy::{FaultPlan, Hook, Phase, Proxy, ProxyOptions, ProxyStats, Verdict};
use cpsf_playground::{LocalEnv, Playground, PlaygroundOptions};
use cpsf_worker::base::clock::epoch_now as now;
use cpsf_worker::job::handle::JobSettings;
use cpsf_worker::job::recover::lease;
use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const SOURCE_BUCKET: &str = "bench-source";
pub const ARTIFACT_BUCKET: &str = "bench-artifacts";
/// Workers run as bootstrap deploys them: with a journal.
const JOURNAL_BUCKET: &str = "bench-journal";
/// The playground's state machine role (it must exist where IAM is checked).
pub const ROLE: &str = cpsf_playground::worker_role::STATES_ROLE;
/// How long a worker's idle CPU is sampled before its class starts: long
/// enough for several of its long polls and timers.
const IDLE_SAMPLE: Duration = Duration::from_secs(10);

pub struct World {
    pub playground: Playground,
    pub cp: aws_sdk_codepipeline::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub s3: aws_sdk_s3::Client,
    pub cfn: aws_sdk_cloudformation::Client,
    pub activity: String,
    /// When each execution's work was answered (epoch seconds), by name.
    pub ended: Arc<Mutex<HashMap<String, f64>>>,
}

impl World {
    pub async fn start() -> anyhow::Result<Self> {
        let playground = Playground::start(PlaygroundOptions::from_env()?).await?;
        let env = playground.env().clone();
        let sdk = env.sdk_config().await;
        let s3 = env.s3_client(&sdk);
        for bucket in [SOURCE_BUCKET, ARTIFACT_BUCKET, JOURNAL_BUCKET] {
            s3.create_bucket().bucket(bucket).send().await?;
        }
        s3.put_object()
            .bucket(SOURCE_BUCKET)
            .key("source.zip")
            .body(b"PK".to_vec().into())
            .send()
            .await?;
        let sfn = aws_sdk_sfn::Client::new(&sdk);
        let activity = sfn
            .create_activity()
            .name("bench-work")
            .send()
            .await?
            .activity_arn;
        let world = Self {
            cp: env.codepipeline_client(&sdk),
            sfn,
            s3,
            cfn: aws_sdk_cloudformation::Client::new(&sdk),
            activity,
            ended: Arc::default(),
            playground,
        };
        world.serve_work(cpsf_worker::aws::Clients::new(&sdk).sfn_long_poll());
        Ok(world)
    }

    /// Answers the work activity: `{"seconds": s}` after s seconds (a
    /// "stack" that takes that long), or, with `"mode": "check"`, at once
    /// with whether s seconds have passed since the first check (the
    /// ancestor's poll-in-a-loop shape).
    fn serve_work(&self, sfn: aws_sdk_sfn::Client) {
        let first_check: Arc<Mutex<HashMap<String, f64>>> = Arc::default();
        for _ in 0..16 {
            let (sfn, activity, ended) = (sfn.clone(), self.activity.clone(), self.ended.clone());
            let first_check = first_check.clone();
            tokio::spawn(async move {
                loop {
                    let Ok(task) = sfn.get_activity_task().activity_arn(&activity).send().await
                    else {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    };
                    let Some(token) = task.task_token().filter(|t| !t.is_empty()) else {
                        continue;
                    };
                    let input: serde_json::Value =
                        serde_json::from_str(task.input().unwrap_or("{}")).unwrap_or_default();
                    let seconds = input["seconds"].as_f64().unwrap_or(0.0);
                    let name = input["execution"]
                        .as_str()
                        .unwrap_or_default()
                        .rsplit(':')
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let (sfn, token, ended) = (sfn.clone(), token.to_string(), ended.clone());
                    let first_check = first_check.clone();
                    tokio::spawn(async move {
                        let output = if input["mode"] == "check" {
                            let first = *first_check
                                .lock()
                                .unwrap()
                                .entry(name.clone())
                                .or_insert_with(now);
                            let done = now() - first >= seconds;
                            serde_json::json!({"done": done})
                        } else {
                            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
                            serde_json::json!({})
                        };
                        let sent = sfn
                            .send_task_success()
                            .task_token(token)
                            .output(output.to_string())
                            .send()
                            .await;
                        if sent.is_ok() && (input["mode"] != "check" || output["done"] == true) {
                            ended.lock().unwrap().insert(name, now());
                        }
                    });
                }
            });
        }
    }

    /// A state machine of one blocking work task (cpsf's shape: the
    /// wait-stack task blocks while the stack deploys).
    pub async fn blocking_machine(&self, name: &str) -> anyhow::Result<String> {
        let definition = serde_json::json!({"StartAt": "Deploy", "States": {
            "Deploy": {"Type": "Task", "Resource": self.activity,
                "Parameters": {"seconds.$": "$.seconds", "execution.$": "$$.Execution.Id"},
                "End": true}}});
        self.machine(name, definition).await
    }

    /// The ancestor's shape: check, and if not done wait 10 s and check again.
    pub async fn wait_loop_machine(&self, name: &str) -> anyhow::Result<String> {
        let definition = serde_json::json!({"StartAt": "Check", "States": {
            "Check": {"Type": "Task", "Resource": self.activity,
                "Parameters": {"seconds.$": "$.seconds", "execution.$": "$$.Execution.Id", "mode": "check"},
                "ResultPath": "$.check", "Next": "Done?"},
            "Done?": {"Type": "Choice",
                "Choices": [{"Variable": "$.check.done", "BooleanEquals": true, "Next": "Deployed"}],
                "Default": "Wait"},
            "Wait": {"Type": "Wait", "Seconds": 10, "Next": "Check"},
            "Deployed": {"Type": "Succeed"}}});
        self.machine(name, definition).await
    }

    pub async fn machine(
        &self,
        name: &str,
        definition: serde_json::Value,
    ) -> anyhow::Result<String> {
        Ok(self
            .sfn
            .create_state_machine()
            .name(name)
            .role_arn(ROLE)
            .definition(definition.to_string())
            .send()
            .await?
            .state_machine_arn)
    }

    /// A Deploy action type of its own for one part of the benchmark.
    pub async fn action_type(&self, provider: &str) -> anyhow::Result<ActionTypeId> {
        cpsf_worker::action_type::create_for(&self.cp, provider).await?;
        Ok(cpsf_worker::action_type::id_for(provider))
    }

    /// `count` pipelines `<prefix>-<i>` running `machine` with `{"seconds": s}`.
    pub async fn pipelines(
        &self,
        prefix: &str,
        count: usize,
        action_type: &ActionTypeId,
        machine: &str,
        seconds: f64,
    ) -> anyhow::Result<Vec<String>> {
        let input = serde_json::json!({"seconds": seconds}).to_string();
        let mut names = Vec::with_capacity(count);
        for i in 0..count {
            let name = format!("{prefix}-{i}");
            let configuration = [("StateMachineArn", machine), ("Input", &input)];
            self.create_pipeline(&name, "source.zip", action_type, &configuration)
                .await?;
            names.push(name);
        }
        Ok(names)
    }

    /// Pipeline `name`: its source `SOURCE_BUCKET/source_key`, then one
    /// action of `action_type` with `configuration`.
    pub async fn create_pipeline(
        &self,
        name: &str,
        source_key: &str,
        action_type: &ActionTypeId,
        configuration: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        let declaration = cpsf_worker::pipeline::declare(&cpsf_worker::pipeline::PipelineSpec {
            name,
            role_arn: ROLE,
            artifact_bucket: ARTIFACT_BUCKET,
            source_bucket: SOURCE_BUCKET,
            source_key,
            action_type: action_type.clone(),
            configuration,
        });
        self.cp
            .create_pipeline()
            .pipeline(declaration)
            .send()
            .await?;
        Ok(())
    }

    /// Starts every pipeline of `names`, 32 at once; their execution ids,
    /// in the same order.
    pub async fn start_pipelines(&self, names: &[String]) -> anyhow::Result<Vec<String>> {
        let mut ids = Vec::with_capacity(names.len());
        for chunk in names.chunks(32) {
            let starts = chunk.iter().map(|name| self.start_pipeline(name));
            for id in futures_util::future::join_all(starts).await {
                ids.push(id?);
            }
        }
        Ok(ids)
    }

    /// Starts pipeline `name`; its execution id.
    pub async fn start_pipeline(&self, name: &str) -> anyhow::Result<String> {
        let started = self.cp.start_pipeline_execution().name(name).send().await?;
        Ok(started.pipeline_execution_id.unwrap_or_default())
    }

    /// The local CodePipeline service's job timings.
    pub async fn job_timings(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let url = format!("{}/_cpsf/jobs", self.playground.env().codepipeline_endpoint);
        let body = http_get(&url).await?;
        Ok(serde_json::from_str(&body)?)
    }

    /// States entered by each execution of `machine`.
    pub async fn transitions(&self, machine: &str) -> anyhow::Result<Vec<usize>> {
        let mut counts = Vec::new();
        let listed = self
            .sfn
            .list_executions()
            .state_machine_arn(machine)
            .send()
            .await?;
        for execution in listed.executions() {
            let mut entered = 0;
            let mut pages = self
                .sfn
                .get_execution_history()
                .execution_arn(execution.execution_arn())
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                entered += page?
                    .events()
                    .iter()
                    .filter(|e| e.state_entered_event_details().is_some())
                    .count();
            }
            counts.push(entered);
        }
        Ok(counts)
    }
}

/// A GET on loopback, answered by the local service.
pub async fn http_get(url: &str) -> anyhow::Result<String> {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let response = client.get(url.parse()?).await?;
    let body = response.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// A `cpsf worker` process behind its own counting proxy.
pub struct Worker {
    child: Child,
    pub proxy: Proxy,
    /// Long polls that came back with nothing: PollForJobs with no job,
    /// ReceiveMessage with no message. An idle worker makes them however
    /// many jobs it serves, so the per-job figures leave them out.
    empty_polls: Arc<Mutex<BTreeMap<String, u64>>>,
    pub metrics_url: String,
    started: std::time::Instant,
}

impl Worker {
    /// A worker serving only jobs, as the benchmark's own activity does the
    /// executions' work.
    pub async fn start(world: &World, provider: &str, args: &[&str]) -> anyhow::Result<Self> {
        Self::spawn(world, provider, &[&["--jobs-only"], args].concat()).await
    }

    /// A worker serving jobs and the deploy state machine's activities.
    pub async fn start_with_tasks(
        world: &World,
        provider: &str,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        Self::spawn(world, provider, args).await
    }

    /// A worker as bootstrap deploys it: jobs, the deploy state machine's
    /// activities, and the playground's approvals (queue, store, key).
    pub async fn start_deployed(
        world: &World,
        provider: &str,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        Self::spawn_with(world, provider, args, true).await
    }

    async fn spawn(world: &World, provider: &str, args: &[&str]) -> anyhow::Result<Self> {
        Self::spawn_with(world, provider, args, false).await
    }

    async fn spawn_with(
        world: &World,
        provider: &str,
        args: &[&str],
        approvals: bool,
    ) -> anyhow::Result<Self> {
        let empty_polls = Arc::new(Mutex::new(BTreeMap::new()));
        let counter = empty_polls.clone();
        let hook: Hook = Arc::new(move |phase, operation, body| {
            if phase == Phase::After && stats::empty_long_poll(operation, body) {
                *counter
                    .lock()
                    .expect("no panic holds it")
                    .entry(operation.to_string())
                    .or_default() += 1;
            }
            Verdict::Continue
        });
        let env = world.playground.env();
        let proxy = Proxy::start(ProxyOptions {
            codepipeline: env.codepipeline_endpoint.clone(),
            emulator: env.aws_endpoint.clone(),
            faults: FaultPlan::none(),
            hook: Some(hook),
            keep_orphaned_tasks: false,
            checks: None,
        })
        .await?;
        let through = LocalEnv {
            approvals: env.approvals.clone().filter(|_| approvals),
            aws_endpoint: proxy.endpoint(),
            codepipeline_endpoint: proxy.endpoint(),
            events_queue: None,
            // The root keys: the benchmark runs state machines of its own,
            // which bootstrap/cpsf.yaml's worker role may not start.
            profiles: None,
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        // CPSF_BENCH_WRAP runs the worker under a profiler, e.g.
        // "heaptrack -o /tmp/worker" (with CPSF_BENCH_CPSF=target/debug/cpsf
        // for symbols).
        let binary = std::env::var("CPSF_BENCH_CPSF").unwrap_or(env!("CARGO_BIN_EXE_cpsf").into());
        let wrap = std::env::var("CPSF_BENCH_WRAP").unwrap_or_default();
        let mut words: Vec<String> = wrap.split_whitespace().map(str::to_string).collect();
        words.push(binary);
        let child = Command::new(&words[0])
            .args(&words[1..])
            .envs(through.vars())
            .env("RUST_LOG", "warn")
            .args(["worker", "--provider", provider])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--journal", &format!("s3://{JOURNAL_BUCKET}/{provider}/")])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let metrics_url = format!("http://127.0.0.1:{port}/metrics");
        cpsf_worker::probe::wait_until_answers(
            &format!("http://127.0.0.1:{port}"),
            "GET",
            "/healthz",
            Duration::from_secs(10),
        )
        .await?;
        Ok(Self {
            child,
            proxy,
            empty_polls,
            metrics_url,
            started: std::time::Instant::now(),
        })
    }

    /// Empty long polls so far, by operation.
    pub fn empty_polls(&self) -> BTreeMap<String, u64> {
        self.empty_polls.lock().expect("no panic holds it").clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn rss_bytes(&self) -> u64 {
        stats::rss_bytes(self.pid())
    }

    pub fn cpu_time(&self) -> Duration {
        stats::cpu_time(self.pid())
    }

    pub fn calls(&self) -> ProxyStats {
        self.proxy.stats()
    }

    /// Waits out the worker's start-up — discovery (ListPipelines, one
    /// GetPipeline per pipeline in the account) and both recovery sweeps,
    /// at start and one lease later (`job/recover.rs`) — until nothing
    /// but its long polls has called out for a second; returns what it
    /// made by then and its empty polls. That cost is once per worker
    /// start and grows with the account, not with the jobs, so the per-job
    /// figures leave it out and report it apart.
    pub async fn settle(&self) -> (ProxyStats, BTreeMap<String, u64>) {
        let second_sweep = self.started + lease(JobSettings::default().follow_for);
        tokio::time::sleep_until(second_sweep.into()).await;
        const LONG_POLLS: [&str; 2] = ["codepipeline:PollForJobs", "sqs:ReceiveMessage"];
        const QUIET: Duration = Duration::from_secs(1);
        let busy = |stats: &ProxyStats| -> u64 {
            stats
                .calls
                .iter()
                .filter(|(op, _)| !LONG_POLLS.contains(&op.as_str()))
                .map(|(_, n)| n)
                .sum()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut seen = busy(&self.calls());
        let mut quiet_since = std::time::Instant::now();
        while quiet_since.elapsed() < QUIET && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = busy(&self.calls());
            if now != seen {
                (seen, quiet_since) = (now, std::time::Instant::now());
            }
        }
        (self.calls(), self.empty_polls())
    }

    /// The worker's CPU seconds per second while it has no job, over
    /// [`IDLE_SAMPLE`] right after `settle`.
    pub async fn idle_cpu_per_second(&self) -> f64 {
        let before = self.cpu_time();
        tokio::time::sleep(IDLE_SAMPLE).await;
        (self.cpu_time() - before).as_secs_f64() / IDLE_SAMPLE.as_secs_f64()
    }

    /// `cpsf_jobs_in_flight` from the worker's own metrics.
    pub async fn in_flight(&self) -> f64 {
        self.metric("cpsf_jobs_in_flight").await
    }

    /// One sample of the worker's own metrics, e.g.
    /// `cpsf_task_slots_busy{handler="wait-stack"}`; 0 when absent.
    pub async fn metric(&self, sample: &str) -> f64 {
        let text = http_get(&self.metrics_url).await.unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
