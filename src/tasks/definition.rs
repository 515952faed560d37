//! The deploy state machine's definition (statemachines/deploy.asl.json,
//! compiled in) with its `${…ActivityArn}` placeholders filled, and the
//! installation of its activities and state machine through the API.
//! bootstrap/cpsf.yaml (and so `cpsf bootstrap` and the demo) passes the
//! same file to CloudFormation instead; tests install through here when they
//! change the definition (e.g. shorter heartbeats).

use super::Handler;
use crate::aws::CallContext;
use anyhow::{Context, bail};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use std::collections::HashMap;

/// statemachines/deploy.asl.json, the one source of truth.
pub const DEPLOY_ASL: &str = include_str!("../../statemachines/deploy.asl.json");

/// Fills every `${Name}` placeholder; fails if one is left.
pub fn substitute(definition: &str, arns: &HashMap<Handler, String>) -> anyhow::Result<String> {
    let mut filled = definition.to_string();
    for (handler, arn) in arns {
        filled = filled.replace(&format!("${{{}}}", handler.placeholder()), arn);
    }
    if let Some(start) = filled.find("${") {
        let rest = &filled[start..];
        let end = rest.find('}').map_or(rest.len(), |e| e + 1);
        bail!("the definition still has the placeholder {}", &rest[..end]);
    }
    Ok(filled)
}

/// Creates (or finds) the activities and creates (or updates) the state
/// machine `name`; returns its ARN.
pub async fn install(
    sfn: &aws_sdk_sfn::Client,
    name: &str,
    role_arn: &str,
    activities: &[(Handler, String)],
    definition: &str,
) -> anyhow::Result<String> {
    let mut arns = HashMap::new();
    for (handler, activity) in activities {
        arns.insert(*handler, activity_arn(sfn, activity).await?);
    }
    let filled = substitute(definition, &arns)?;
    let created = sfn
        .create_state_machine()
        .name(name)
        .role_arn(role_arn)
        .definition(&filled)
        .send()
        .await;
    match created {
        Ok(output) => Ok(output.state_machine_arn),
        Err(error) if error.code() == Some("StateMachineAlreadyExists") => {
            let arn = find_state_machine(sfn, name).await?;
            sfn.update_state_machine()
                .state_machine_arn(&arn)
                .definition(&filled)
                .role_arn(role_arn)
                .send()
                .await
                .call_context("UpdateStateMachine")?;
            Ok(arn)
        }
        Err(error) => Err(error).call_context(format!("CreateStateMachine {name}")),
    }
}

/// CreateActivity is idempotent on AWS; fakecloud answers
/// ActivityAlreadyExists, so look the ARN up then.
async fn activity_arn(sfn: &aws_sdk_sfn::Client, name: &str) -> anyhow::Result<String> {
    match sfn.create_activity().name(name).send().await {
        Ok(output) => Ok(output.activity_arn),
        Err(error) if error.code() == Some("ActivityAlreadyExists") => {
            let mut pages = sfn.list_activities().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.call_context("ListActivities")?;
                if let Some(found) = page.activities().iter().find(|a| a.name() == name) {
                    return Ok(found.activity_arn().to_string());
                }
            }
            bail!("activity {name} was reported to exist but is not listed")
        }
        Err(error) => Err(error).call_context(format!("CreateActivity {name}")),
    }
}

async fn find_state_machine(sfn: &aws_sdk_sfn::Client, name: &str) -> anyhow::Result<String> {
    let mut pages = sfn.list_state_machines().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.call_context("ListStateMachines")?;
        if let Some(found) = page.state_machines().iter().find(|m| m.name() == name) {
            return Ok(found.state_machine_arn().to_string());
        }
    }
    None.context(format!(
        "state machine {name} was reported to exist but is not listed"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_of_the_definition_is_a_handler() {
        let arns: HashMap<Handler, String> = Handler::ALL
            .iter()
            .map(|h| (*h, format!("arn:{h:?}")))
            .collect();
        let filled = substitute(DEPLOY_ASL, &arns).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&filled).unwrap();
        assert_eq!(
            parsed["States"]["CreateStack"]["Resource"],
            "arn:CreateStack"
        );
        // Every Task has a timeout, a heartbeat, a Retry and a Catch.
        for (name, state) in parsed["States"].as_object().unwrap() {
            if state["Type"] == "Task" {
                for key in ["TimeoutSeconds", "HeartbeatSeconds", "Retry", "Catch"] {
                    assert!(state.get(key).is_some(), "{name} has no {key}");
                }
                let fail = state["Catch"][0]["Next"].as_str().unwrap();
                assert_eq!(
                    parsed["States"][fail]["Type"], "Fail",
                    "{name} catches into a Fail state"
                );
            }
        }
    }

    #[test]
    fn a_missing_arn_is_named() {
        let error = substitute(DEPLOY_ASL, &HashMap::new())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("${") && error.contains("ActivityArn}"),
            "{error}"
        );
    }
}
