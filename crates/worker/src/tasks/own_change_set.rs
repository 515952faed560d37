//! The change set a task makes from its input and waits on: made with the
//! template, parameters, tags and rollback triggers the input and the
//! context give, under the name the caller derives from the execution.
//! The calls that need only a CloudFormation client (exists, execute,
//! discard, read) are `cloudformation::change_set`.

use super::TaskContext;
use super::create_stack::{capabilities, parameters, tags};
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::cloudformation::change_set::description;
use crate::cloudformation::template::TemplateSource;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::types::ChangeSetType;

/// Creates change set `change_set` (named by the caller from the execution,
/// so a redelivered task finds its own) of `kind` for the input's stack.
pub async fn create(
    ctx: &TaskContext,
    input: &TaskInput,
    change_set: &str,
    kind: ChangeSetType,
    body: String,
) -> Result<(), TaskError> {
    let capabilities = capabilities(input, &body);
    let template = ctx.templates.source(input, body).await?;
    let rollback = super::rollback::configuration(ctx, input).await?;
    let mut request = ctx
        .cfn
        .create_change_set()
        .stack_name(&input.deploy.stack_name)
        .change_set_name(change_set)
        .change_set_type(kind)
        .set_parameters(Some(parameters(input)?))
        .set_capabilities(Some(capabilities))
        .set_tags(Some(tags(input)))
        .set_role_arn(input.deploy.role_arn.clone())
        .set_rollback_configuration(rollback)
        .description(description(&input.execution_arn))
        .client_token(change_set);
    request = match template {
        TemplateSource::Body(body) => request.template_body(body),
        TemplateSource::Url(url) => request.template_url(url),
    };
    match request.send().await {
        Ok(_) => Ok(()),
        // Our own change set from an earlier delivery of this task.
        Err(error) if error.code() == Some("AlreadyExistsException") => Ok(()),
        Err(error) => Err(TaskError::from_sdk("CreateChangeSet", error)),
    }
}

/// Waits until the change set is no longer being created.
pub async fn settle(
    ctx: &TaskContext,
    stack: &str,
    change_set: &str,
) -> Result<DescribeChangeSetOutput, TaskError> {
    ctx.watch_change_set(stack, change_set)
        .await?
        .ok_or_else(|| {
            TaskError::unavailable(
                "the change set was still being created when the wait cap passed",
            )
        })
}
