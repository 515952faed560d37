//! `cpsf demo --targets`: the sample app rolled out by one Deploy action to
//! two accounts × two regions in three waves, with a short bake between
//! them (issue 17). Each target is a child execution of the deploy state
//! machine; the demo shows each target's progress live and ends with a
//! table of target × wave × status × duration.
//!
//! MiniStack only: it takes a 12-digit access key id as the account and
//! lets the worker assume a role in another account (docs/emulators.md);
//! fakecloud has one account and no AssumeRole into another.

use super::APP_TEMPLATE;
use super::pipeline::{history_of, start_with};
use super::setup::PIPELINE;
use super::watch::{self, Display};
use cpsf_playground::names::FAR_ACCOUNT;
use cpsf_worker::aws::Clients;
use cpsf_worker::history::rollout::{RolloutView, read};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const FAR_ROLE: &str = "arn:aws:iam::222222222222:role/cpsf-target";

/// The sample app's deploy input with the rollout keys: the worker's own
/// region first, then one target of each account, then the last.
pub fn rollout_input(deploy: &Value) -> Value {
    let mut deploy = deploy.clone();
    deploy["targets"] = json!([
        {"name": "tools-use1", "region": "us-east-1"},
        {"name": "tools-usw2", "region": "us-west-2"},
        {"name": "prod-use1", "account": FAR_ACCOUNT, "region": "us-east-1",
         "roleArn": FAR_ROLE, "parameters": {"Environment": "prod"}},
        {"name": "prod-usw2", "account": FAR_ACCOUNT, "region": "us-west-2",
         "roleArn": FAR_ROLE, "parameters": {"Environment": "prod"}}
    ]);
    deploy["waves"] = json!([["tools-use1"], ["tools-usw2", "prod-use1"], ["prod-usw2"]]);
    deploy["bake"] = json!({"seconds": 3});
    deploy
}

/// Runs the rollout once; true when every target deployed.
pub async fn run(
    clients: &Clients,
    machine: &str,
    deploy: &Value,
    stack: &str,
) -> anyhow::Result<bool> {
    let input = rollout_input(deploy);
    println!(
        "Rolling the sample app out to 2 accounts × 2 regions in 3 waves (a 3 s bake between \
         waves): {}",
        describe_waves(&input)
    );
    let started = Instant::now();
    let id = start_with(clients, &input, APP_TEMPLATE).await?;
    let mut display = Display::new();
    let (snapshot, view) = loop {
        let snapshot = watch::snapshot(clients, PIPELINE, &id, stack).await;
        // The execution is named after the action execution (the worker's
        // default prefix is the pipeline's name: `job/input.rs`), so its
        // progress shows before the job first reports.
        let arn = snapshot.execution_arn.clone().or_else(|| {
            let id = snapshot.action_execution_id.as_ref()?;
            Some(cpsf_worker::sfn::execution_arn(
                machine,
                &format!("{PIPELINE}-{id}"),
            ))
        });
        let view = match &arn {
            Some(arn) => rollout_view(clients, arn, !snapshot.is_done()).await,
            None => None,
        };
        let line = view
            .as_ref()
            .map_or_else(|| snapshot.line(), |v| progress_line(&snapshot.status, v));
        display.update("rollout", line);
        if snapshot.is_done() {
            break (snapshot, view);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    display.finish(format!(
        "rollout — {} in {:.1}s",
        snapshot.status,
        started.elapsed().as_secs_f64()
    ));
    let view = view.unwrap_or(RolloutView { waves: Vec::new() });
    print_table(clients, &view).await;
    let deployed = view
        .waves
        .iter()
        .flat_map(|w| &w.targets)
        .filter(|t| t.status == "Succeeded")
        .count();
    Ok(snapshot.status == "Succeeded" && deployed == 4)
}

fn describe_waves(input: &Value) -> String {
    let waves: Vec<String> = input["waves"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, wave)| {
            let names: Vec<&str> = wave
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            format!("wave {} {}", i + 1, names.join(" + "))
        })
        .collect();
    waves.join(", ")
}

/// The rollout as its whole history tells it.
async fn rollout_view(clients: &Clients, arn: &str, running: bool) -> Option<RolloutView> {
    read(&history_of(clients, arn).await, running)
}

/// "InProgress · tools-use1 Succeeded · tools-usw2 deploying · …"
fn progress_line(status: &str, view: &RolloutView) -> String {
    let mut parts = vec![status.to_string()];
    for wave in &view.waves {
        for target in &wave.targets {
            parts.push(format!("{} {}", target.name, target.status));
        }
    }
    parts.join(" · ")
}

/// Target × wave × status × duration (its own execution's) × stack.
async fn print_table(clients: &Clients, view: &RolloutView) {
    println!();
    println!(
        "  {:<11} {:<5} {:<11} {:>8}  stack",
        "target", "wave", "status", "duration"
    );
    for wave in &view.waves {
        for target in &wave.targets {
            let duration = match &target.execution_arn {
                Some(arn) => execution_seconds(clients, arn)
                    .await
                    .map_or("-".to_string(), |s| format!("{s:.1}s")),
                None => "-".to_string(),
            };
            let said = target
                .stack_id
                .as_deref()
                .or(target.detail.as_deref())
                .unwrap_or("");
            println!(
                "  {:<11} {:<5} {:<11} {duration:>8}  {said}",
                target.name,
                format!("{}/{}", wave.number, view.waves.len()),
                target.status
            );
        }
    }
}

async fn execution_seconds(clients: &Clients, arn: &str) -> Option<f64> {
    let described = clients
        .sfn
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .ok()?;
    let stopped = described.stop_date()?;
    Some(stopped.as_secs_f64() - described.start_date().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_rollout_is_input_the_rollout_accepts() {
        let deploy: Value = serde_json::from_str(super::super::APP_DEPLOY).unwrap();
        let rollout = cpsf_worker::targets::spec::parse(&rollout_input(&deploy))
            .unwrap()
            .unwrap();
        assert_eq!(rollout.targets.len(), 4);
        assert_eq!(rollout.waves.len(), 3);
        assert_eq!(
            describe_waves(&rollout_input(&deploy)),
            "wave 1 tools-use1, wave 2 tools-usw2 + prod-use1, wave 3 prod-usw2"
        );
    }
}
