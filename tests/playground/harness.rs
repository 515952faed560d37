//! A playground per test: the emulator `CPSF_EMULATOR` names (MiniStack by
//! default, or fakecloud) and the local CodePipeline service on free ports,
//! torn down when the test ends (the child dies with its test thread).
//! Tests drive it only through the AWS SDK, as a user's tool would.
//!
//! `.ci/run` runs the suite once per emulator. A test that needs behaviour
//! only one emulator has starts with [`needs`], which says why.
//!
//! The playground checks every request against the AWS API models and
//! refuses what AWS would refuse (`cpsf_playground::proxy::checks`). When a
//! test ends, its harness fails it for any request refused that the test
//! did not take with [`Harness::take_refusals`], and for any state input
//! or output over Step Functions' 256 KiB in any execution's history
//! (`cpsf_playground::state_data`): the emulators accept both, AWS does not.

use aws_sdk_codepipeline::Client as CodePipeline;
use aws_sdk_codepipeline::error::ProvideErrorMetadata;
use aws_sdk_codepipeline::types::{
    ActionCategory, ActionConfigurationProperty, ActionContext, ActionDeclaration, ActionExecution,
    ActionTypeId, ArtifactDetails, ArtifactStore, ArtifactStoreType, InputArtifact, Job,
    PipelineContext, PipelineDeclaration, PipelineExecutionStatus, StageDeclaration,
};
use cpsf_playground::codepipeline::Config;
use cpsf_playground::{Emulator, LocalEnv, Playground, PlaygroundOptions};
use std::time::Duration;

/// `cpsf worker --poll-max` as the playground's preset has it
/// (`cpsf_playground::preset`), for tests that start the binary.
pub fn poll_max_flag() -> String {
    humantime::format_duration(cpsf_playground::preset::poller().poll_max).to_string()
}

/// `cpsf worker --heartbeat-every` as the playground's preset has it.
pub fn heartbeat_flag() -> String {
    let runner = cpsf_playground::preset::tasks("").runner;
    humantime::format_duration(runner.heartbeat_every).to_string()
}

/// The emulator this run of the suite uses: `CPSF_EMULATOR`, MiniStack by
/// default.
pub fn emulator() -> Emulator {
    Emulator::from_env().expect("CPSF_EMULATOR names an emulator")
}

/// The playground every test gets unless it asks for another: this run's
/// emulator; on MiniStack, IAM checked and the worker's role from
/// bootstrap/cpsf.yaml granted on the tests' names ([`worker_grants`]).
pub fn options() -> PlaygroundOptions {
    let mut options = PlaygroundOptions::for_emulator(emulator())
        .expect("the emulator is installed (scripts/setup; CPSF_EMULATOR names it)");
    options.worker_role = Some(worker_grants());
    options
}

/// What the tests' worker role may reach: the stacks under
/// `deploy_harness::STACK_PREFIX`, the artifact bucket, the crash test's
/// journal, the staging bucket, the rollout tests' other account and the
/// approval tests' topic.
pub fn worker_grants() -> cpsf_playground::worker_role::Grants {
    cpsf_playground::worker_role::Grants {
        stack_prefix: crate::deploy_harness::STACK_PREFIX.into(),
        artifact_bucket: ARTIFACT_BUCKET.into(),
        journal_bucket: "cpsf-journal".into(),
        staging_bucket: "cpsf-staging".into(),
        target_accounts: vec![crate::targets::FAR.into()],
        approval_topics: vec![crate::approval_harness::TOPIC.into()],
    }
}

/// Whether this run's emulator is `needed`. When it is not, the test says
/// why (`why`: the behaviour only `needed` has) and the caller returns.
pub fn needs(needed: Emulator, why: &str) -> bool {
    let running = emulator();
    if running != needed {
        eprintln!("skipped on {running}: needs {needed}, because {why}");
    }
    running == needed
}

pub const ARTIFACT_BUCKET: &str = "cpsf-artifacts";
pub const SOURCE_BUCKET: &str = "cpsf-source";
pub const SOURCE_KEY: &str = "app.zip";
pub const SOURCE_BODY: &[u8] = b"PK-not-really-a-zip-but-bytes-are-bytes";

pub struct Harness {
    pub cp: CodePipeline,
    pub s3: aws_sdk_s3::Client,
    pub sfn: aws_sdk_sfn::Client,
    /// The account's root, for fixtures.
    pub clients: cpsf_worker::aws::Clients,
    /// The clients a worker in this process uses: bootstrap/cpsf.yaml's
    /// worker role where the emulator checks IAM (MiniStack), else root.
    pub worker_clients: cpsf_worker::aws::Clients,
    pub env: LocalEnv,
    /// None when the playground runs in another process (`cpsf local up`).
    playground: Option<Playground>,
    /// Executions whose oversized state data the test expects.
    oversized_taken: std::sync::Mutex<Vec<String>>,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Self {
        Self::start_with_fakecloud(config, Vec::new()).await
    }

