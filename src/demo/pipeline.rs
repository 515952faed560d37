//! The demo's pipeline, run by run: the app zipped as its source, a run
//! started, the Deploy action's result and the execution's timeline read
//! back. Every demo mode drives the one pipeline `setup.rs` makes.

use super::setup::{PIPELINE, SOURCE_BUCKET, SOURCE_KEY};
use cpsf_worker::aws::{CallContext, Clients};
use cpsf_worker::history::timeline;
use serde_json::Value;
use std::io::{Cursor, Write};

/// The Deploy action's execution in pipeline execution `id`, once it ran.
pub(super) async fn deploy_action(
    clients: &Clients,
    pipeline: &str,
    id: &str,
) -> Option<aws_sdk_codepipeline::types::ActionExecutionDetail> {
    let filter = aws_sdk_codepipeline::types::ActionExecutionFilter::builder()
        .pipeline_execution_id(id)
        .build();
    let details = clients
        .codepipeline
        .list_action_executions()
        .pipeline_name(pipeline)
        .filter(filter)
        .send()
        .await
        .ok()?;
    details
        .action_execution_details()
        .iter()
        .find(|a| a.action_name() == Some("Deploy"))
        .cloned()
}

/// What the action's result says: its error, or its summary.
pub(super) fn action_summary(
    deploy: Option<&aws_sdk_codepipeline::types::ActionExecutionDetail>,
) -> String {
    deploy
        .and_then(|d| d.output())
        .and_then(|o| o.execution_result())
        .and_then(|r| {
            r.error_details()
                .and_then(|e| e.message())
                .or(r.external_execution_summary())
        })
        .unwrap_or("no result")
        .to_string()
}

/// Puts the app with `deploy` and `template` as the pipeline's source and
/// starts it; returns the pipeline execution's id.
pub(super) async fn start_with(
    clients: &Clients,
    deploy: &Value,
    template: &str,
) -> anyhow::Result<String> {
    put_source(clients, deploy, template).await?;
    cpsf_worker::pipeline::start(&clients.codepipeline, PIPELINE, &[]).await
}

/// Puts the app with `deploy` and `template` as the demo's pipelines'
/// source.
pub(super) async fn put_source(
    clients: &Clients,
    deploy: &Value,
    template: &str,
) -> anyhow::Result<()> {
    let source = zip_app(&serde_json::to_string_pretty(deploy)?, template)?;
    clients
        .s3()
        .put_object()
        .bucket(SOURCE_BUCKET)
        .key(SOURCE_KEY)
        .body(source.into())
        .send()
        .await
        .call_context(format!("PutObject {SOURCE_BUCKET}/{SOURCE_KEY}"))?;
    Ok(())
}

/// The whole history of execution `arn` (what could be read of it).
pub(super) async fn history_of(
    clients: &Clients,
    arn: &str,
) -> Vec<cpsf_worker::history::event::Event> {
    let mut events = Vec::new();
    let mut pages = clients
        .sfn
        .get_execution_history()
        .execution_arn(arn)
        .into_paginator()
        .send();
    while let Some(Ok(page)) = pages.next().await {
        events.extend(
            page.events()
                .iter()
                .map(cpsf_worker::history::event::Event::from_sdk),
        );
    }
    events
}

pub(super) async fn execution_timeline(clients: &Clients, arn: &str) -> String {
    timeline::one_line(&timeline::timeline(&history_of(clients, arn).await))
}

/// The pipeline's source: app/ zipped, with this run's files.
pub(super) fn zip_app(deploy_json: &str, template: &str) -> anyhow::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in [("deploy.json", deploy_json), ("template.yaml", template)] {
        writer.start_file(name, zip::write::SimpleFileOptions::default())?;
        writer.write_all(content.as_bytes())?;
    }
    Ok(writer.finish()?.into_inner())
}
