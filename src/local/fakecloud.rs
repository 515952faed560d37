//! fakecloud as a child process: found, started on a free loopback port,
//! probed until it answers, and stopped with its parent.
//!
//! fakecloud is AGPL-3.0; cpsf only ever runs it as a separate program.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// Where `scripts/setup` installs tools unless `CPSF_TOOLS` says otherwise,
/// relative to the home directory.
const DEFAULT_TOOLS: &str = ".cache/cpsf/tools";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Finds the fakecloud binary: `CPSF_FAKECLOUD`, then the set-up script's
/// tools folder (`CPSF_TOOLS`, default `~/.cache/cpsf/tools`), then `PATH`.
pub fn locate() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("CPSF_FAKECLOUD") {
        return Ok(PathBuf::from(path));
    }
    let tools = std::env::var_os("CPSF_TOOLS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(DEFAULT_TOOLS)));
    let installed = tools.map(|dir| dir.join("bin/fakecloud"));
    if let Some(path) = installed.filter(|p| p.is_file()) {
        return Ok(path);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("fakecloud"))
        .find(|p| p.is_file());
    on_path.context(
        "fakecloud is not installed: run scripts/setup (it installs fakecloud into \
         ~/.cache/cpsf/tools), or point CPSF_FAKECLOUD at a fakecloud 0.51 binary",
    )
}

/// A running fakecloud. Dropping it kills the process.
pub struct Fakecloud {
    child: Child,
    endpoint: String,
}

impl Fakecloud {
    /// Starts fakecloud on `127.0.0.1:0` and waits until it answers.
    ///
    /// The child gets SIGKILL if the thread that spawned it dies
    /// (`PR_SET_PDEATHSIG`), so it cannot outlive a killed cpsf. Start it
    /// from a thread that lives as long as the playground (the main thread,
    /// or a test's own thread).
    pub async fn start(binary: &Path, extra_args: &[String]) -> Result<Self> {
        let mut command = Command::new(binary);
        command
            .args(["--addr", "127.0.0.1:0"])
            .args(extra_args)
            .env("FAKECLOUD_LOG", "warn")
            // GetActivityTask holds up to 60 s on AWS; fakecloud defaults to 5.
            .env("FAKECLOUD_SFN_GET_ACTIVITY_TIMEOUT_SECS", "60")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        die_with_parent(&mut command);
        let mut child = command
            .spawn()
            .with_context(|| format!("could not start fakecloud at {}", binary.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        forward_output(stderr);
        let port = tokio::time::timeout(STARTUP_TIMEOUT, read_port(stdout))
            .await
            .context("fakecloud did not report its port in time")??;
        let endpoint = format!("http://127.0.0.1:{port}");
        let fakecloud = Self { child, endpoint };
        super::probe::wait_until_answers(
            &fakecloud.endpoint,
            "GET",
            "/_fakecloud/health",
            STARTUP_TIMEOUT,
        )
        .await
        .context("fakecloud does not answer its health check")?;
        Ok(fakecloud)
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Stops fakecloud: SIGTERM, then SIGKILL if it lingers.
    /// The child's process id, e.g. to read its CPU time.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: plain syscall on a pid we own and have not reaped.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Reads stdout up to `FAKECLOUD_PORT=<port>`, then keeps draining it so
/// fakecloud never blocks on a full pipe.
async fn read_port(stdout: impl AsyncRead + Unpin + Send + 'static) -> Result<u16> {
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(port) = line.trim().strip_prefix("FAKECLOUD_PORT=") {
            let port = port
                .parse()
                .with_context(|| format!("bad port line from fakecloud: {line}"))?;
            forward_lines(lines);
            return Ok(port);
        }
        tracing::debug!(target: "fakecloud", "{line}");
    }
    bail!(
        "fakecloud exited before reporting its port (see its output with RUST_LOG=fakecloud=debug)"
    )
}

fn forward_output(stream: impl AsyncRead + Unpin + Send + 'static) {
    forward_lines(BufReader::new(stream).lines());
}

fn forward_lines<R: AsyncRead + Unpin + Send + 'static>(mut lines: tokio::io::Lines<BufReader<R>>) {
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(target: "fakecloud", "{line}");
        }
    });
}

#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    // SAFETY: prctl is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {
    // Elsewhere kill_on_drop and the signal handler are the safety net.
}
