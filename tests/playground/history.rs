//! `cpsf history` as a user runs it: one call diagnoses a failed deploy.

use crate::deploy_harness::*;
use crate::harness::*;
use serde_json::Value;
use std::process::Output;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_history_call_diagnoses_a_failed_deploy() {
    let (h, worker) = crate::deploy_harness::deploy_setup().await;
    let mut app = App::sample();
    app.template = "Resources: [this is not a template".into();
    assert_eq!(h.deploy("app", &app).await.0, "Failed");
    worker.stop().await;

    let output = tokio::task::spawn_blocking({
        let env = h.env.clone();
        move || history_with(&env, &["app"])
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("status     FAILED"), "{text}");
    let marked: Vec<&str> = text.lines().filter(|l| l.starts_with('✗')).collect();
    assert!(
        marked.len() == 1 && marked[0].contains("CreateFailed"),
        "{text}"
    );
    assert!(
        text.contains("caused by task 'CreateStack': Cpsf.TemplateInvalid"),
        "{text}"
    );

    let output = tokio::task::spawn_blocking({
        let env = h.env.clone();
        move || history_with(&env, &["app", "--json"])
    })
    .await
    .unwrap();
    let view: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(view["formatVersion"], 1);
    assert_eq!(view["status"], "FAILED");
    assert_eq!(view["failure"]["taskState"], "CreateStack");
    assert_eq!(view["failure"]["taskError"], "Cpsf.TemplateInvalid");
    let states: Vec<&str> = view["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        vec![
            "Route",
            "CheckStack",
            "ChooseOperation",
            "CreateStack",
            "CreateFailed"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_streams_until_the_end_and_exits_by_outcome() {
    let h = Harness::start().await;
    let machine = h.create_slow_machine("slow", 2).await;
    let started = h
        .sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name("followed")
        .send()
        .await
        .unwrap();
    let arn = started.execution_arn().to_string();
    let output = tokio::task::spawn_blocking({
        let env = h.env.clone();
        move || history_with(&env, &[&arn, "--follow"])
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("WaitStateEntered  Deploying"), "{text}");
    assert!(text.contains("ExecutionSucceeded"), "{text}");
    assert!(text.contains("status     SUCCEEDED"), "{text}");
}

pub fn history_with(env: &cpsf_playground::LocalEnv, args: &[&str]) -> Output {
    let mut command = cpsf(env);
    command.arg("history").args(args);
    command.output().unwrap()
}