    /// A playground whose fakecloud gets `args` too (e.g. `--iam strict`);
    /// the test must have checked [`needs`]`(Emulator::Fakecloud, …)`.
    pub async fn start_with_fakecloud(config: Config, args: Vec<String>) -> Self {
        let mut options = options();
        options.codepipeline = config;
        options.fakecloud_args = args;
        Self::start_playground(options).await
    }

    /// A playground started with `options` (from [`options`]).
    pub async fn start_playground(options: PlaygroundOptions) -> Self {
        let playground = Playground::start(options).await.expect("playground starts");
        let mut harness = Self::connect(playground.env()).await;
        harness.playground = Some(playground);
        harness
    }

    /// Clients for a playground at `env`, with the buckets and the source
    /// object every test uses.
    pub async fn connect(env: &LocalEnv) -> Self {
        let harness = Self::on(env).await;
        for bucket in [ARTIFACT_BUCKET, SOURCE_BUCKET] {
            harness
                .s3
                .create_bucket()
                .bucket(bucket)
                .send()
                .await
                .expect("create bucket");
        }
        // As the console makes it: uploads without SSE-KMS denied (neither
        // emulator enforces it for the owner; the worker tests check the
        // stored object's encryption instead).
        harness
            .s3
            .put_bucket_policy()
            .bucket(ARTIFACT_BUCKET)
            .policy(crate::emulator_facts::console_artifact_bucket_policy(
                ARTIFACT_BUCKET,
            ))
            .send()
            .await
            .expect("the console's artifact bucket policy");
        harness
            .s3
            .put_object()
            .bucket(SOURCE_BUCKET)
            .key(SOURCE_KEY)
            .body(SOURCE_BODY.to_vec().into())
            .send()
            .await
            .expect("put source object");
        harness
    }

    /// Clients for a playground at `env` (or a proxy in front of one),
    /// creating nothing.
    pub async fn on(env: &LocalEnv) -> Self {
        let sdk = env.sdk_config().await;
        let cp = env.codepipeline_client(&sdk);
        let worker = env.worker_sdk_config().await;
        Self {
            clients: cpsf_worker::aws::Clients {
                sdk: sdk.clone(),
                codepipeline: cp.clone(),
                sfn: aws_sdk_sfn::Client::new(&sdk),
            },
            worker_clients: cpsf_worker::aws::Clients {
                codepipeline: env.codepipeline_client(&worker),
                sfn: aws_sdk_sfn::Client::new(&worker),
                sdk: worker,
            },
            cp,
            s3: env.s3_client(&sdk),
            sfn: aws_sdk_sfn::Client::new(&sdk),
            env: env.clone(),
            playground: None,
            oversized_taken: Default::default(),
        }
    }

    /// The requests the playground refused as AWS would, taken: a test
    /// that makes such requests on purpose takes them (and asserts on
    /// them), so only unexpected ones fail it at its end.
    pub fn take_refusals(&self) -> Vec<cpsf_playground::proxy::Refusal> {
        self.playground
            .as_ref()
            .map(Playground::take_refusals)
            .unwrap_or_default()
    }

    /// Step Functions straight at the emulator, not through the relay
    /// that checks requests: to show what the emulator alone accepts.
    pub async fn unchecked_sfn(&self) -> aws_sdk_sfn::Client {
        let playground = self.playground.as_ref().expect("a playground of this test");
        let env = LocalEnv {
            aws_endpoint: playground.emulator_endpoint().to_string(),
            ..self.env.clone()
        };
        aws_sdk_sfn::Client::new(&env.sdk_config().await)
    }

    /// What the playground's request checks have done so far.
    pub fn checks(&self) -> cpsf_playground::proxy::ChecksReport {
        self.playground
            .as_ref()
            .map(Playground::checks)
            .unwrap_or_default()
    }

    /// The state data over 256 KiB in the playground's executions so far,
    /// taken: a test that makes such data on purpose takes it, so it does
    /// not fail the test at its end.
    pub async fn take_oversized_state_data(&self) -> Vec<cpsf_playground::state_data::Oversized> {
        let playground = self.playground.as_ref().expect("a playground of this test");
        let found = playground
            .state_data_check()
            .run()
            .await
            .expect("the executions' histories are read");
        self.oversized_taken
            .lock()
            .unwrap()
            .extend(found.iter().map(|o| o.execution.clone()));
        found
    }

