//! The whole playground: an AWS emulator (MiniStack or fakecloud) plus the
//! local CodePipeline service, each on a free loopback port, behind a relay
//! that checks every request against the AWS API models (`proxy/checks/`).
//! `cpsf local up`, the demo and the integration tests all start it through
//! [`Playground::start`].

use super::child::EmulatorChild;
use super::codepipeline::{Config, LocalCodePipeline};
use super::emulator::Emulator;
use super::env::{LocalEnv, Profiles};
use super::proxy::{Checks, ChecksReport, FaultPlan, Proxy, ProxyOptions, Refusal};
use super::worker_role::Grants;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct PlaygroundOptions {
    pub emulator: Emulator,
    /// The emulator's installed program.
    pub emulator_binary: PathBuf,
    /// More fakecloud flags, e.g. `--iam strict` (fakecloud only).
    pub fakecloud_args: Vec<String>,
    /// MiniStack checks IAM (its `AUTH=true`, on by default): the
    /// playground's `test` keys act as the account's root, STS refuses a
    /// role that does not exist or does not trust the caller, and any
    /// other principal gets what its policies grant, as on AWS.
    pub ministack_auth: bool,
    /// With `ministack_auth`: the worker's role from bootstrap/cpsf.yaml,
    /// granted on these names (`worker_role.rs`), which the env file's
    /// profile `cpsf-worker` assumes. Default: the demo's names.
    pub worker_role: Option<Grants>,
    pub codepipeline: Config,
}

impl PlaygroundOptions {
    /// The emulator `CPSF_EMULATOR` names (MiniStack by default), installed,
    /// and the service's default settings.
    pub fn from_env() -> Result<Self> {
        Self::for_emulator(Emulator::from_env()?)
    }

    /// `emulator`, installed, and the service's default settings.
    pub fn for_emulator(emulator: Emulator) -> Result<Self> {
        Ok(Self {
            emulator,
            emulator_binary: emulator.locate()?,
            fakecloud_args: Vec::new(),
            ministack_auth: true,
            worker_role: Some(super::worker_role::Grants::playground()),
            codepipeline: Config::default(),
        })
    }
}

pub struct Playground {
    emulator: Emulator,
    process: EmulatorChild,
    /// In front of the emulator and the CodePipeline service; stops when
    /// dropped.
    _relay: Proxy,
    checks: Arc<Checks>,
    /// The emulator itself, not through the relay.
    emulator_endpoint: String,
    env: LocalEnv,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    /// The AWS config files, removed with the playground.
    _profiles: Option<RemovedOnDrop>,
}

