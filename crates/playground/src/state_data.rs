//! Step Functions' 256 KiB on the data between states, checked after the
//! fact in every execution's history: the emulators carry any size, AWS
//! fails the execution with `States.DataLimitExceeded` (developer guide,
//! "Step Functions service quotas": "Maximum input or output size for a
//! task, state, or execution: 256 KiB of data as a UTF-8 encoded string.
//! This quota affects tasks (activity, Lambda function, or integration
//! service), state or execution output, and input data when scheduling a
//! task, entering a state, or starting an execution"; the error cannot be
//! caught, "Error handling").
//!
//! What the relay sees (an execution's input, a task's or a callback's
//! output) it checks as each call passes (`proxy/checks/`); this reads
//! what only the history shows: each state's input and output, and each
//! task's parameters.

use super::env::LocalEnv;
use super::names::{ACCOUNT_ID, REGION};
use anyhow::{Context, Result};
use aws_sdk_sfn::types::HistoryEvent;
use std::collections::BTreeSet;

/// 256 KiB, counted in UTF-8 bytes.
pub const MAX_STATE_DATA_BYTES: usize = 262_144;

/// One payload over the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oversized {
    pub execution: String,
    pub event_id: i64,
    /// The event's type, e.g. `TaskStateExited`.
    pub event: String,
    /// The state entered or exited, when the event names one.
    pub state: Option<String>,
    /// `input`, `output` or `parameters`.
    pub what: &'static str,
    pub bytes: usize,
}

impl std::fmt::Display for Oversized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self
            .state
            .as_deref()
            .map_or_else(String::new, |s| format!(" of state '{s}'"));
        write!(
            f,
            "{}: event {} ({}){state} carries {} of {} bytes, over Step Functions' \
             {MAX_STATE_DATA_BYTES}: on AWS the execution fails with States.DataLimitExceeded",
            self.execution, self.event_id, self.event, self.what, self.bytes
        )
    }
}

/// The payloads of `events` (one execution's history) over 256 KiB.
pub fn oversized(execution: &str, events: &[HistoryEvent]) -> Vec<Oversized> {
    events
        .iter()
        .flat_map(|event| {
            payloads(event)
                .into_iter()
                .filter(|(_, data)| data.len() > MAX_STATE_DATA_BYTES)
                .map(|(what, data)| Oversized {
                    execution: execution.to_string(),
                    event_id: event.id(),
                    event: event.r#type().as_str().to_string(),
                    state: cpsf_worker::history::event::state_name(event),
                    what,
                    bytes: data.len(),
                })
        })
        .collect()
}

/// Every payload an event carries: the history's members the API model
/// counts in UTF-8 bytes against 262,144.
fn payloads(event: &HistoryEvent) -> Vec<(&'static str, &str)> {
    let found = [
        (
            "input",
            event
                .execution_started_event_details()
                .and_then(|d| d.input()),
        ),
        (
            "output",
            event
                .execution_succeeded_event_details()
                .and_then(|d| d.output()),
        ),
        (
            "input",
            event.state_entered_event_details().and_then(|d| d.input()),
        ),
        (
            "output",
            event.state_exited_event_details().and_then(|d| d.output()),
        ),
        (
            "input",
            event
                .activity_scheduled_event_details()
                .and_then(|d| d.input()),
        ),
        (
            "output",
            event
                .activity_succeeded_event_details()
                .and_then(|d| d.output()),
        ),
        (
            "parameters",
            event.task_scheduled_event_details().map(|d| d.parameters()),
        ),
        (
            "output",
            event
                .task_submitted_event_details()
                .and_then(|d| d.output()),
        ),
        (
            "output",
            event
                .task_succeeded_event_details()
                .and_then(|d| d.output()),
        ),
        (
            "input",
            event
                .lambda_function_scheduled_event_details()
                .and_then(|d| d.input()),
        ),
        (
            "output",
            event
                .lambda_function_succeeded_event_details()
                .and_then(|d| d.output()),
        ),
    ];
    found
        .into_iter()
        .filter_map(|(what, data)| Some((what, data?)))
        .collect()
}

/// What the check needs, free of the playground so it can run on a thread
/// and runtime of its own (a test's end, in a `Drop`).
#[derive(Debug, Clone)]
pub struct StateDataCheck {
    /// The emulator itself, not the relay.
    pub endpoint: String,
    /// Executions started through the relay, in any account or region.
    pub started: Vec<String>,
}