    /// Registers the Deploy action type the worker serves.
    pub async fn create_deploy_type(&self) -> ActionTypeId {
        let property = |name: &str, required: bool, secret: bool, queryable: bool| {
            ActionConfigurationProperty::builder()
                .name(name)
                .required(required)
                .key(true)
                .secret(secret)
                .queryable(queryable)
                .build()
                .unwrap()
        };
        self.cp
            .create_custom_action_type()
            .category(ActionCategory::Deploy)
            .provider("StepFunctionsDeploy")
            .version("1")
            .settings(
                aws_sdk_codepipeline::types::ActionTypeSettings::builder()
                    .execution_url_template("https://console.example/states/{ExternalExecutionId}")
                    .build(),
            )
            .configuration_properties(property("StateMachineArn", true, false, false))
            .configuration_properties(property("Input", false, false, false))
            .configuration_properties(property("Team", true, false, true))
            .configuration_properties(property("Token", false, true, false))
            .input_artifact_details(artifacts(0, 5))
            .output_artifact_details(artifacts(0, 1))
            .send()
            .await
            .expect("create action type");
        deploy_type_id()
    }

    /// A pipeline: S3 source, then one stage of the given deploy actions.
    pub async fn create_pipeline(&self, name: &str, deploys: Vec<ActionDeclaration>) {
        self.cp
            .create_pipeline()
            .pipeline(pipeline(name, deploys))
            .send()
            .await
            .expect("create pipeline");
    }

    pub async fn start_execution(&self, pipeline: &str) -> String {
        self.cp
            .start_pipeline_execution()
            .name(pipeline)
            .send()
            .await
            .expect("start pipeline")
            .pipeline_execution_id
            .unwrap()
    }

    /// Polls until a job is handed out (the source copy runs in the background).
    pub async fn poll_job(&self) -> Job {
        self.poll_job_where(None).await
    }

    pub async fn poll_job_where(&self, team: Option<&str>) -> Job {
        // The source action's copy runs in the background against the
        // emulator; on a loaded machine (a full parallel run) MiniStack, in
        // Python, takes longer than fakecloud to get to it.
        wait_for_long("a job to be queued", Duration::from_secs(60), || {
            self.poll_once(team)
        })
        .await
    }

    /// What the console shows of the second stage's first action: its latest
    /// execution in GetPipelineState, if it has started.
    pub async fn deploy_state(&self, pipeline: &str) -> Option<ActionExecution> {
        let state = self
            .cp
            .get_pipeline_state()
            .name(pipeline)
            .send()
            .await
            .expect("GetPipelineState");
        state.stage_states()[1].action_states()[0]
            .latest_execution()
            .cloned()
    }

    /// One poll for a job (of `team`'s deploy actions, if given): none if
    /// none is queued.
    pub async fn poll_once(&self, team: Option<&str>) -> Option<Job> {
        let mut poll = self
            .cp
            .poll_for_jobs()
            .action_type_id(deploy_type_id())
            .max_batch_size(1);
        if let Some(team) = team {
            poll = poll.query_param("Team", team);
        }
        poll.send()
            .await
            .expect("poll")
            .jobs
            .unwrap_or_default()
            .into_iter()
            .next()
    }

    pub async fn acknowledge(&self, job: &Job) {
        let status = self
            .cp
            .acknowledge_job()
            .job_id(job.id().unwrap())
            .nonce(job.nonce().unwrap())
            .send()
            .await
            .expect("acknowledge")
            .status;
        assert_eq!(status.unwrap().as_str(), "InProgress");
    }

    /// Registers the Deploy type, creates pipeline `app` with `deploys` and
    /// starts it; returns the pipeline execution id.
    pub async fn start_app(&self, deploys: Vec<ActionDeclaration>) -> String {
        self.create_deploy_type().await;
        self.create_pipeline("app", deploys).await;
        self.start_execution("app").await
    }

    /// Reports success (no continuation) for an acknowledged job.
    pub async fn succeed(&self, job: &Job) {
        self.cp
            .put_job_success_result()
            .job_id(job.id().unwrap())
            .send()
            .await
            .expect("put job success result");
    }

    /// An acknowledged job of a fresh pipeline `app`, ready for a result.
    pub async fn acknowledged_job(&self) -> Job {
        self.create_deploy_type().await;
        self.create_pipeline("app", vec![deploy_action("Deploy", 1, "blue")])
            .await;
        self.start_execution("app").await;
        let job = self.poll_job().await;
        self.acknowledge(&job).await;
        job
    }

