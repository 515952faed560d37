//! The whole playground: fakecloud plus the local CodePipeline service, each
//! on a free loopback port. `cpsf local up`, the demo and the integration
//! tests all start it through [`Playground::start`].

use super::codepipeline::{Config, LocalCodePipeline};
use super::env::LocalEnv;
use super::fakecloud::Fakecloud;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct PlaygroundOptions {
    pub fakecloud_binary: PathBuf,
    /// More fakecloud flags, e.g. `--iam strict`.
    pub fakecloud_args: Vec<String>,
    pub codepipeline: Config,
}

impl PlaygroundOptions {
    /// The installed fakecloud and the service's default settings.
    pub fn from_env() -> Result<Self> {
        Ok(Self {
            fakecloud_binary: super::fakecloud::locate()?,
            fakecloud_args: Vec::new(),
            codepipeline: Config::default(),
        })
    }
}

pub struct Playground {
    fakecloud: Fakecloud,
    env: LocalEnv,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

impl Playground {
    pub async fn start(options: PlaygroundOptions) -> Result<Self> {
        let fakecloud =
            Fakecloud::start(&options.fakecloud_binary, &options.fakecloud_args).await?;
        // Bind before anything is announced, so the port cannot be taken
        // between choosing and using it.
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("could not bind a loopback port for the local CodePipeline service")?;
        let env = LocalEnv {
            aws_endpoint: fakecloud.endpoint().to_string(),
            codepipeline_endpoint: format!("http://{}", listener.local_addr()?),
        };
        let sdk = env.sdk_config().await;
        let service = LocalCodePipeline::new(options.codepipeline, env.s3_client(&sdk));
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(service.serve(listener, shutdown.clone()));
        super::probe::wait_until_answers(
            &env.codepipeline_endpoint,
            "POST",
            "/",
            Duration::from_secs(10),
        )
        .await
        .context("the local CodePipeline service does not answer")?;
        Ok(Self {
            fakecloud,
            env,
            shutdown,
            server,
        })
    }

    /// fakecloud's process id (benchmarks read its CPU time).
    pub fn fakecloud_pid(&self) -> Option<u32> {
        self.fakecloud.pid()
    }

    pub fn env(&self) -> &LocalEnv {
        &self.env
    }

    /// Stops the service and fakecloud, waiting for both.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        self.fakecloud.stop().await;
    }
}
