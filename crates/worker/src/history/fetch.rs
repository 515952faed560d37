//! History at the edge: find the execution behind a target, read all of
//! its events, and follow new ones.

use super::event::Event;
use crate::aws::CallContext;
use crate::aws::Clients;
use anyhow::{Context, bail};
use aws_sdk_codepipeline::types::ActionExecutionFilter;
use std::time::Duration;

/// GetExecutionHistory's largest page.
const PAGE: i32 = 1000;

/// An execution ARN as given, or the execution behind a pipeline's cpsf
/// action: the newest one, or the one of `pipeline_execution`.
pub async fn resolve(
    clients: &Clients,
    target: &str,
    pipeline_execution: Option<&str>,
) -> anyhow::Result<String> {
    if target.starts_with("arn:") {
        if !target.contains(":execution:") {
            bail!(
                "{target} is not an execution ARN (arn:aws:states:<region>:<account>:execution:<machine>:<name>)"
            );
        }
        return Ok(target.to_string());
    }
    let mut request = clients
        .codepipeline
        .list_action_executions()
        .pipeline_name(target);
    if let Some(id) = pipeline_execution {
        request = request.filter(
            ActionExecutionFilter::builder()
                .pipeline_execution_id(id)
                .build(),
        );
    }
    let mut pages = request.into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.call_context(format!("ListActionExecutions {target}"))?;
        let found = page.action_execution_details().iter().find_map(|detail| {
            let id = detail
                .output()?
                .execution_result()?
                .external_execution_id()?;
            id.contains(":states:").then(|| id.to_string())
        });
        if let Some(arn) = found {
            return Ok(arn);
        }
    }
    let which = pipeline_execution.map_or_else(String::new, |id| format!(" execution {id}"));
    bail!("pipeline {target}{which} has no action with a Step Functions execution yet")
}

/// Every event, oldest first (a history holds up to 25,000).
pub async fn all_events(clients: &Clients, arn: &str) -> anyhow::Result<Vec<Event>> {
    let mut events = Vec::new();
    let mut pages = clients
        .sfn
        .get_execution_history()
        .execution_arn(arn)
        .max_results(PAGE)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.call_context(format!("GetExecutionHistory {arn}"))?;
        events.extend(page.events().iter().map(Event::from_sdk));
    }
    Ok(events)
}

/// Events newer than `after` (an event id), oldest first: reads newest-first
/// pages only as far back as it must.
pub async fn newer_events(clients: &Clients, arn: &str, after: i64) -> anyhow::Result<Vec<Event>> {
    let mut newer = Vec::new();
    let mut token = None;
    'pages: loop {
        let page = clients
            .sfn
            .get_execution_history()
            .execution_arn(arn)
            .reverse_order(true)
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .call_context(format!("GetExecutionHistory {arn}"))?;
        for event in page.events() {
            if event.id() <= after {
                break 'pages;
            }
            newer.push(Event::from_sdk(event));
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    newer.reverse();
    Ok(newer)
}

/// Calls `each` with new events until the execution ends; returns them all.
pub async fn follow(
    clients: &Clients,
    arn: &str,
    mut each: impl FnMut(&Event, f64),
) -> anyhow::Result<Vec<Event>> {
    let mut events = all_events(clients, arn).await?;
    let start = events.first().map_or(0.0, |e| e.timestamp);
    events.iter().for_each(|e| each(e, e.timestamp - start));
    loop {
        if super::view::status(&events) != "RUNNING" {
            return Ok(events);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let last = events.last().map_or(0, |e| e.id);
        let newer = newer_events(clients, arn, last)
            .await
            .context("following the execution")?;
        newer.iter().for_each(|e| each(e, e.timestamp - start));
        events.extend(newer);
    }
}
