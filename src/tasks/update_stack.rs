//! update-stack: a change set, checked against the input's replacement
//! policy, then executed. A revision that changes nothing is a success.
//!
//! "No changes" is CloudFormation's verdict, never cpsf's guess: the stack
//! running the same template with the input's parameters may still change,
//! through a parameter the input no longer names (its template default),
//! an SSM parameter whose value moved, or a transform that expands anew.
//! So an update makes a change set, and only an empty one (AWS: FAILED
//! with "didn't contain changes") is "no changes" (CloudFormation user
//! guide, "Update stacks using change sets"), unless [`super::unchanged`]
//! proves that nothing can change.
//!
//! The change set's name and tokens derive from the execution, so a
//! redelivered task finds its own change set instead of making a second.

use super::TaskContext;
use super::create_stack::{capabilities, parameters, tags};
use super::error::TaskError;
use super::input::TaskInput;
use super::stack;
use super::template::TemplateSource;
use super::unchanged::{self, Comparison};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::types::{
    ChangeSetStatus, ChangeSetType, ExecutionStatus, Stack, TemplateStage,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One resource change, as the state machine's output lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// "True", "False" or "Conditional" for a Modify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

pub async fn run(ctx: &TaskContext, input: &TaskInput) -> Result<Value, TaskError> {
    let name = input.deploy.stack_name.clone();
    let change_set = input.token("changes");
    let started_at = super::epoch_now();
    // A change set of this execution means an earlier delivery of this
    // task got that far: carry on with it. Only without one may the
    // shortcut apply (after our own execute, the stack runs the revision
    // too, but is not done yet).
    if !change_set_exists(ctx, &name, &change_set).await? {
        let body = ctx.templates.read_body(input).await?;
        let current = stack::describe(&ctx.cfn, &name).await?.ok_or_else(|| {
            TaskError::unavailable(format!("stack {name} vanished before the update"))
        })?;
        if provably_unchanged(ctx, input, &current, &body).await? {
            return Ok(
                json!({"changed": false, "result": stack::summary(&current, &[], "no changes")}),
            );
        }
        create_change_set(ctx, input, &change_set, body).await?;
    }
    let described = ctx
        .watch_change_set(&name, &change_set)
        .await?
        .ok_or_else(|| {
            TaskError::unavailable(
                "the change set was still being created when the wait cap passed",
            )
        })?;
    let changes = changes_of(&described);
    let already_executed = matches!(
        described.execution_status(),
        Some(ExecutionStatus::ExecuteInProgress | ExecutionStatus::ExecuteComplete)
    );
    if !already_executed && no_changes(&described, &changes) {
        discard(ctx, &name, &change_set).await;
        let current = stack::describe(&ctx.cfn, &name).await?.ok_or_else(|| {
            TaskError::unavailable(format!("stack {name} vanished during the update"))
        })?;
        return Ok(
            json!({"changed": false, "result": stack::summary(&current, &[], "no changes")}),
        );
    }
    if described.status() == Some(&ChangeSetStatus::Failed) {
        return Err(TaskError::template(format!(
            "the change set failed: {}",
            described.status_reason().unwrap_or("no reason given")
        )));
    }
    let refused = unsafe_changes(&changes);
    if !input.deploy.allow_replacements && !refused.is_empty() {
        discard(ctx, &name, &change_set).await;
        return Err(TaskError::new(
            "Cpsf.UnsafeChange",
            format!(
                "the update would remove or replace {}; set \"allowReplacements\": true in the deploy input to allow it",
                refused.join(", ")
            ),
        ));
    }
    if !already_executed {
        execute(ctx, input, &name, &change_set).await?;
    }
    let listed: Vec<Value> = changes.iter().map(|c| json!(c)).collect();
    Ok(
        json!({"changed": true, "changes": listed, "stackId": described.stack_id(), "startedAt": started_at}),
    )
}

/// Deletes a change set that will not be executed. Best effort: a leftover
/// change set is clutter, not harm.
async fn discard(ctx: &TaskContext, stack: &str, change_set: &str) {
    let deleted = ctx
        .cfn
        .delete_change_set()
        .stack_name(stack)
        .change_set_name(change_set)
        .send()
        .await;
    if let Err(error) = deleted {
        tracing::debug!(%change_set, error = %error.into_service_error(), "could not delete the change set");
    }
}

async fn change_set_exists(
    ctx: &TaskContext,
    stack: &str,
    change_set: &str,
) -> Result<bool, TaskError> {
    match ctx
        .cfn
        .describe_change_set()
        .stack_name(stack)
        .change_set_name(change_set)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(error)
            if error.code() == Some("ChangeSetNotFound")
                || error.code() == Some("ChangeSetNotFoundException") =>
        {
            Ok(false)
        }
        Err(error) => Err(TaskError::from_sdk("DescribeChangeSet", error)),
    }
}

