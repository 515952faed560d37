//! `cpsf demo` as a newcomer runs it: a separate process, output not a
//! terminal (plain progress lines), exit code 0 only if all three runs did
//! what they should.

use crate::harness::*;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn demo(env: &[(&'static str, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cpsf"));
    command.arg("demo").stdin(Stdio::null());
    command
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_CODEPIPELINE");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run cpsf demo")
}

fn assert_four_runs_ok(output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("4 of 4 runs did what they should."),
        "{stdout}"
    );
    for expected in [
        "succeeded: created",
        "succeeded: updated",
        "succeeded: no changes",
        "Greeting=hello again from cpsf",
        "Cpsf.UnsafeChange",
        "WorkQueue (AWS::SQS::Queue): removed",
    ] {
        assert!(
            stdout.contains(expected),
            "missing '{expected}' in\n{stdout}"
        );
    }
    // Not a terminal: progress comes as plain lines, one per change.
    assert!(
        stdout.contains("run 1/4 create InProgress · stage Deploy"),
        "{stdout}"
    );
    // Route: one stack or a rollout (statemachines/README.md).
    assert!(stdout.contains("timeline: Route +"), "{stdout}");
    assert!(stdout.contains("→ CheckStack +"), "{stdout}");
}

#[test]
fn the_demo_deploys_four_times_on_its_own_playground() {
    assert_four_runs_ok(&demo(&[]));
}

#[tokio::test]
async fn the_demo_uses_a_running_playground_and_runs_again() {
    let dir = std::env::temp_dir().join(format!("cpsf-demo-up-{}", std::process::id()));
    let env_file = dir.join("local.env");
    let mut up = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_cpsf"))
            .args(["local", "up", "--env-file"])
            .arg(&env_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let text = wait_for("the env file", || async {
        std::fs::read_to_string(&env_file)
            .ok()
            .filter(|t| env_file_complete(t))
    })
    .await;
    let vars: Vec<(&'static str, String)> = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CODEPIPELINE"]
        .into_iter()
        .map(|name| {
            let value = text
                .lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap()
                .to_string();
            (name, value)
        })
        .collect();
    for _ in 0..2 {
        let output = tokio::task::spawn_blocking({
            let vars = vars.clone();
            move || demo(&vars)
        })
        .await
        .unwrap();
        assert!(String::from_utf8_lossy(&output.stdout).contains("Using the playground at"));
        assert_four_runs_ok(&output);
    }
    // The demo's failing case, diagnosed with one call, as a user who
    // sourced the env file would make it.
    let all_vars: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let history = tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cpsf"));
        command.args(["history", "cpsf-demo"]);
        for (name, value) in &all_vars {
            command.env(name, value);
        }
        command.output().unwrap()
    })
    .await
    .unwrap();
    let shown = String::from_utf8_lossy(&history.stdout);
    assert!(
        shown.contains("status     FAILED"),
        "{shown}\n{}",
        String::from_utf8_lossy(&history.stderr)
    );
    assert!(
        shown.contains("caused by task 'UpdateStack': Cpsf.UnsafeChange: the update would remove or replace WorkQueue"),
        "{shown}"
    );
    terminate(&mut up.0, Duration::from_secs(10)).await;
}
