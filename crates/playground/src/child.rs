//! An emulator as a child process: started so that it cannot outlive cpsf,
//! its output forwarded to tracing, stopped with SIGTERM then SIGKILL.
//!
//! Both emulators (fakecloud, MiniStack) run only as separate programs:
//! fakecloud is AGPL-3.0 and MiniStack is Python.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const STOP_GRACE: Duration = Duration::from_secs(5);

/// Where `scripts/setup` installs tools unless `CPSF_TOOLS` says otherwise,
/// relative to the home directory.
const DEFAULT_TOOLS: &str = ".cache/cpsf/tools";

/// The set-up script's tools folder: `CPSF_TOOLS`, or `~/.cache/cpsf/tools`.
pub fn tools_dir() -> Option<PathBuf> {
    std::env::var_os("CPSF_TOOLS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(DEFAULT_TOOLS)))
}

/// A program named by `override_var`, else `relative` under the tools
/// folder, else `name` on `PATH`.
pub fn locate(override_var: &str, relative: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(override_var) {
        return Some(PathBuf::from(path));
    }
    let installed = tools_dir().map(|dir| dir.join(relative));
    if let Some(path) = installed.filter(|p| p.is_file()) {
        return Some(path);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A running emulator process. Dropping it kills the process.
pub struct EmulatorChild {
    child: Child,
    name: &'static str,
}

impl EmulatorChild {
    /// Spawns `command` with piped output, killed when the thread that
    /// spawned it dies (`PR_SET_PDEATHSIG`), so it cannot outlive a killed
    /// cpsf. Start it from a thread that lives as long as the playground
    /// (the main thread, or a test's own thread). Returns the child and its
    /// stdout, which the caller reads (for a port line) and then forwards.
    pub fn spawn(name: &'static str, mut command: Command) -> Result<(Self, ChildStdout)> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        die_with_parent(&mut command);
        let mut child = command
            .spawn()
            .with_context(|| format!("could not start {name}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        forward_lines(name, BufReader::new(stderr).lines());
        Ok((Self { child, name }, stdout))
    }

    /// The child's process id, e.g. to read its CPU time or its sockets.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Whether the process has exited (e.g. it could not bind its port).
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the process: SIGTERM, then SIGKILL if it lingers.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: plain syscall on a pid we own and have not reaped.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            tracing::debug!(
                "{} did not stop within {STOP_GRACE:?}; killing it",
                self.name
            );
            let _ = self.child.kill().await;
        }
    }
}

/// Keeps draining a stream into tracing at debug level (target
/// `emulator`), so the child never blocks on a full pipe.
pub fn forward_lines<R: AsyncRead + Unpin + Send + 'static>(
    name: &'static str,
    mut lines: Lines<BufReader<R>>,
) {
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(target: "emulator", emulator = name, "{line}");
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
