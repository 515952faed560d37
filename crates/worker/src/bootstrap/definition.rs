//! The deploy state machine's definition (statemachines/deploy.asl.json,
//! compiled in) with its `${…ActivityArn}` placeholders filled, and the
//! installation of its activities and state machine through the API.
//! bootstrap/cpsf.yaml (and so `cpsf bootstrap` and the demo) passes the
//! same file to CloudFormation instead; tests install through here when they
//! change the definition (e.g. shorter heartbeats).
//!
//! It lives with bootstrap/ because both install the deploy state machine,
//! one through CloudFormation and one through the API, from the same file;
//! the handlers only serve what it installs, and the registry
//! (`tasks::Handler`) gives it each activity's placeholder.

use crate::aws::CallContext;
use crate::base::limits::DEFAULT_TIMEOUT_SECONDS;
use crate::tasks::Handler;
use anyhow::{Context, bail};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use std::collections::HashMap;

/// statemachines/deploy.asl.json, the one source of truth.
pub const DEPLOY_ASL: &str = include_str!("../../../../statemachines/deploy.asl.json");

/// The placeholder of the execution's timeout, the definition's top-level
/// `TimeoutSeconds`. It stands bare where a number goes, so the file is JSON
/// only once it is filled: CloudFormation substitutes the text before it
/// parses the definition (the AWS::StepFunctions::StateMachine handler's
/// DefinitionProcessor: "DefinitionSubstitution before validating JSON or
/// YAML format"), and [`with_timeout`] does the same here.
pub const TIMEOUT_PLACEHOLDER: &str = "DeployTimeoutSeconds";

/// The placeholder of the approvals queue's URL, where RequestApproval
/// sends its requests (`approval/`).
pub const APPROVALS_QUEUE_PLACEHOLDER: &str = "ApprovalsQueueUrl";

/// What fills it when a state machine is installed with no approvals
/// queue: RequestApproval's SendMessage then fails, and the deploy says
/// why (`tasks/discard_change_set.rs`).
pub const NO_APPROVALS_QUEUE: &str = "none";

/// The placeholder of the partition in the service integrations' ARNs
/// (`arn:${Partition}:states:::sqs:sendMessage.waitForTaskToken`): `aws`,
/// `aws-cn` or `aws-us-gov` ("Amazon Resource Names", IAM user guide). A
/// hard-coded `arn:aws:` fails to create in China and GovCloud.
pub const PARTITION_PLACEHOLDER: &str = "Partition";

/// The partition an ARN is in (its second field), `aws` for anything that
/// is not an ARN.
fn partition_of(arn: &str) -> &str {
    match arn.split(':').collect::<Vec<_>>()[..] {
        ["arn", partition, ..] if partition.starts_with("aws") => partition,
        _ => "aws",
    }
}

/// The definition with its execution timeout filled.
pub fn with_timeout(definition: &str, seconds: u32) -> String {
    definition.replace(&format!("${{{TIMEOUT_PLACEHOLDER}}}"), &seconds.to_string())
}

/// Fills every `${Name}` placeholder (the timeout with its default, the
/// approvals queue with `approvals_queue`); fails if one is left or the
/// result is not JSON.
pub fn substitute(
    definition: &str,
    arns: &HashMap<Handler, String>,
    approvals_queue: Option<&str>,
) -> anyhow::Result<String> {
    // The activities were made in the partition the state machine goes to.
    let partition = arns.values().next().map_or("aws", |arn| partition_of(arn));
    let mut filled = with_timeout(definition, DEFAULT_TIMEOUT_SECONDS)
        .replace(
            &format!("${{{APPROVALS_QUEUE_PLACEHOLDER}}}"),
            approvals_queue.unwrap_or(NO_APPROVALS_QUEUE),
        )
        .replace(&format!("${{{PARTITION_PLACEHOLDER}}}"), partition);
    for (handler, arn) in arns {
        filled = filled.replace(&format!("${{{}}}", handler.placeholder()), arn);
    }
    if let Some(start) = filled.find("${") {
        let rest = &filled[start..];
        let end = rest.find('}').map_or(rest.len(), |e| e + 1);
        bail!("the definition still has the placeholder {}", &rest[..end]);
    }
    serde_json::from_str::<serde_json::Value>(&filled)
        .context("the definition with its placeholders filled is not JSON")?;
    Ok(filled)
}