/// A folder removed when the playground goes, however it goes.
struct RemovedOnDrop(PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Playground {
    pub async fn start(options: PlaygroundOptions) -> Result<Self> {
        // The service hands its artifact credentials to every job; checking
        // IAM, MiniStack accepts only keys it knows, so keys other than the
        // default `test` ones become its root's too (as `test` is).
        let artifacts = &options.codepipeline.artifact_credentials;
        let artifact_root =
            (artifacts.access_key_id != super::env::TEST_ACCESS_KEY_ID).then_some(artifacts);
        let (process, emulator_endpoint) = options
            .emulator
            .start(
                &options.emulator_binary,
                &options.fakecloud_args,
                options.ministack_auth,
                artifact_root,
            )
            .await?;
        // Bind before anything is announced, so the port cannot be taken
        // between choosing and using it.
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("could not bind a loopback port for the local CodePipeline service")?;
        let codepipeline_endpoint = format!("http://{}", listener.local_addr()?);
        // Every call passes the relay, which checks it as AWS would (the
        // emulators accept much that AWS refuses). MiniStack also strands an
        // activity task handed to a poll whose worker has gone; the relay
        // keeps such tasks for the next poll (proxy::OrphanedTasks says
        // why). fakecloud times them out as AWS.
        let checks = Arc::new(Checks::default());
        let relay = Proxy::start(ProxyOptions {
            codepipeline: codepipeline_endpoint.clone(),
            emulator: emulator_endpoint.clone(),
            faults: FaultPlan::none(),
            hook: None,
            keep_orphaned_tasks: options.emulator == Emulator::Ministack,
            checks: Some(checks.clone()),
        })
        .await?;
        let mut env = LocalEnv {
            aws_endpoint: relay.endpoint(),
            codepipeline_endpoint: relay.endpoint(),
            events_queue: None,
            approvals: None,
            profiles: None,
        };
        let sdk = env.sdk_config().await;
        // MiniStack emits Step Functions' execution status events, as AWS
        // does; fakecloud does not, so there jobs keep their own pace.
        if options.emulator == Emulator::Ministack {
            env.events_queue = Some(
                crate::events_queue::install(&sdk, crate::events_queue::NAME, &[], &[]).await?,
            );
        }
        env.approvals = Some(super::approvals::install(&sdk, &env.s3_client(&sdk)).await?);
        // Only MiniStack checks IAM: on fakecloud the worker keeps the
        // test keys (docs/emulators.md).
        if let (Emulator::Ministack, true, Some(grants)) = (
            options.emulator,
            options.ministack_auth,
            &options.worker_role,
        ) {
            let template = super::worker_role::RoleTemplate::from_bootstrap()?;
            let worker = super::worker_role::install(&sdk, &template, grants)
                .await
                .context("could not install the worker's role from bootstrap/cpsf.yaml")?;
            let port = listener.local_addr()?.port();
            let profiles = Profiles {
                dir: std::env::temp_dir()
                    .join(format!("cpsf-playground-{}-{port}", std::process::id())),
                worker,
            };
            profiles.write()?;
            env.profiles = Some(profiles);
        }
        let mut service = LocalCodePipeline::new(options.codepipeline, env.s3_client(&sdk));
        // Action starts reach the events queue where it exists (MiniStack):
        // the worker polls the moment a Deploy action starts.
        if env.events_queue.is_some() {
            service = service.with_events(aws_sdk_eventbridge::Client::new(&sdk));
        }
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(service.serve(listener, shutdown.clone()));
        cpsf_worker::probe::wait_until_answers(
            &codepipeline_endpoint,
            "POST",
            "/",
            Duration::from_secs(10),
        )
        .await
        .context("the local CodePipeline service does not answer")?;
        Ok(Self {
            emulator: options.emulator,
            process,
            _relay: relay,
            _profiles: env.profiles.as_ref().map(|p| RemovedOnDrop(p.dir.clone())),
            checks,
            emulator_endpoint,
            env,
            shutdown,
            server,
        })
    }

    pub fn emulator(&self) -> Emulator {
        self.emulator
    }

    /// The emulator's process id (benchmarks read its CPU time, tests its
    /// listening sockets).
    pub fn emulator_pid(&self) -> Option<u32> {
        self.process.pid()
    }

    pub fn env(&self) -> &LocalEnv {
        &self.env
    }

    /// How many requests the relay checked against the AWS API models, and
    /// how many it refused.
    pub fn checks(&self) -> ChecksReport {
        self.checks.report()
    }

    /// The requests refused since the last call: a test that expects some
    /// takes them; any left at its end are requests AWS would refuse.
    pub fn take_refusals(&self) -> Vec<Refusal> {
        self.checks.take_refusals()
    }

    /// The emulator's own endpoint, behind the relay: what the emulator
    /// does with a request the relay would refuse (tests of the checks).
    pub fn emulator_endpoint(&self) -> &str {
        &self.emulator_endpoint
    }

    /// What checking the state data of every execution needs: the
    /// emulator (directly, not through the relay, so the check can run
    /// while the relay's runtime is blocked) and the executions started.
    pub fn state_data_check(&self) -> super::state_data::StateDataCheck {
        super::state_data::StateDataCheck {
            endpoint: self.emulator_endpoint.clone(),
            started: self.checks.started_executions(),
        }
    }

    /// Stops the service and the emulator, waiting for both.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        self.process.stop().await;
    }
}
