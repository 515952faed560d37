//! Crash safety with no flags: `cpsf worker`, nothing else, killed with
//! SIGKILL three times while eight pipelines run, leaves no job unanswered
//! and starts one execution per pipeline. The first jobs are recovered from
//! the state machines of the pipelines that use the action type (found by
//! the worker itself), the continuation jobs from the journal in its
//! machine's state directory.

use crate::figures;
use crate::harness::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

const PIPELINES: usize = 8;
const KILLS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_with_no_flags_killed_three_times_loses_no_job() {
    let h = Harness::start().await;
    h.create_worker_type().await;
    // The activities `cpsf worker` serves must exist, as bootstrap makes them.
    h.install_deploy(|_| {}).await;
    let machine = h.create_slow_machine("slow", 4).await;
    for i in 0..PIPELINES {
        h.create_worker_pipeline(&format!("app-{i}"), &[("StateMachineArn", &machine)])
            .await;
    }
    let log = std::env::temp_dir().join(format!("cpsf-defaults-{}.log", std::process::id()));
    let worker = || {
        let mut command = cpsf_worker(&h.env);
        command.stdout(Stdio::null()).stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .unwrap(),
        );
        KillOnDrop(command.spawn().expect("start cpsf worker"))
    };
    let mut running = worker();
    let mut ids = Vec::new();
    for i in 0..PIPELINES {
        ids.push(h.start_execution(&format!("app-{i}")).await);
    }
    let mut last_restart = Instant::now();
    for kill in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(1500 + 1000 * kill as u64)).await;
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(running.0.id() as i32, libc::SIGKILL) };
        running.0.wait().unwrap();
        running = worker();
        last_restart = Instant::now();
    }
    let mut statuses = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let status = h
            .wait_until_done_within(&format!("app-{i}"), id, Duration::from_secs(180))
            .await;
        statuses.push(status);
    }
    let recovered_after = last_restart.elapsed().as_secs_f64();
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        statuses.iter().all(|s| s == "Succeeded"),
        "{statuses:?}\n{}",
        logs.lines().rev().take(40).collect::<Vec<_>>().join("\n")
    );
    let executions = h.executions(&machine).await;
    assert_eq!(executions.len(), PIPELINES, "one execution per pipeline");
    // The worker said where its journal is and what it recovers from.
    assert!(
        logs.contains("journal of jobs between acknowledgement and report"),
        "{logs}"
    );
    assert!(
        logs.contains("recovering unanswered jobs from the state machines"),
        "{logs}"
    );
    drop(running);
    figures::record(
        "crash_defaults",
        serde_json::json!({
            "pipelines": PIPELINES,
            "kills": KILLS,
            "succeeded": statuses.iter().filter(|s| *s == "Succeeded").count(),
            "executions": executions.len(),
            "all_done_seconds_after_last_restart": recovered_after,
        }),
    );
    let _ = std::fs::remove_file(&log);
}