/// Creates (or finds) the activities and creates (or updates) the state
/// machine `name`, its approvals sent to `approvals_queue`; returns its ARN.
pub async fn install(
    sfn: &aws_sdk_sfn::Client,
    name: &str,
    role_arn: &str,
    activities: &[(Handler, String)],
    definition: &str,
    approvals_queue: Option<&str>,
) -> anyhow::Result<String> {
    let mut arns = HashMap::new();
    for (handler, activity) in activities {
        arns.insert(*handler, activity_arn(sfn, activity).await?);
    }
    let filled = substitute(definition, &arns, approvals_queue)?;
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
        let filled = substitute(DEPLOY_ASL, &arns, None).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&filled).unwrap();
        assert_eq!(
            parsed["States"]["CreateStack"]["Resource"],
            "arn:CreateStack"
        );
        // Every activity Task has a timeout, a heartbeat, a Retry and a
        // Catch into a Fail state; the one callback (RequestApproval) has
        // its timeout from the input and catches into the task that
        // cleans up after it.
        for (name, state) in parsed["States"].as_object().unwrap() {
            if state["Type"] != "Task"
                || state["Resource"]
                    .as_str()
                    .is_some_and(|r| r.contains("startExecution"))
            {
                continue;
            }
            let caught = state["Catch"][0]["Next"].as_str().unwrap();
            if state["Resource"]
                .as_str()
                .is_some_and(|r| r.ends_with(".waitForTaskToken"))
            {
                assert!(
                    state.get("TimeoutSecondsPath").is_some(),
                    "{name} has no timeout"
                );
                assert!(
                    ["DiscardChangeSet", "DiscardWave"].contains(&caught),
                    "{name}"
                );
                continue;
            }
            for key in ["TimeoutSeconds", "HeartbeatSeconds", "Retry", "Catch"] {
                assert!(state.get(key).is_some(), "{name} has no {key}");
            }
            if name == "CanaryBake" {
                // A failed bake watched nothing: CanaryStep rolls the
                // canary back, then fails into CanaryRolledBack.
                assert_eq!(caught, "CanaryStep");
                continue;
            }
            if name == "WaitForStack" {
                // A canary's failed step is rolled back first; any other
                // failure goes on to StackFailed.
                assert_eq!(caught, "StackFailedWhere");
                assert_eq!(parsed["States"][caught]["Default"], "StackFailed");
                continue;
            }
            assert_eq!(
                parsed["States"][caught]["Type"], "Fail",
                "{name} catches into a Fail state"
            );
        }
        assert_eq!(
            parsed["States"]["RequestApproval"]["Parameters"]["QueueUrl"],
            NO_APPROVALS_QUEUE
        );
    }

    /// The file is JSON once filled, with a number for the timeout.
    #[test]
    fn the_timeout_placeholder_fills_a_number() {
        assert!(DEPLOY_ASL.contains(&format!("\"TimeoutSeconds\": ${{{TIMEOUT_PLACEHOLDER}}},")));
        let parsed: serde_json::Value =
            serde_json::from_str(&with_timeout(DEPLOY_ASL, 7200)).unwrap();
        assert_eq!(parsed["TimeoutSeconds"], 7200);
        let arns: HashMap<Handler, String> =
            Handler::ALL.iter().map(|h| (*h, "arn:x".into())).collect();
        let filled: serde_json::Value =
            serde_json::from_str(&substitute(DEPLOY_ASL, &arns, None).unwrap()).unwrap();
        assert_eq!(filled["TimeoutSeconds"], DEFAULT_TIMEOUT_SECONDS);
    }

    /// The execution's timeout outlasts the longest path (CheckStack,
    /// DeleteFailedStack, CreateStack, one WaitForStack round) with every
    /// task timing out on each attempt its retriers of `States.Timeout`
    /// allow, plus every retry interval of every retrier ("Handling errors
    /// in Step Functions workflows": IntervalSeconds × BackoffRate^n).
    #[test]
    fn the_default_timeout_outlasts_every_retry() {
        let parsed: serde_json::Value =
            serde_json::from_str(&with_timeout(DEPLOY_ASL, DEFAULT_TIMEOUT_SECONDS)).unwrap();
        let states = &parsed["States"];
        let mut worst = 0.0;
        for name in [
            "CheckStack",
            "DeleteFailedStack",
            "CreateStack",
            "WaitForStack",
        ] {
            let state = &states[name];
            let timeout = state["TimeoutSeconds"].as_f64().unwrap();
            let mut attempts = 1.0;
            for retrier in state["Retry"].as_array().unwrap() {
                let max = retrier["MaxAttempts"].as_u64().unwrap_or(3);
                let interval = retrier["IntervalSeconds"].as_f64().unwrap_or(1.0);
                let rate = retrier["BackoffRate"].as_f64().unwrap_or(2.0);
                worst += (0..max)
                    .map(|n| interval * rate.powi(n as i32))
                    .sum::<f64>();
                if retrier["ErrorEquals"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e == "States.Timeout")
                {
                    attempts += max as f64;
                }
            }
            worst += timeout * attempts;
        }
        let update_path = states["UpdateStack"]["TimeoutSeconds"].as_f64().unwrap();
        assert!(
            update_path
                < states["DeleteFailedStack"]["TimeoutSeconds"]
                    .as_f64()
                    .unwrap()
        );
        assert_eq!(parsed["TimeoutSeconds"], DEFAULT_TIMEOUT_SECONDS);
        assert!(
            f64::from(DEFAULT_TIMEOUT_SECONDS) > worst,
            "the execution times out after {DEFAULT_TIMEOUT_SECONDS} s, before its retries \
             could end ({worst} s)"
        );
    }

    /// Service integrations name their partition: a state machine in
    /// China or GovCloud calls `arn:aws-cn:states:::…` (Step Functions
    /// developer guide, service integrations; IAM user guide, ARNs).
    #[test]
    fn the_service_integrations_are_in_the_activities_partition() {
        assert!(!DEPLOY_ASL.contains("\"arn:aws:"), "a hard-coded partition");
        for partition in ["aws", "aws-cn", "aws-us-gov"] {
            let arns: HashMap<Handler, String> = Handler::ALL
                .iter()
                .map(|h| {
                    let arn = format!("arn:{partition}:states:cn-north-1:1:activity:{h:?}");
                    (*h, arn)
                })
                .collect();
            let filled: serde_json::Value =
                serde_json::from_str(&substitute(DEPLOY_ASL, &arns, Some("q")).unwrap()).unwrap();
            assert_eq!(
                filled["States"]["RequestApproval"]["Resource"],
                format!("arn:{partition}:states:::sqs:sendMessage.waitForTaskToken")
            );
        }
    }

    /// The states that read or make an approval know the execution's
    /// clock: its TimeoutSeconds (the same placeholder) and start.
    #[test]
    fn the_states_that_ask_know_when_the_execution_times_out() {
        let parsed: serde_json::Value =
            serde_json::from_str(&with_timeout(DEPLOY_ASL, 7200)).unwrap();
        for name in [
            "CheckStack",
            "CreateStack",
            "UpdateStack",
            "PlanRollout",
            "GatherWave",
        ] {
            let parameters = &parsed["States"][name]["Parameters"];
            assert_eq!(parameters["executionTimeoutSeconds"], 7200, "{name}");
            assert_eq!(
                parameters["executionStartTime.$"], "$$.Execution.StartTime",
                "{name}"
            );
        }
    }

    /// What an approval leaves of the execution's timeout covers
    /// DiscardChangeSet (and DiscardWave) at their worst: every attempt
    /// their retrier allows timing out, and the pauses between ("Handling
    /// errors in Step Functions workflows": IntervalSeconds ×
    /// BackoffRate^n); and, before the approval, CheckStack and
    /// UpdateStack's first attempts.
    #[test]
    fn an_approval_leaves_time_to_discard_its_change_set() {
        use crate::approval::deadline::{DISCARD_SECONDS, RESERVE_SECONDS};
        let parsed: serde_json::Value =
            serde_json::from_str(&with_timeout(DEPLOY_ASL, DEFAULT_TIMEOUT_SECONDS)).unwrap();
        let states = &parsed["States"];
        for name in ["DiscardChangeSet", "DiscardWave"] {
            let state = &states[name];
            let timeout = state["TimeoutSeconds"].as_f64().unwrap();
            let mut worst = timeout;
            for retrier in state["Retry"].as_array().unwrap() {
                let max = retrier["MaxAttempts"].as_u64().unwrap_or(3);
                let interval = retrier["IntervalSeconds"].as_f64().unwrap_or(1.0);
                let rate = retrier["BackoffRate"].as_f64().unwrap_or(2.0);
                worst += (0..max)
                    .map(|n| timeout + interval * rate.powi(n as i32))
                    .sum::<f64>();
            }
            assert!(
                worst < f64::from(DISCARD_SECONDS),
                "{name} may take {worst} s"
            );
        }
        let first_attempts: f64 = ["CheckStack", "UpdateStack"]
            .iter()
            .map(|n| states[n]["TimeoutSeconds"].as_f64().unwrap())
            .sum();
        assert!(f64::from(RESERVE_SECONDS) >= f64::from(DISCARD_SECONDS) + first_attempts);
    }

    #[test]
    fn a_missing_arn_is_named() {
        let error = substitute(DEPLOY_ASL, &HashMap::new(), None)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("${") && error.contains("ActivityArn}"),
            "{error}"
        );
    }
}