/// The running stack against the input, through [`super::unchanged`].
async fn provably_unchanged(
    ctx: &TaskContext,
    input: &TaskInput,
    current: &Stack,
    body: &str,
) -> Result<bool, TaskError> {
    let pairs = |items: Vec<(Option<&str>, Option<&str>)>| -> BTreeMap<String, String> {
        items
            .into_iter()
            .filter_map(|(k, v)| Some((k?.to_string(), v?.to_string())))
            .collect()
    };
    // A parameter's name is alphanumeric (CloudFormation user guide,
    // "Parameters"), so an `AWS::…` key is a pseudo parameter, which AWS
    // never lists and fakecloud does: not the stack's own.
    let running_parameters = pairs(
        current
            .parameters()
            .iter()
            .filter(|p| !p.parameter_key().is_some_and(|k| k.starts_with("AWS::")))
            .map(|p| (p.parameter_key(), p.parameter_value()))
            .collect(),
    );
    let running_tags = pairs(
        current
            .tags()
            .iter()
            .map(|t| (t.key(), t.value()))
            .collect(),
    );
    let wanted_parameters: BTreeMap<String, String> = input.parameters()?.into_iter().collect();
    let mut comparison = Comparison {
        running_template: None,
        wanted_template: body,
        running_parameters: &running_parameters,
        wanted_parameters: &wanted_parameters,
        running_tags: &running_tags,
        wanted_tags: &input.deploy.tags,
        running_role: current.role_arn(),
        wanted_role: input.deploy.role_arn.as_deref(),
    };
    // Decide on everything else first: GetTemplate only when it can matter.
    comparison.running_template = Some(body);
    if let Some(reason) = unchanged::why_a_change_set(&comparison) {
        tracing::debug!(stack = %input.deploy.stack_name, reason, "a change set decides");
        return Ok(false);
    }
    let running = ctx
        .cfn
        .get_template()
        .stack_name(&input.deploy.stack_name)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .map_err(|e| TaskError::from_sdk("GetTemplate", e))?;
    comparison.running_template = running.template_body();
    let reason = unchanged::why_a_change_set(&comparison);
    match reason {
        Some(reason) => {
            tracing::debug!(stack = %input.deploy.stack_name, reason, "a change set decides")
        }
        None => tracing::debug!(
            stack = %input.deploy.stack_name,
            "no change set: the stack runs this template with these parameters, tags and role"
        ),
    }
    Ok(reason.is_none())
}

