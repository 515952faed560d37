//! create-stack: starts CreateStack; the wait handler follows it.

use super::TaskContext;
use super::error::TaskError;
use super::input::TaskInput;
use super::stack;
use super::template::TemplateSource;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{Capability, Parameter, Tag};
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, input: &TaskInput) -> Result<Value, TaskError> {
    let template = ctx.templates.load(input).await?;
    let deploy = &input.deploy;
    let started_at = super::epoch_now();
    let mut request = ctx
        .cfn
        .create_stack()
        .stack_name(&deploy.stack_name)
        .set_parameters(Some(parameters(input)?))
        .set_capabilities(Some(capabilities(input)))
        .set_tags(Some(tags(input)))
        .set_role_arn(deploy.role_arn.clone())
        .client_request_token(input.token("create"));
    request = match template {
        TemplateSource::Body(body) => request.template_body(body),
        TemplateSource::Url(url) => request.template_url(url),
    };
    let stack_id = match request.send().await {
        Ok(output) => output.stack_id().unwrap_or_default().to_string(),
        // CheckStack found no stack just before, so a stack of this name is
        // our own earlier delivery of this task (AWS accepts the repeated
        // token; fakecloud answers AlreadyExists): carry on with it.
        Err(error) if error.code() == Some("AlreadyExistsException") => {
            let existing = stack::describe(&ctx.cfn, &deploy.stack_name)
                .await?
                .ok_or_else(|| {
                    TaskError::unavailable("the stack was reported existing, then not found")
                })?;
            tracing::info!(stack = %deploy.stack_name, "stack already created by an earlier delivery of this task");
            let created = existing
                .creation_time()
                .map_or(started_at, |t| t.as_secs_f64());
            return Ok(
                json!({"stackId": existing.stack_id(), "startedAt": created, "changes": []}),
            );
        }
        Err(error) => return Err(TaskError::from_sdk("CreateStack", error)),
    };
    Ok(json!({"stackId": stack_id, "startedAt": started_at, "changes": []}))
}

pub fn parameters(input: &TaskInput) -> Result<Vec<Parameter>, TaskError> {
    Ok(input
        .parameters()?
        .into_iter()
        .map(|(key, value)| {
            Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build()
        })
        .collect())
}

pub fn capabilities(input: &TaskInput) -> Vec<Capability> {
    input
        .deploy
        .capabilities
        .iter()
        .map(|c| Capability::from(c.as_str()))
        .collect()
}

pub fn tags(input: &TaskInput) -> Vec<Tag> {
    input
        .deploy
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}