    pub async fn execution_status(&self, pipeline: &str, id: &str) -> PipelineExecutionStatus {
        self.cp
            .get_pipeline_execution()
            .pipeline_name(pipeline)
            .pipeline_execution_id(id)
            .send()
            .await
            .expect("get execution")
            .pipeline_execution
            .unwrap()
            .status
            .unwrap()
    }

    pub async fn wait_for_status(&self, pipeline: &str, id: &str, want: PipelineExecutionStatus) {
        wait_for(&format!("execution to be {want:?}"), || async {
            (self.execution_status(pipeline, id).await == want).then_some(())
        })
        .await
    }
}

/// How long the end of a test may take to read every execution's history.
const STATE_DATA_CHECK_LIMIT: Duration = Duration::from_secs(60);

impl Drop for Harness {
    /// The test's end: the requests AWS would have refused and the state
    /// data over 256 KiB fail it (unless it is failing already).
    fn drop(&mut self) {
        let Some(playground) = &self.playground else {
            return;
        };
        if std::thread::panicking() {
            return;
        }
        let report = playground.checks();
        eprintln!("limits: {report}");
        crate::figures::record_checks(emulator(), &report);
        let mut problems: Vec<String> = playground
            .take_refusals()
            .iter()
            .map(|refusal| format!("a request AWS would refuse: {refusal}"))
            .collect();
        // On a thread and runtime of its own, straight to the emulator:
        // the test's runtime (which runs the relay) is blocked here.
        let check = playground.state_data_check();
        let checked = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the state data check")
                .block_on(
                    async move { tokio::time::timeout(STATE_DATA_CHECK_LIMIT, check.run()).await },
                )
        })
        .join()
        .expect("the state data check does not panic");
        match checked {
            Ok(Ok(oversized)) => {
                let taken = self.oversized_taken.lock().unwrap();
                problems.extend(
                    oversized
                        .iter()
                        .filter(|o| !taken.contains(&o.execution))
                        .map(ToString::to_string),
                )
            }
            Ok(Err(error)) => problems.push(format!("state data not checked: {error:#}")),
            Err(_) => problems.push(format!(
                "state data not checked within {STATE_DATA_CHECK_LIMIT:?}"
            )),
        }
        assert!(
            problems.is_empty(),
            "AWS's limits broken in this test:\n  {}",
            problems.join("\n  ")
        );
    }
}

/// The pipeline context of a job: where in which pipeline execution it runs.
pub fn context_of(job: &Job) -> &PipelineContext {
    job.data()
        .and_then(|d| d.pipeline_context())
        .expect("a job has a pipeline context")
}

/// The action a job runs, as its pipeline context names it.
pub fn action_of(job: &Job) -> &ActionContext {
    context_of(job).action().expect("a job names its action")
}

pub fn deploy_type_id() -> ActionTypeId {
    deploy_type_id_for(PROVIDER)
}

/// The worker's provider name unless a test needs a type of its own.
pub const PROVIDER: &str = "StepFunctionsDeploy";

/// A Deploy action type of its own keeps a test's jobs from other workers.
pub fn deploy_type_id_for(provider: &str) -> ActionTypeId {
    cpsf_worker::action_type::id_for(provider)
}

pub fn artifacts(min: i32, max: i32) -> ArtifactDetails {
    ArtifactDetails::builder()
        .minimum_count(min)
        .maximum_count(max)
        .build()
}

