//! MiniStack (PyPI `ministack`, MIT, pure Python) as a child process: found
//! in the set-up script's venv, started on a free loopback port with every
//! extra listener off, probed until it answers.
//!
//! MiniStack binds 0.0.0.0 unless `BIND_HOST` says otherwise, and opens an
//! IoT mTLS listener (0.0.0.0:8883) and an SFTP one (0.0.0.0:2024) unless
//! told not to. The playground must not be reachable from the network, so
//! all three are set here; `tests/playground/local_up.rs` checks every
//! listening socket of the process.

use super::child::{EmulatorChild, forward_lines};
use anyhow::{Context, Result, bail};
use cpsf_worker::pipeline::wire::SessionCredentials;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The version `scripts/setup` pins; documented differences from AWS
/// (docs/emulators.md) were measured against it.
pub const VERSION: &str = "1.5.33";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// MiniStack takes its port from the environment and cannot report a port
/// it chose itself, so cpsf picks a free one; another process may take it
/// first, and then the start is tried again on another port.
const START_ATTEMPTS: usize = 3;

/// Finds MiniStack: `CPSF_MINISTACK`, then the set-up script's venv
/// (`<tools>/ministack/bin/ministack`), then `PATH`.
pub fn locate() -> Result<PathBuf> {
    super::child::locate("CPSF_MINISTACK", "ministack/bin/ministack", "ministack").with_context(
        || {
            format!(
                "MiniStack is not installed: run scripts/setup (it installs ministack=={VERSION} \
                 into a venv under ~/.cache/cpsf/tools in ~20 s), or point CPSF_MINISTACK at a \
                 ministack {VERSION} executable"
            )
        },
    )
}

/// Starts MiniStack on a free `127.0.0.1` port and waits until it answers;
/// returns the process and its endpoint. `auth`: MiniStack checks IAM.
/// `root`: keys MiniStack takes as the account's root besides `test` (its
/// configured key, which must come with its session token): the local
/// CodePipeline service's artifact credentials, when a test sets its own.
pub async fn start(
    binary: &Path,
    auth: bool,
    root: Option<&SessionCredentials>,
) -> Result<(EmulatorChild, String)> {
    let mut last_error = None;
    for _ in 0..START_ATTEMPTS {
        match start_once(binary, auth, root).await {
            Ok(started) => return Ok(started),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.expect("at least one attempt"))
}

async fn start_once(
    binary: &Path,
    auth: bool,
    root: Option<&SessionCredentials>,
) -> Result<(EmulatorChild, String)> {
    let port = free_loopback_port()?;
    let mut command = Command::new(binary);
    // MiniStack takes the keys in its own environment as the root's: only
    // those given here, never the keys of whoever started cpsf.
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        command.env_remove(name);
    }
    if let Some(root) = root {
        command
            .env("AWS_ACCESS_KEY_ID", &root.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &root.secret_access_key)
            .env("AWS_SESSION_TOKEN", &root.session_token);
    }
    command
        .env("GATEWAY_PORT", port.to_string())
        .env("BIND_HOST", "127.0.0.1")
        .env("IOT_MTLS_ENABLED", "0")
        .env("SFTP_ENABLED", "0")
        // The account the playground's `test` keys act in: fakecloud's, so
        // ARNs read the same on both emulators (and in test_events/).
        .env("MINISTACK_ACCOUNT_ID", crate::names::ACCOUNT_ID)
        // State lives in memory and dies with the process, as fakecloud's.
        .env("PERSIST_STATE", "0")
        .env("AUTH", if auth { "true" } else { "false" })
        .env("LOG_LEVEL", "WARNING");
    let (mut child, stdout) = EmulatorChild::spawn("ministack", command)
        .with_context(|| format!("ministack at {}", binary.display()))?;
    forward_lines("ministack", BufReader::new(stdout).lines());
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
    loop {
        if cpsf_worker::probe::http_status(&endpoint, "GET", "/_ministack/health")
            .await
            .is_ok()
        {
            return Ok((child, endpoint));
        }
        if child.has_exited() {
            bail!(
                "ministack exited while starting on port {port} (see its output with \
                 RUST_LOG=emulator=debug)"
            );
        }
        if tokio::time::Instant::now() >= deadline {
            child.stop().await;
            bail!("ministack did not answer on {endpoint} within {STARTUP_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn free_loopback_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("could not find a free loopback port for ministack")?;
    Ok(listener.local_addr()?.port())
}