async fn create_change_set(
    ctx: &TaskContext,
    input: &TaskInput,
    change_set: &str,
    body: String,
) -> Result<(), TaskError> {
    let template = ctx.templates.source(input, body).await?;
    let mut request = ctx
        .cfn
        .create_change_set()
        .stack_name(&input.deploy.stack_name)
        .change_set_name(change_set)
        .change_set_type(ChangeSetType::Update)
        .set_parameters(Some(parameters(input)?))
        .set_capabilities(Some(capabilities(input)))
        .set_tags(Some(tags(input)))
        .set_role_arn(input.deploy.role_arn.clone())
        .client_token(input.token("changes"));
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

async fn execute(
    ctx: &TaskContext,
    input: &TaskInput,
    name: &str,
    change_set: &str,
) -> Result<(), TaskError> {
    execute_change_set(&ctx.cfn, name, change_set, input.token("execute")).await
}

/// ExecuteChangeSet, with its one ambiguous refusal sorted out.
///
/// `InvalidChangeSetStatus` means "the change set can't be used to update
/// the stack. For example, the change set status might be
/// CREATE_IN_PROGRESS, or the stack status might be UPDATE_IN_PROGRESS"
/// (CloudFormation API reference, ExecuteChangeSet errors). So it comes both
/// when an earlier delivery of this task executed our change set and when
/// another operation holds the stack; only our change set's own
/// ExecutionStatus tells which.
async fn execute_change_set(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    change_set: &str,
    token: String,
) -> Result<(), TaskError> {
    let result = cfn
        .execute_change_set()
        .stack_name(name)
        .change_set_name(change_set)
        .client_request_token(token)
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_invalid_change_set_status_exception()) =>
        {
            let ours = cfn
                .describe_change_set()
                .stack_name(name)
                .change_set_name(change_set)
                .send()
                .await
                .map_err(|e| TaskError::from_sdk("DescribeChangeSet", e))?;
            let stack_status = stack::describe(cfn, name)
                .await?
                .and_then(|s| s.stack_status().map(|st| st.as_str().to_string()));
            refused_execution(name, ours.execution_status(), stack_status.as_deref())
        }
        Err(error) => Err(TaskError::from_sdk("ExecuteChangeSet", error)),
    }
}

/// After a refused ExecuteChangeSet: ours if our change set is executing or
/// executed, else another operation holds the stack and ours was not run.
fn refused_execution(
    stack: &str,
    ours: Option<&ExecutionStatus>,
    stack_status: Option<&str>,
) -> Result<(), TaskError> {
    match ours {
        Some(ExecutionStatus::ExecuteInProgress | ExecutionStatus::ExecuteComplete) => Ok(()),
        other => Err(TaskError::new(
            "Cpsf.StackBusy",
            format!(
                "stack {stack} is {}: another operation holds it, so this deploy's change set \
                 was not executed (its execution status: {}); deploy again when that \
                 operation has ended",
                stack_status.unwrap_or("busy"),
                other.map_or("unknown", |s| s.as_str())
            ),
        )),
    }
}

fn changes_of(described: &DescribeChangeSetOutput) -> Vec<Change> {
    described
        .changes()
        .iter()
        .filter_map(|c| c.resource_change())
        .map(|r| Change {
            action: r
                .action()
                .map(|a| a.as_str().to_string())
                .unwrap_or_default(),
            logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
            resource_type: r.resource_type().unwrap_or_default().to_string(),
            replacement: r.replacement().map(|x| x.as_str().to_string()),
        })
        .collect()
}

/// AWS fails an empty change set with "didn't contain changes"; fakecloud
/// completes it with no changes. Both mean "nothing to do".
fn no_changes(described: &DescribeChangeSetOutput, changes: &[Change]) -> bool {
    match described.status() {
        Some(ChangeSetStatus::Failed) => described.status_reason().is_some_and(|r| {
            r.contains("didn't contain changes") || r.contains("No updates are to be performed")
        }),
        _ => changes.is_empty(),
    }
}

