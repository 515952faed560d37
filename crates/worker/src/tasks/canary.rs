//! What the canary's handlers and UpdateStack share (`canary/` decides):
//! whether an update starts a canary, its progress in the state, and the
//! version an alias serves now, read (never changed) where the stack
//! is: CloudFormation's DescribeStackResource gives the alias's physical
//! id, its ARN (`arn:…:function:<name>:<alias>`: CloudFormation user
//! guide, AWS::Lambda::Alias return values, `Ref`), and Lambda's GetAlias
//! its `FunctionVersion` and `RoutingConfig` (Lambda API reference,
//! GetAlias: `FunctionName` takes a function's name or ARN).

use super::TaskContext;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::base::change::Change;
use crate::canary::plan::{self, Phase, Progress};
use crate::canary::template;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use serde_json::Value;

/// The alias as Lambda has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub arn: String,
    pub version: String,
}

/// The AWS configuration that reaches the input's stack: a rollout
/// target's (its region, its role), else the worker's own.
pub async fn config(
    ctx: &TaskContext,
    input: &TaskInput,
) -> Result<aws_config::SdkConfig, TaskError> {
    match &input.deploy.target {
        Some(target) => ctx.reach.config(target, &input.token("canary")).await,
        None => Ok(ctx.reach.base().clone()),
    }
}

/// The version alias `logical_id` of `stack` serves now.
pub async fn serving(
    ctx: &TaskContext,
    input: &TaskInput,
    logical_id: &str,
) -> Result<Live, TaskError> {
    let stack = &input.deploy.stack_name;
    let described = ctx
        .cfn
        .describe_stack_resource()
        .stack_name(stack)
        .logical_resource_id(logical_id)
        .send()
        .await
        .map_err(|e| TaskError::from_sdk("DescribeStackResource", e))?;
    let arn = described
        .stack_resource_detail()
        .and_then(|d| d.physical_resource_id())
        .unwrap_or_default()
        .to_string();
    let Some((function, name)) = arn.rsplit_once(':').filter(|_| arn.starts_with("arn:")) else {
        return Err(TaskError::input(format!(
            "alias {logical_id} of stack {stack} has the physical id '{arn}', no alias ARN: is it \
             created yet?"
        )));
    };
    let lambda = aws_sdk_lambda::Client::new(&config(ctx, input).await?);
    let alias = lambda
        .get_alias()
        .function_name(function)
        .name(name)
        .send()
        .await
        .map_err(|e| match e.code() {
            Some("ResourceNotFoundException") => TaskError::input(format!(
                "GetAlias: alias {arn} (logical id {logical_id}) is not in Lambda: the stack \
                 has drifted; deploy without canary once"
            )),
            _ => TaskError::from_sdk("GetAlias", e),
        })?;
    Ok(Live {
        arn,
        version: alias.function_version().unwrap_or_default().to_string(),
    })
}

/// Whether UpdateStack's change set starts a canary: the input asks for
/// one and the update gives the alias another version. Then the progress
/// before the first step; None: a plain update. The template's alias is
/// checked here, before anything changes (a refusal names why).
pub async fn start(
    ctx: &TaskContext,
    input: &TaskInput,
    changes: &[Change],
) -> Result<Option<Progress>, TaskError> {
    let Some(canary) = input.canary()? else {
        return Ok(None);
    };
    let body = ctx.templates.read_body(input).await?;
    let Some(site) = check_template(input, &body)? else {
        return Ok(None);
    };
    if !template::shifts(changes, &canary.alias, &site) {
        return Ok(None);
    }
    let live = serving(ctx, input, &canary.alias).await?;
    // Lambda routes only between published versions: a routing
    // configuration's versions are `[0-9]+` (Lambda API reference,
    // AliasRoutingConfiguration; developer guide, "Implement Lambda canary
    // deployments using a weighted alias").
    if live.version == "$LATEST" || live.version.is_empty() {
        return Err(TaskError::input(format!(
            "the canary is refused: alias {} serves {}, not a published version; deploy it \
             once without canary, with FunctionVersion naming an AWS::Lambda::Version",
            canary.alias,
            if live.version.is_empty() {
                "no version"
            } else {
                "$LATEST"
            }
        )));
    }
    Ok(Some(Progress {
        alias: canary.alias.clone(),
        alias_arn: live.arn,
        old_version: live.version,
        steps: canary.steps.clone(),
        bake_seconds: canary.bake_seconds(),
        step: 0,
        phase: Phase::Shift,
        stopped: None,
    }))
}

/// Where the input's canary alias is in the template `body`, or why a
/// canary cannot run on it (refused before anything changes); None
/// without a canary.
pub fn check_template(input: &TaskInput, body: &str) -> Result<Option<template::Site>, TaskError> {
    let Some(canary) = input.canary()? else {
        return Ok(None);
    };
    let parsed = template::parse(body).map_err(TaskError::template)?;
    template::find(&parsed, &canary.alias)
        .map(Some)
        .map_err(|why| TaskError::input(format!("the canary is refused: {why}")))
}

/// The canary's progress in the state: CanaryStep's result, or, before
/// the first step, what UpdateStack handed on.
pub fn progress_of(input: &TaskInput) -> Result<Option<Progress>, TaskError> {
    let found = input.deploy.canary_state.clone().or_else(|| {
        input
            .deploy
            .stack_operation
            .as_ref()
            .and_then(|o| o.canary.clone())
    });
    found
        .map(|v| {
            serde_json::from_value(v).map_err(|e| {
                TaskError::input(format!("the canary's progress is not as expected: {e}"))
            })
        })
        .transpose()
}

/// A finished canary in WaitForStack's result: its steps in `canary`, and
/// in the summary.
pub fn record(result: &mut Value, input: &TaskInput) -> Result<(), TaskError> {
    if input.deploy.canary_state.is_none() {
        return Ok(());
    }
    let Some(progress) = progress_of(input)? else {
        return Ok(());
    };
    result["canary"] = plan::output(&progress);
    let said = plan::summary(&progress);
    result["summary"] = match result["summary"].as_str() {
        Some(before) => Value::String(format!("{before}; {said}")),
        None => Value::String(said),
    };
    Ok(())
}