impl StateDataCheck {
    /// Every execution of every state machine in the playground's account
    /// and region (child executions too), and every execution started
    /// through the relay, each history checked.
    pub async fn run(self) -> Result<Vec<Oversized>> {
        let sfn = self.client(REGION, ACCOUNT_ID).await;
        let mut executions: BTreeSet<String> = self.started.iter().cloned().collect();
        let mut machines = sfn.list_state_machines().into_paginator().send();
        while let Some(page) = machines.next().await {
            let page = page.context("ListStateMachines")?;
            for machine in page.state_machines() {
                let mut pages = sfn
                    .list_executions()
                    .state_machine_arn(machine.state_machine_arn())
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.context("ListExecutions")?;
                    executions.extend(
                        page.executions()
                            .iter()
                            .map(|e| e.execution_arn().to_string()),
                    );
                }
            }
        }
        let mut found = Vec::new();
        for execution in executions {
            // arn:aws:states:<region>:<account>:execution:<machine>:<name>
            let parts: Vec<&str> = execution.split(':').collect();
            let (region, account) = match parts.as_slice() {
                [_, _, _, region, account, ..] => (*region, *account),
                _ => continue,
            };
            let client = if (region, account) == (REGION, ACCOUNT_ID) {
                sfn.clone()
            } else {
                self.client(region, account).await
            };
            let mut events = Vec::new();
            let mut pages = client
                .get_execution_history()
                .execution_arn(&execution)
                .include_execution_data(true)
                .max_results(1000)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.with_context(|| format!("GetExecutionHistory {execution}"))?;
                events.extend(page.events().iter().cloned());
            }
            found.extend(oversized(&execution, &events));
        }
        Ok(found)
    }

    /// A client of the emulator acting in `account` (MiniStack takes a
    /// 12-digit access key as the account's root).
    async fn client(&self, region: &str, account: &str) -> aws_sdk_sfn::Client {
        let env = LocalEnv {
            aws_endpoint: self.endpoint.clone(),
            codepipeline_endpoint: self.endpoint.clone(),
            events_queue: None,
            approvals: None,
            profiles: None,
        };
        let sdk = env.sdk_config().await;
        let mut config = aws_sdk_sfn::config::Builder::from(&sdk)
            .region(aws_sdk_sfn::config::Region::new(region.to_string()));
        if account != ACCOUNT_ID {
            config = config.credentials_provider(aws_sdk_sfn::config::Credentials::new(
                account,
                "test",
                None,
                None,
                "cpsf-playground",
            ));
        }
        aws_sdk_sfn::Client::from_conf(config.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::types::{
        HistoryEventType, StateEnteredEventDetails, StateExitedEventDetails,
        TaskSucceededEventDetails,
    };
    use aws_smithy_types::DateTime;

    fn event(id: i64, kind: HistoryEventType) -> aws_sdk_sfn::types::builders::HistoryEventBuilder {
        HistoryEvent::builder()
            .id(id)
            .r#type(kind)
            .timestamp(DateTime::from_secs(0))
    }

    #[test]
    fn a_state_output_or_task_result_over_256_kib_is_found_and_one_at_it_is_not() {
        let at_limit = "x".repeat(MAX_STATE_DATA_BYTES);
        // 131,073 two-byte characters: fewer characters than the limit,
        // more bytes.
        let over = "é".repeat(MAX_STATE_DATA_BYTES / 2 + 1);
        let events = vec![
            event(2, HistoryEventType::TaskStateEntered)
                .state_entered_event_details(
                    StateEnteredEventDetails::builder()
                        .name("Plan")
                        .input(&at_limit)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
            event(5, HistoryEventType::TaskSucceeded)
                .task_succeeded_event_details(
                    TaskSucceededEventDetails::builder()
                        .resource_type("sqs")
                        .resource("sendMessage.waitForTaskToken")
                        .output(&over)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
            event(6, HistoryEventType::TaskStateExited)
                .state_exited_event_details(
                    StateExitedEventDetails::builder()
                        .name("Plan")
                        .output(&over)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        ];
        let found = oversized("arn:x", &events);
        assert_eq!(
            found
                .iter()
                .map(|o| (o.event_id, o.what, o.state.as_deref(), o.bytes))
                .collect::<Vec<_>>(),
            vec![
                (5, "output", None, over.len()),
                (6, "output", Some("Plan"), over.len())
            ]
        );
        assert!(found[1].to_string().contains("States.DataLimitExceeded"));
    }
}