/// A deploy action reading the source artifact.
pub fn deploy_action(name: &str, run_order: i32, team: &str) -> ActionDeclaration {
    ActionDeclaration::builder()
        .name(name)
        .action_type_id(deploy_type_id())
        .run_order(run_order)
        .configuration(
            "StateMachineArn",
            "arn:aws:states:us-east-1:123456789012:stateMachine:deploy",
        )
        .configuration("Team", team)
        .configuration("Token", "s3cr3t")
        .input_artifacts(
            InputArtifact::builder()
                .name("SourceOutput")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

pub fn source_action() -> ActionDeclaration {
    source_action_for(SOURCE_KEY)
}

/// The S3 source action reading `key` in the source bucket.
pub fn source_action_for(key: &str) -> ActionDeclaration {
    cpsf_worker::pipeline::s3_source(SOURCE_BUCKET, key)
}

pub fn pipeline(name: &str, deploys: Vec<ActionDeclaration>) -> PipelineDeclaration {
    pipeline_from(name, SOURCE_KEY, deploys)
}

/// A pipeline whose source is `source_key` in the source bucket.
pub fn pipeline_from(
    name: &str,
    source_key: &str,
    deploys: Vec<ActionDeclaration>,
) -> PipelineDeclaration {
    PipelineDeclaration::builder()
        .name(name)
        .role_arn("arn:aws:iam::123456789012:role/pipeline")
        .artifact_store(
            ArtifactStore::builder()
                .r#type(ArtifactStoreType::S3)
                .location(ARTIFACT_BUCKET)
                .build()
                .unwrap(),
        )
        .stages(
            StageDeclaration::builder()
                .name("Source")
                .actions(source_action_for(source_key))
                .build()
                .unwrap(),
        )
        .stages(
            StageDeclaration::builder()
                .name("Deploy")
                .set_actions(Some(deploys))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// The error code of a failed call, e.g. `InvalidNonceException`.
pub fn code<T, E: ProvideErrorMetadata>(result: Result<T, E>) -> String {
    match result {
        Ok(_) => panic!("expected the call to fail"),
        Err(e) => e.code().unwrap_or("<none>").to_string(),
    }
}

/// The error message of a failed call.
pub fn message<T, E: ProvideErrorMetadata>(result: Result<T, E>) -> String {
    match result {
        Ok(_) => panic!("expected the call to fail"),
        Err(e) => e.message().unwrap_or_default().to_string(),
    }
}

impl Harness {
    /// An execution's status as DescribeExecution says it (RUNNING, …).
    pub async fn execution_status_of(&self, execution_arn: &str) -> String {
        self.sfn
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .unwrap()
            .status
            .as_str()
            .to_string()
    }
}

/// `cpsf`, pointed at the playground `env` as a user who sourced its env
/// file runs it (as the account's root: the profile `default`).
pub fn cpsf(env: &LocalEnv) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cpsf"));
    command
        // Nothing of this process's own AWS settings: only the env file's.
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .envs(env.vars())
        .env("XDG_STATE_HOME", state_home(env))
        .stdin(std::process::Stdio::null());
    command
}

/// `cpsf worker` started by hand on the playground `env`: as [`cpsf`],
/// with `AWS_PROFILE=cpsf-worker` where the playground has the worker's
/// role (the env file's AWS config names it).
pub fn cpsf_worker(env: &LocalEnv) -> std::process::Command {
    let mut command = cpsf(env);
    if env.profiles.is_some() {
        command.env("AWS_PROFILE", cpsf_playground::worker_role::PROFILE);
    }
    command.arg("worker");
    command
}

/// Runs tests/data/`script` with MiniStack's venv Python (it has boto3),
/// with nothing in its environment but `vars` and HOME, and asserts it
/// printed "ok".
pub async fn python_says_ok(script: &str, vars: impl IntoIterator<Item = (String, String)>) {
    let python = cpsf_playground::child::tools_dir()
        .expect("a tools folder (scripts/setup)")
        .join("ministack/bin/python");
    let mut command = std::process::Command::new(python);
    command
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(script),
        )
        .env_clear()
        .env("HOME", std::env::temp_dir())
        // No __pycache__ left in the checkout by the shared module.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .envs(vars);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "ok\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Whether `cpsf local up` has written the whole env file: six variables
/// (on MiniStack the AWS config files and the stack prefix in place of the
/// keys: seven), the approvals' three, and on MiniStack the execution
/// events queue.
pub fn env_file_complete(text: &str) -> bool {
    let ministack = usize::from(emulator() == Emulator::Ministack);
    text.lines().count() == 6 + ministack + 3 + ministack
}

/// Each playground's processes keep their state (the default journal) in
/// a directory of their own, shared across their restarts: a worker of
/// another test must not recover (and so remove) this test's entries.
pub fn state_home(env: &LocalEnv) -> std::path::PathBuf {
    let port = env.codepipeline_endpoint.rsplit(':').next().unwrap_or("0");
    std::env::temp_dir().join(format!("cpsf-test-state-{}-{port}", std::process::id()))
}

/// A child process killed when the test ends, even by a panic, so a failing
/// test never leaves a `cpsf` process behind.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends SIGTERM and waits up to `limit` for the process to exit.
pub async fn terminate(
    child: &mut std::process::Child,
    limit: Duration,
) -> std::process::ExitStatus {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "process did not exit within {limit:?} of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Retries `check` every 50 ms for up to 20 s.
pub async fn wait_for<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    wait_for_long(what, Duration::from_secs(20), check).await
}

/// Retries `check` every 50 ms until `limit` passes.
pub async fn wait_for_long<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
