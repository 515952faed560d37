//! update-stack: a change set, checked against the input's replacement
//! policy, then executed. A revision that changes nothing is a success.
//!
//! The change set's name and tokens derive from the execution, so a
//! redelivered task finds its own change set instead of making a second.

use super::TaskContext;
use super::create_stack::{capabilities, parameters, tags};
use super::error::TaskError;
use super::input::TaskInput;
use super::stack;
use super::template::TemplateSource;
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
    // task got that far: carry on with it. Only without one may the stack
    // already running this revision mean "no changes" (after our own
    // execute, it runs the revision too, but is not done yet).
    if !change_set_exists(ctx, &name, &change_set).await? {
        let body = ctx.templates.read_body(input).await?;
        let current = stack::describe(&ctx.cfn, &name).await?.ok_or_else(|| {
            TaskError::unavailable(format!("stack {name} vanished before the update"))
        })?;
        if runs_already(ctx, input, &current, &body).await? {
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

/// True when the stack already runs this template with these parameters
/// and tags: nothing to change, no change set needed. (A NoEcho parameter
/// reads back masked, so such stacks always go through a change set.)
async fn runs_already(
    ctx: &TaskContext,
    input: &TaskInput,
    current: &Stack,
    body: &str,
) -> Result<bool, TaskError> {
    let wanted: BTreeMap<String, String> = input.parameters()?.into_iter().collect();
    let running: BTreeMap<String, String> = current
        .parameters()
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_key()?.to_string(),
                p.parameter_value()?.to_string(),
            ))
        })
        .collect();
    let running_tags: BTreeMap<String, String> = current
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect();
    if !same_settings(&wanted, &running, &input.deploy.tags, &running_tags) {
        return Ok(false);
    }
    let template = ctx
        .cfn
        .get_template()
        .stack_name(&input.deploy.stack_name)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .map_err(|e| TaskError::from_sdk("GetTemplate", e))?;
    Ok(template.template_body() == Some(body))
}

/// Parameters the template defaults and the stack reports are not in the
/// input: only the input's own parameters must match.
fn same_settings(
    wanted: &BTreeMap<String, String>,
    running: &BTreeMap<String, String>,
    wanted_tags: &BTreeMap<String, String>,
    running_tags: &BTreeMap<String, String>,
) -> bool {
    wanted.iter().all(|(k, v)| running.get(k) == Some(v)) && wanted_tags == running_tags
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
    let result = ctx
        .cfn
        .execute_change_set()
        .stack_name(name)
        .change_set_name(change_set)
        .client_request_token(input.token("execute"))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        // Executed by an earlier delivery between our describe and now.
        Err(error) if error.code() == Some("InvalidChangeSetStatus") => Ok(()),
        Err(error) => Err(TaskError::from_sdk("ExecuteChangeSet", error)),
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

    #[test]
    fn settings_match_on_the_inputs_own_parameters_and_all_tags() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let running = map(&[("A", "1"), ("Defaulted", "x")]);
        assert!(same_settings(
            &map(&[("A", "1")]),
            &running,
            &map(&[]),
            &map(&[])
        ));
        assert!(!same_settings(
            &map(&[("A", "2")]),
            &running,
            &map(&[]),
            &map(&[])
        ));
        assert!(!same_settings(
            &map(&[("A", "1")]),
            &running,
            &map(&[("t", "1")]),
            &map(&[])
        ));
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
