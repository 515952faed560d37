//! create-stack: starts CreateStack; the wait handler follows it.
//!
//! CreateStack is idempotent for a repeated ClientRequestToken (API
//! reference, CreateStack), and cpsf's token derives from the execution, so
//! a redelivered task is answered with the stack it made. A stack of that
//! name made by anyone else answers AlreadyExistsException. Emulators also
//! answer it to our own repeat, so the stack's events decide: every event
//! of an operation carries its token (API reference, StackEvent).

use super::TaskContext;
use super::own_change_set;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::activity::lease::Lease;
use crate::cloudformation::change_set;
use crate::cloudformation::outputs;
use crate::cloudformation::stack;
use crate::cloudformation::template::TemplateSource;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter, Tag};
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, lease: &Lease, input: &TaskInput) -> Result<Value, TaskError> {
    // Other stacks' outputs first: a missing one fails before anything
    // is created.
    let (input, resolved) = outputs::resolve(&ctx.cfn, input).await?;
    let body = ctx.templates.read_body(&input).await?;
    // A create is a plain deploy (no version to keep serving), but a
    // canary that could never run on this template is refused now.
    super::canary::check_template(&input, &body)?;
    let mut output = create(ctx, lease, &input, body).await?;
    outputs::record(&mut output, &resolved);
    Ok(output)
}