/// Changes the default policy refuses: a removal, or a certain replacement.
/// `Conditional` is reported in the output, not refused: CloudFormation
/// itself cannot tell before the update.
pub fn unsafe_changes(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .filter_map(|c| match (c.action.as_str(), c.replacement.as_deref()) {
            ("Remove", _) => Some(format!("{} ({}): removed", c.logical_id, c.resource_type)),
            (_, Some("True")) => Some(format!("{} ({}): replaced", c.logical_id, c.resource_type)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: &str, id: &str, replacement: Option<&str>) -> Change {
        Change {
            action: action.into(),
            logical_id: id.into(),
            resource_type: "AWS::SQS::Queue".into(),
            replacement: replacement.map(str::to_string),
        }
    }

    mod refused_execute {
        use super::super::*;
        use aws_sdk_cloudformation::Client;
        use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
        use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
        use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetError;
        use aws_sdk_cloudformation::types::error::InvalidChangeSetStatusException;
        use aws_sdk_cloudformation::types::{Stack, StackStatus};
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        /// What AWS answers when the change set cannot run now.
        fn refused() -> aws_smithy_mocks::Rule {
            mock!(Client::execute_change_set).then_error(|| {
                // The Query protocol's code for it is InvalidChangeSetStatus.
                let message = "ChangeSet [cpsf-changes-1] cannot be executed in its current status of [CREATE_COMPLETE]";
                ExecuteChangeSetError::InvalidChangeSetStatusException(
                    InvalidChangeSetStatusException::builder()
                        .message(message)
                        .meta(
                            aws_smithy_types::error::ErrorMetadata::builder()
                                .code("InvalidChangeSetStatus")
                                .message(message)
                                .build(),
                        )
                        .build(),
                )
            })
        }

        fn our_change_set(execution: ExecutionStatus) -> aws_smithy_mocks::Rule {
            mock!(Client::describe_change_set).then_output(move || {
                DescribeChangeSetOutput::builder()
                    .status(ChangeSetStatus::CreateComplete)
                    .execution_status(execution.clone())
                    .build()
            })
        }

        fn stack(status: StackStatus) -> aws_smithy_mocks::Rule {
            mock!(Client::describe_stacks).then_output(move || {
                DescribeStacksOutput::builder()
                    .stacks(
                        Stack::builder()
                            .stack_name("app")
                            .stack_status(status.clone())
                            .creation_time(aws_smithy_types::DateTime::from_secs(0))
                            .build(),
                    )
                    .build()
            })
        }

        async fn execute_with(rules: &[&aws_smithy_mocks::Rule]) -> Result<(), TaskError> {
            let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, rules);
            execute_change_set(&cfn, "app", "cpsf-changes-1", "token".into()).await
        }

        #[tokio::test]
        async fn our_change_set_already_executing_is_ours() {
            let (refused, ours, stack) = (
                refused(),
                our_change_set(ExecutionStatus::ExecuteInProgress),
                stack(StackStatus::UpdateInProgress),
            );
            assert_eq!(execute_with(&[&refused, &ours, &stack]).await, Ok(()));
        }

        #[tokio::test]
        async fn another_update_in_progress_is_named_not_taken_for_ours() {
            let (refused, ours, stack) = (
                refused(),
                our_change_set(ExecutionStatus::Available),
                stack(StackStatus::UpdateInProgress),
            );
            let error = execute_with(&[&refused, &ours, &stack]).await.unwrap_err();
            assert_eq!(error.name, "Cpsf.StackBusy");
            assert_eq!(
                error.cause,
                "stack app is UPDATE_IN_PROGRESS: another operation holds it, so this deploy's \
                 change set was not executed (its execution status: AVAILABLE); deploy again \
                 when that operation has ended"
            );
        }
    }

    #[test]
    fn removals_and_certain_replacements_are_unsafe_conditional_is_not() {
        let changes = [
            change("Add", "New", None),
            change("Modify", "Tweaked", Some("False")),
            change("Modify", "Maybe", Some("Conditional")),
            change("Modify", "Replaced", Some("True")),
            change("Remove", "Gone", None),
        ];
        assert_eq!(
            unsafe_changes(&changes),
            vec![
                "Replaced (AWS::SQS::Queue): replaced",
                "Gone (AWS::SQS::Queue): removed"
            ]
        );
    }
}
