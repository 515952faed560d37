//! fakecloud as a child process: found, started on a free loopback port,
//! probed until it answers.
//!
//! fakecloud is AGPL-3.0; cpsf only ever runs it as a separate program.

use super::child::{EmulatorChild, forward_lines};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Finds the fakecloud binary: `CPSF_FAKECLOUD`, then the set-up script's
/// tools folder (`CPSF_TOOLS`, default `~/.cache/cpsf/tools`), then `PATH`.
pub fn locate() -> Result<PathBuf> {
    super::child::locate("CPSF_FAKECLOUD", "bin/fakecloud", "fakecloud").context(
        "fakecloud is not installed: run `scripts/setup --fakecloud` (it builds fakecloud \
         into ~/.cache/cpsf/tools, ~25 min once), or point CPSF_FAKECLOUD at a fakecloud 0.51 \
         binary, or use MiniStack (--emulator ministack)",
    )
}

/// Starts fakecloud on `127.0.0.1:0` and waits until it answers; returns
/// the process and its endpoint.
pub async fn start(binary: &Path, extra_args: &[String]) -> Result<(EmulatorChild, String)> {
    let mut command = Command::new(binary);
    command
        .args(["--addr", "127.0.0.1:0"])
        .args(extra_args)
        .env("FAKECLOUD_LOG", "warn")
        // GetActivityTask holds up to 60 s on AWS; fakecloud defaults to 5.
        .env("FAKECLOUD_SFN_GET_ACTIVITY_TIMEOUT_SECS", "60");
    let (child, stdout) = EmulatorChild::spawn("fakecloud", command)
        .with_context(|| format!("fakecloud at {}", binary.display()))?;
    let port = tokio::time::timeout(STARTUP_TIMEOUT, read_port(stdout))
        .await
        .context("fakecloud did not report its port in time")??;
    let endpoint = format!("http://127.0.0.1:{port}");
    cpsf_worker::probe::wait_until_answers(&endpoint, "GET", "/_fakecloud/health", STARTUP_TIMEOUT)
        .await
        .context("fakecloud does not answer its health check")?;
    Ok((child, endpoint))
}

/// Reads stdout up to `FAKECLOUD_PORT=<port>` (fakecloud binds port 0
/// itself, so there is no port race), then keeps draining it.
async fn read_port(stdout: impl AsyncRead + Unpin + Send + 'static) -> Result<u16> {
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(port) = line.trim().strip_prefix("FAKECLOUD_PORT=") {
            let port = port
                .parse()
                .with_context(|| format!("bad port line from fakecloud: {line}"))?;
            forward_lines("fakecloud", lines);
            return Ok(port);
        }
        tracing::debug!(target: "emulator", emulator = "fakecloud", "{line}");
    }
    bail!(
        "fakecloud exited before reporting its port (see its output with RUST_LOG=emulator=debug)"
    )
}
