//! A task handler killed mid-task: its heartbeats stop, Step Functions times
//! the task out, the state machine's Retry delivers it again to another
//! worker, and the deploy still succeeds.

use crate::deploy_harness::*;
use crate::harness::*;
use cpsf_playground::Emulator;
use std::process::Stdio;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_handler_killed_mid_task_is_timed_out_and_retried() {
    if !needs(
        Emulator::Fakecloud,
        "the test waits for Step Functions to time out a task whose heartbeats stopped; \
         MiniStack 1.5.33 enforces no activity HeartbeatSeconds (AWS and fakecloud do)",
    ) {
        return;
    }
    let h = Harness::start().await;
    h.create_worker_type().await;
    // Short heartbeats, so a dead handler is noticed in seconds.
    let machine = h
        .install_deploy(|definition| short_heartbeats(definition, 2))
        .await;
    h.create_deploy_pipeline("app", &machine).await;

    // Worker A serves the activities; it is frozen while its long polls are
    // open (they hold 60 s, as on AWS), so the first task is handed to it
    // and never answered.
    let log = std::env::temp_dir().join(format!("cpsf-tasks-{}.log", std::process::id()));
    let mut a = cpsf_worker(&h.env);
    a.args(["--tasks-only", "--heartbeat-every", &heartbeat_flag()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut a = KillOnDrop(a.spawn().unwrap());
    wait_for("worker A to poll its activities", || async {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let all = cpsf_worker::tasks::Handler::ALL.len();
        (text.matches("serving activity").count() == all).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // SAFETY: signals to our own child.
    unsafe { libc::kill(a.0.id() as i32, libc::SIGSTOP) };

    let jobs = h.start_deploy_worker(true, false);
    let app = App::sample();
    let deploy = serde_json::to_string(&app.deploy).unwrap();
    h.put_source_zip(&[("deploy.json", &deploy), ("template.yaml", &app.template)])
        .await;
    let id = h.start_execution("app").await;
    let execution = wait_for("the deploy execution to start", || async {
        let listed = h.executions(&machine).await;
        listed.first().map(|e| e.execution_arn().to_string())
    })
    .await;
    wait_for("the first task to be scheduled", || async {
        let history = h
            .sfn
            .get_execution_history()
            .execution_arn(&execution)
            .send()
            .await
            .unwrap();
        let scheduled = |e: &aws_sdk_sfn::types::HistoryEvent| {
            matches!(e.r#type().as_str(), "ActivityScheduled" | "TaskScheduled")
        };
        history.events().iter().any(scheduled).then_some(())
    })
    .await;
    // A's open poll is handed the task at once (fakecloud re-checks every
    // 200 ms); give it a second before killing A.
    tokio::time::sleep(Duration::from_secs(1)).await;
    unsafe { libc::kill(a.0.id() as i32, libc::SIGKILL) };
    a.0.wait().unwrap();

    let tasks = h.start_deploy_worker(false, true);
    let status = h.wait_until_done("app", &id).await;
    assert_eq!(
        status,
        "Succeeded",
        "{}",
        error_message(&h.deploy_detail("app").await)
    );
    let history = h
        .sfn
        .get_execution_history()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    // AWS records ActivityTimedOut; fakecloud a TaskFailed with the timeout.
    let timed_out = history
        .events()
        .iter()
        .filter(|e| {
            e.r#type().as_str() == "ActivityTimedOut"
                || matches!(
                    e.task_failed_event_details().and_then(|d| d.error()),
                    Some("States.HeartbeatTimeout" | "States.Timeout")
                )
        })
        .count();
    assert_eq!(
        timed_out, 1,
        "the killed worker's task timed out once and was retried"
    );
    jobs.stop().await;
    tasks.stop().await;
    let _ = std::fs::remove_file(&log);
}
