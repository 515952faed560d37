//! Shutdown signals: SIGINT (Ctrl-C) and SIGTERM, which ECS, Kubernetes and
//! `docker stop` send.

use std::time::Duration;

/// How long in-flight work (jobs and task handlers alike) gets to finish
/// after a signal: `--shutdown-grace`'s default, below the StopTimeout
/// (45 s) bootstrap/cpsf.yaml gives the container before SIGKILL.
pub const GRACE: Duration = Duration::from_secs(30);

/// Resolves when the process is asked to stop.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
