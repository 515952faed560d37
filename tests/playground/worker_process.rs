//! `cpsf worker` as a separate process: SIGTERM mid-job, restart, and logs
//! that never carry credentials or secret configuration values.

use crate::harness::*;
use crate::worker_harness::*;
use cpsf_playground::codepipeline::Config;
use cpsf_worker::pipeline::wire::SessionCredentials;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const ACCESS_KEY: &str = "AKIAARTIFACTLEAKCHECK";
const SECRET_KEY: &str = "artifact-secret-key-leak-check";
const SESSION_TOKEN: &str = "artifact-session-token-leak-check";

fn worker_process(h: &Harness, log: &std::path::Path) -> Child {
    let mut command = cpsf_worker(&h.env);
    command
        .args([
            "--jobs-only",
            "--follow-for",
            "60s",
            "--poll-max",
            &poll_max_flag(),
            "--shutdown-grace",
            "20s",
        ])
        .env("RUST_LOG", "trace")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    command.spawn().expect("start cpsf worker")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_job_exits_cleanly_the_job_completes_after_restart_and_no_secret_reaches_logs_or_step_functions()
 {
    let h = Harness::start_with(Config {
        artifact_credentials: SessionCredentials {
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
            session_token: SESSION_TOKEN.into(),
        },
        ..Config::default()
    })
    .await;
    h.create_worker_type().await;
    let machine = h.create_slow_machine("slow", 4).await;
    h.put_source_zip(&[("deploy.json", r#"{"stackName": "x"}"#)])
        .await;
    h.create_worker_pipeline(
        "app",
        &[
            ("StateMachineArn", &machine),
            ("InputType", "FilePath"),
            ("Input", "deploy.json"),
        ],
    )
    .await;
    let log = std::env::temp_dir().join(format!("cpsf-worker-{}.log", std::process::id()));
    let mut child = KillOnDrop(worker_process(&h, &log));
    let id = h.start_execution("app").await;

    // Wait until the worker has started the execution and is following it.
    wait_for("the execution to start", || async {
        (!h.executions(&machine).await.is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    let status = terminate(&mut child.0, Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status:?}");
    // It handed the running execution back instead of following it for 60 s.
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "took {:?}",
        asked.elapsed()
    );
    assert_eq!(h.execution_status("app", &id).await.as_str(), "InProgress");

    let worker = h.start_worker(Duration::from_secs(5));
    assert_eq!(h.wait_until_done("app", &id).await, "Succeeded");
    let executions = h.executions(&machine).await;
    assert_eq!(executions.len(), 1, "one execution across the restart");
    worker.stop().await;

    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.contains("execution started"),
        "the log is the worker's:\n{logs}"
    );
    for secret in [SECRET_VALUE, ACCESS_KEY, SECRET_KEY, SESSION_TOKEN] {
        let leaks: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains(secret))
            .take(3)
            .collect();
        assert!(
            leaks.is_empty(),
            "'{secret}' leaked into the logs:\n{}",
            leaks.join("\n")
        );
    }
    // Nor into Step Functions: the execution's input, output and every
    // event of its history (what anyone who can read executions sees).
    let arn = executions[0].execution_arn();
    let described = h
        .sfn
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .unwrap();
    let history = h
        .sfn
        .get_execution_history()
        .execution_arn(arn)
        .send()
        .await
        .unwrap();
    // The SDK redacts these fields in Debug output, so read each one.
    let mut seen: Vec<&str> = vec![
        described.input().unwrap_or_default(),
        described.output().unwrap_or_default(),
    ];
    for event in history.events() {
        seen.extend(
            event
                .execution_started_event_details()
                .and_then(|d| d.input()),
        );
        seen.extend(event.state_entered_event_details().and_then(|d| d.input()));
        seen.extend(event.state_exited_event_details().and_then(|d| d.output()));
        seen.extend(event.task_scheduled_event_details().map(|d| d.parameters()));
        seen.extend(
            event
                .activity_scheduled_event_details()
                .and_then(|d| d.input()),
        );
        seen.extend(
            event
                .execution_succeeded_event_details()
                .and_then(|d| d.output()),
        );
    }
    let seen = seen.join("\n");
    assert!(
        seen.contains("pipelineExecutionId"),
        "the input is there to scan"
    );
    for secret in [SECRET_VALUE, ACCESS_KEY, SECRET_KEY, SESSION_TOKEN] {
        assert!(!seen.contains(secret), "'{secret}' reached Step Functions");
    }
    let _ = std::fs::remove_file(&log);
}
