//! `cpsf demo --targets`: the sample app rolled out by one Deploy action to
//! two accounts × two regions in three waves, with a short bake between
//! them (issue 17). Each target is a child execution of the deploy state
//! machine; the demo shows each target's progress live and ends with a
//! table of target × wave × status × duration × greeting.
//!
//! Each target's Greeting comes from another stack's output, read where
//! that target deploys (`{"fromStack": "cpsf-demo-layer", "output":
//! "Greeting"}`): the demo first deploys that layer stack in each of the
//! four places (`upstream.rs`), each with a greeting naming its place, and
//! the table shows every target took its own.
//!
//! MiniStack only: it takes a 12-digit access key id as the account and
//! lets the worker assume a role in another account (docs/emulators.md);
//! fakecloud has one account and no AssumeRole into another.

use super::APP_TEMPLATE;
use super::pipeline::{action_summary, deploy_action, history_of, start_with};
use super::setup::PIPELINE;
use super::upstream::{self, LAYER_STACK};
use super::watch::{self, Display};
use cpsf_playground::names::FAR_ACCOUNT;
use cpsf_worker::aws::Clients;
use cpsf_worker::history::rollout::{RolloutView, read};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const FAR_ROLE: &str = "arn:aws:iam::222222222222:role/cpsf-target";

/// The places of the rollout's targets: account, region.
const PLACES: [(&str, &str); 4] = [
    (cpsf_playground::names::ACCOUNT_ID, "us-east-1"),
    (cpsf_playground::names::ACCOUNT_ID, "us-west-2"),
    (FAR_ACCOUNT, "us-east-1"),
    (FAR_ACCOUNT, "us-west-2"),
];

/// The sample app's deploy input with the rollout keys: the worker's own
/// region first, then one target of each account, then the last; the
/// Greeting read from the layer stack where each target deploys.
pub fn rollout_input(deploy: &Value) -> Value {
    let mut deploy = deploy.clone();
    deploy["parameters"]["Greeting"] = upstream::from_stack(LAYER_STACK, "Greeting");
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
        "Deploying the layer stack {LAYER_STACK} in each target's account and region, as an \
         earlier stage would; each target's Greeting is {}",
        input["parameters"]["Greeting"]
    );
    for (account, region) in PLACES {
        upstream::deploy_layer(&clients.sdk, account, region).await?;
    }
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
    let own = print_table(clients, &view, stack).await;
    println!();
    println!(
        "  The pipeline's summary: {}",
        action_summary(deploy_action(clients, PIPELINE, &id).await.as_ref())
    );
    let deployed = view
        .waves
        .iter()
        .flat_map(|w| &w.targets)
        .filter(|t| t.status == "Succeeded")
        .count();
    if own != 4 {
        println!("Not every target shows the greeting of its own place's layer (see above).");
    }
    Ok(snapshot.status == "Succeeded" && deployed == 4 && own == 4)
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

/// Target × wave × status × duration (its own execution's) × the app's
/// Greeting output (its place's layer) × stack; how many targets show the
/// greeting of their own place's layer.
async fn print_table(clients: &Clients, view: &RolloutView, stack: &str) -> usize {
    println!();
    println!(
        "  {:<11} {:<5} {:<11} {:>8}  {:<48} stack",
        "target", "wave", "status", "duration", "Greeting (from its layer)"
    );
    let mut own = 0;
    for (wave, target) in view
        .waves
        .iter()
        .flat_map(|w| w.targets.iter().map(move |t| (w.number, t)))
    {
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
        let greeting = match place_of(target.stack_id.as_deref()) {
            Some((account, region)) => {
                let place = upstream::in_place(&clients.sdk, account, region);
                let found = upstream::outputs(&place, stack).await.unwrap_or_default();
                let greeting = found.get("Greeting").cloned().unwrap_or_default();
                own += usize::from(greeting == upstream::layer_greeting(account, region));
                greeting
            }
            None => "-".to_string(),
        };
        println!(
            "  {:<11} {:<5} {:<11} {duration:>8}  {greeting:<48} {said}",
            target.name,
            format!("{wave}/{}", view.waves.len()),
            target.status
        );
    }
    own
}

/// The account and region a stack's ARN names
/// (`arn:aws:cloudformation:<region>:<account>:stack/…`).
fn place_of(stack_id: Option<&str>) -> Option<(&str, &str)> {
    let mut parts = stack_id?.split(':').skip(3);
    let region = parts.next()?;
    let account = parts.next()?;
    Some((account, region))
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
            rollout_input(&deploy)["parameters"]["Greeting"],
            serde_json::json!({"fromStack": "cpsf-demo-layer", "output": "Greeting"})
        );
        assert_eq!(
            place_of(Some(
                "arn:aws:cloudformation:us-west-2:222222222222:stack/app/1"
            )),
            Some(("222222222222", "us-west-2"))
        );
        assert_eq!(
            describe_waves(&rollout_input(&deploy)),
            "wave 1 tools-use1, wave 2 tools-usw2 + prod-use1, wave 3 prod-usw2"
        );
    }
}