/// Creates the stack from the template `body`.
async fn create(
    ctx: &TaskContext,
    lease: &Lease,
    input: &TaskInput,
    body: String,
) -> Result<Value, TaskError> {
    if crate::cloudformation::template::calls_macros(&body) || super::asking::create_asks(input)? {
        return create_through_change_set(ctx, lease, input, body).await;
    }
    let capabilities = capabilities(input, &body);
    let template = ctx.templates.source(input, body).await?;
    let rollback = super::rollback::configuration(ctx, input).await?;
    let deploy = &input.deploy;
    let started_at = crate::base::clock::epoch_now();
    let mut request = ctx
        .cfn
        .create_stack()
        .stack_name(&deploy.stack_name)
        .set_parameters(Some(parameters(input)?))
        .set_capabilities(Some(capabilities))
        .set_tags(Some(tags(input)))
        .set_role_arn(deploy.role_arn.clone())
        .set_rollback_configuration(rollback)
        .client_request_token(input.token("create"));
    request = match template {
        TemplateSource::Body(body) => request.template_body(body),
        TemplateSource::Url(url) => request.template_url(url),
    };
    lease.confirm("creating the stack").await?;
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

/// A template that calls macros is created through a CREATE change set:
/// CloudFormation expands it there, and the deploy's result lists what the
/// expansion made. The change set's name derives from the execution, so a
/// redelivered task carries on with its own; another deploy's stack of that
/// name refuses a CREATE change set ("already exists").
async fn create_through_change_set(
    ctx: &TaskContext,
    lease: &Lease,
    input: &TaskInput,
    body: String,
) -> Result<Value, TaskError> {
    let name = &input.deploy.stack_name;
    let change_set = input.token(change_set::CREATE);
    let started_at = crate::base::clock::epoch_now();
    if !change_set::exists(&ctx.cfn, name, &change_set).await? {
        lease.confirm("creating the change set").await?;
        own_change_set::create(ctx, input, &change_set, ChangeSetType::Create, body).await?;
    }
    let described = own_change_set::settle(ctx, name, &change_set).await?;
    if described.status() == Some(&ChangeSetStatus::Failed) {
        return Err(TaskError::template(format!(
            "the change set failed: {}",
            described.status_reason().unwrap_or("no reason given")
        )));
    }
    let found = change_set::changes_of(&described);
    let changes: Vec<Value> = found.iter().map(|c| json!(c)).collect();
    let executed = change_set::executed(&described);
    if super::asking::plans(input) && !executed {
        // The wave decides as one (`targets::rollout`): plan only.
        // A new stack: no running template to show a diff against.
        let (request, asks) = super::asking::planned(ctx, input, &change_set, &found).await?;
        let planned = super::asking::planned_output(&request, asks);
        return Ok(
            json!({"stackId": described.stack_id(), "startedAt": started_at,
                         "changes": changes, "planned": planned}),
        );
    }
    if let Some(request) = super::asking::request(ctx, input, &change_set, &found)
        .await?
        .filter(|_| !executed)
    {
        // A person decides first: RequestApproval, then ExecuteChangeSet.
        return Ok(
            json!({"stackId": described.stack_id(), "startedAt": started_at,
                         "changes": changes, "approval": request}),
        );
    }
    if !executed {
        lease.confirm("executing the change set").await?;
        let ours = change_set::ours(&input.execution_arn, name, &change_set, &described)?;
        change_set::execute(&ctx.cfn, name, ours, input.token("execute")).await?;
    }
    Ok(json!({"stackId": described.stack_id(), "startedAt": started_at, "changes": changes}))
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

/// The input's capabilities, and CAPABILITY_AUTO_EXPAND when the template
/// calls macros: its own `Transform` is the acknowledgement that AWS asks
/// for ("If your stack template contains one or more macros … you must
/// acknowledge this capability", API reference, CreateStack, Capabilities).
pub fn capabilities(input: &TaskInput, template: &str) -> Vec<Capability> {
    let mut listed: Vec<Capability> = input
        .deploy
        .capabilities
        .iter()
        .map(|c| Capability::from(c.as_str()))
        .collect();
    if crate::cloudformation::template::calls_macros(template)
        && !listed.contains(&Capability::CapabilityAutoExpand)
    {
        listed.push(Capability::CapabilityAutoExpand);
    }
    listed
}

pub fn tags(input: &TaskInput) -> Vec<Tag> {
    input
        .stack_tags()
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::Client;
    use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
    use aws_sdk_cloudformation::operation::create_stack::CreateStackOutput;
    use aws_sdk_cloudformation::operation::describe_change_set::{
        DescribeChangeSetError, DescribeChangeSetOutput,
    };
    use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
    use aws_sdk_cloudformation::types::ExecutionStatus;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    /// A SAM template goes through a CREATE change set with
    /// CAPABILITY_AUTO_EXPAND, never CreateStack: AWS refuses CreateStack
    /// for a template with a macro unless the capability is acknowledged,
    /// and only a change set shows what the expansion makes (MiniStack
    /// checks capabilities only with AUTH=true; docs/emulators.md).
    #[tokio::test]
    async fn a_template_with_a_transform_is_created_through_a_change_set() {
        let none_yet = mock!(Client::describe_change_set)
            .sequence()
            .error(|| {
                DescribeChangeSetError::generic(
                    aws_smithy_types::error::ErrorMetadata::builder()
                        .code("ChangeSetNotFound")
                        .message("ChangeSet [cpsf-create] does not exist")
                        .build(),
                )
            })
            .output(|| {
                DescribeChangeSetOutput::builder()
                    .status(ChangeSetStatus::CreateComplete)
                    .execution_status(ExecutionStatus::Available)
                    .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/app/1")
                    // As CreateChangeSet set it (the test input's execution).
                    .description(crate::cloudformation::change_set::description("arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:cpsf-demo-7aec4513-3a32-4f8d-8323-a6c8f9177eeb"))
                    .build()
            })
            .repeatedly()
            .build();
        let made = mock!(Client::create_change_set)
            .match_requests(|request| {
                request.change_set_type() == Some(&ChangeSetType::Create)
                    && request
                        .capabilities()
                        .contains(&Capability::CapabilityAutoExpand)
            })
            .then_output(|| CreateChangeSetOutput::builder().build());
        let executed = mock!(Client::execute_change_set)
            .then_output(|| ExecuteChangeSetOutput::builder().build());
        let direct =
            mock!(Client::create_stack).then_output(|| CreateStackOutput::builder().build());
        let cfn = mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            [&none_yet, &made, &executed, &direct]
        );
        let ctx = crate::tasks::test_context(cfn, std::time::Duration::from_secs(60));
        let input = TaskInput::parse(include_str!(
            "../../../../test_events/2-task-create-stack--sample-app--succeeds.json"
        ))
        .unwrap();
        let sam = "Transform: AWS::Serverless-2016-10-31\nResources:\n  T:\n    Type: AWS::Serverless::SimpleTable\n";
        let created = create(&ctx, &Lease::detached(), &input, sam.into())
            .await
            .unwrap();
        assert_eq!(
            created["stackId"],
            "arn:aws:cloudformation:us-east-1:123456789012:stack/app/1"
        );
        assert_eq!(
            (made.num_calls(), executed.num_calls(), direct.num_calls()),
            (1, 1, 0)
        );
    }

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
