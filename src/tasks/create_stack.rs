//! create-stack: starts CreateStack; the wait handler follows it.
//!
//! CreateStack is idempotent for a repeated ClientRequestToken (API
//! reference, CreateStack), and cpsf's token derives from the execution, so
//! a redelivered task is answered with the stack it made. A stack of that
//! name made by anyone else answers AlreadyExistsException. Emulators also
//! answer it to our own repeat, so the stack's events decide: every event
//! of an operation carries its token (API reference, StackEvent).

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
        Err(error) if error.code() == Some("AlreadyExistsException") => {
            let token = input.token("create");
            let tokens = creation_tokens(ctx, &deploy.stack_name).await?;
            if let Some(other) = another_operations_token(&token, &tokens) {
                return Err(TaskError::new(
                    "Cpsf.StackConflict",
                    format!(
                        "stack {} was created by another operation ({other}) while this deploy \
                         was creating it: another deploy, or someone else, owns it. Give this \
                         deploy its own stackName, or delete that stack if it is a leftover",
                        deploy.stack_name
                    ),
                ));
            }
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

/// The ClientRequestToken of each of the stack's newest events (one page):
/// `None` for an event of an operation that was given none.
async fn creation_tokens(ctx: &TaskContext, stack: &str) -> Result<Vec<Option<String>>, TaskError> {
    let events = ctx
        .cfn
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| TaskError::from_sdk("DescribeStackEvents", e))?;
    Ok(events
        .stack_events()
        .iter()
        .map(|e| e.client_request_token().map(str::to_string))
        .collect())
}

/// Whose stack it is, from its events' tokens: ours when any carries our
/// token; else another operation's, named by its token (or "no token", as
/// a stack made without one).
pub fn another_operations_token(ours: &str, tokens: &[Option<String>]) -> Option<String> {
    if tokens.iter().any(|t| t.as_deref() == Some(ours)) {
        return None;
    }
    Some(match tokens.iter().flatten().next() {
        Some(theirs) => format!("token {theirs}"),
        None => "no token".to_string(),
    })
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

#[cfg(test)]
mod tests {
    use super::another_operations_token;

    #[test]
    fn a_stack_whose_events_carry_our_token_is_ours() {
        let tokens = [Some("cpsf-create-1".to_string()), None];
        assert_eq!(another_operations_token("cpsf-create-1", &tokens), None);
    }

    #[test]
    fn another_token_or_none_is_another_operations_stack() {
        let theirs = [Some("Console-CreateStack-7f3a".to_string())];
        assert_eq!(
            another_operations_token("cpsf-create-1", &theirs).as_deref(),
            Some("token Console-CreateStack-7f3a")
        );
        assert_eq!(
            another_operations_token("cpsf-create-1", &[None, None]).as_deref(),
            Some("no token")
        );
    }
}
