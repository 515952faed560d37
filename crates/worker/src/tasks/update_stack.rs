//! update-stack: a change set, checked against the input's replacement
//! policy, then executed. A revision that changes nothing is a success.
//!
//! "No changes" is CloudFormation's verdict, never cpsf's guess: the stack
//! running the same template with the input's parameters may still change,
//! through a parameter the input no longer names (its template default),
//! an SSM parameter whose value moved, or a transform that expands anew.
//! So an update makes a change set, and only an empty one (AWS: FAILED
//! with "didn't contain changes") is "no changes" (CloudFormation user
//! guide, "Update stacks using change sets"), unless [`crate::cloudformation::unchanged`]
//! proves that nothing can change.
//!
//! The change set's name and tokens derive from the execution, so a
//! redelivered task finds its own change set instead of making a second.

use super::TaskContext;
use super::own_change_set;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::activity::lease::Lease;
use crate::base::change::Change;
use crate::cloudformation::change_set;
use crate::cloudformation::outputs;
use crate::cloudformation::stack;
use crate::cloudformation::unchanged::{self, Comparison};
use aws_sdk_cloudformation::types::{ChangeSetStatus, ChangeSetType, Stack, TemplateStage};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub async fn run(ctx: &TaskContext, lease: &Lease, input: &TaskInput) -> Result<Value, TaskError> {
    // Other stacks' outputs first: a missing one fails before the change
    // set is made. Read again on a redelivery: the same values, unless
    // the other stack changed in between.
    let (input, resolved) = outputs::resolve(&ctx.cfn, input).await?;
    let mut output = update(ctx, lease, &input).await?;
    outputs::record(&mut output, &resolved);
    Ok(output)
}

async fn update(ctx: &TaskContext, lease: &Lease, input: &TaskInput) -> Result<Value, TaskError> {
    let name = input.deploy.stack_name.clone();
    let change_set = input.token(change_set::UPDATE);
    let started_at = crate::base::clock::epoch_now();
    // A change set of this execution means an earlier delivery of this
    // task got that far: carry on with it. Only without one may the
    // shortcut apply (after our own execute, the stack runs the revision
    // too, but is not done yet).
    // The revision's template, kept for the approval page's diff when the
    // input asks for approvals (read again only on a redelivery).
    let mut revision = None;
    // A template in which CodeDeploy shifts an alias's traffic: said in the
    // result (read on the first delivery only).
    let mut codedeploy = None;
    if !change_set::exists(&ctx.cfn, &name, &change_set).await? {
        let body = ctx.templates.read_body(input).await?;
        codedeploy = crate::canary::template::codedeploy_note(&body);
        revision = input.deploy.approval.is_some().then(|| body.clone());
        let current = stack::describe(&ctx.cfn, &name).await?.ok_or_else(|| {
            TaskError::unavailable(format!("stack {name} vanished before the update"))
        })?;
        if provably_unchanged(ctx, input, &current, &body).await? {
            return Ok(
                json!({"changed": false, "result": stack::summary(&current, &[], "no changes")}),
            );
        }
        lease.confirm("creating the change set").await?;
        own_change_set::create(ctx, input, &change_set, ChangeSetType::Update, body).await?;
    }
    let described = own_change_set::settle(ctx, &name, &change_set).await?;
    let changes = change_set::changes_of(&described);
    let already_executed = change_set::executed(&described);
    if !already_executed && change_set::no_changes(&described) {
        change_set::discard(&ctx.cfn, &name, &change_set).await;
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
    // A planning target's request (`targets::rollout`) is the one it asks
    // with: made once, its review URL read once.
    let planned = if super::asking::plans(input) && !already_executed {
        Some(super::asking::planned(ctx, input, &change_set, &changes).await?)
    } else {
        None
    };
    let asking = match &planned {
        Some((request, asks)) => asks.then(|| request.clone()),
        None => super::asking::request(ctx, input, &change_set, &changes).await?,
    };
    // A canary's new version keeping the old one is no risk to allow
    // (`canary::template::gated`).
    let site = match input.deploy.canary {
        Some(_) => {
            let body = ctx.templates.read_body(input).await?;
            // A refused canary changes nothing: its change set goes too.
            match super::canary::check_template(input, &body) {
                Ok(site) => site,
                Err(refused) => {
                    change_set::discard(&ctx.cfn, &name, &change_set).await;
                    return Err(refused);
                }
            }
        }
        None => None,
    };
    let gated: Vec<Change> = crate::canary::template::gated(&changes, site.as_ref())
        .into_iter()
        .cloned()
        .collect();
    let refused = unsafe_changes(&gated);
    if asking.is_none() && !input.deploy.allow_replacements && !refused.is_empty() {
        change_set::discard(&ctx.cfn, &name, &change_set).await;
        return Err(TaskError::new(
            "Cpsf.UnsafeChange",
            format!(
                "the update would remove or replace {}; set \"allowReplacements\": true in the deploy input to allow it",
                refused.join(", ")
            ),
        ));
    }
    let listed: Vec<Value> = changes.iter().map(|c| json!(c)).collect();
    if let Some((request, asks)) = planned {
        // The wave decides as one (`targets::rollout`): plan only.
        let request = super::asking::with_diff(ctx, input, request, revision).await;
        let planned = super::asking::planned_output(&request, asks);
        return Ok(
            json!({"changed": true, "changes": listed, "stackId": described.stack_id(),
                         "startedAt": started_at, "planned": planned}),
        );
    }
    if let Some(request) = asking.filter(|_| !already_executed) {
        let request = super::asking::with_diff(ctx, input, request, revision).await;
        // A person decides first: RequestApproval, then ExecuteChangeSet.
        return Ok(
            json!({"changed": true, "changes": listed, "stackId": described.stack_id(),
                         "startedAt": started_at, "approval": request}),
        );
    }
    let canary = if already_executed {
        None
    } else {
        match super::canary::start(ctx, input, &changes).await {
            Ok(canary) => canary,
            // A refused canary changes nothing: its change set goes too.
            Err(refused) => {
                change_set::discard(&ctx.cfn, &name, &change_set).await;
                return Err(refused);
            }
        }
    };
    if let Some(canary) = canary {
        // The steps apply the update (CanaryStep), each through a change
        // set of its own: this one is never executed.
        change_set::discard(&ctx.cfn, &name, &change_set).await;
        return Ok(
            json!({"changed": true, "changes": listed, "stackId": described.stack_id(),
                         "startedAt": started_at, "canary": canary}),
        );
    }
    if !already_executed {
        lease.confirm("executing the change set").await?;
        let ours = change_set::ours(&input.execution_arn, &name, &change_set, &described)?;
        change_set::execute(&ctx.cfn, &name, ours, input.token("execute")).await?;
    }
    let mut output = json!({"changed": true, "changes": listed, "stackId": described.stack_id(),
                            "startedAt": started_at});
    if let Some(codedeploy) = codedeploy {
        output["codedeploy"] = json!(codedeploy);
    }
    Ok(output)
}

/// The running stack against the input, through [`crate::cloudformation::unchanged`].
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
    let wanted_tags = input.stack_tags();
    let comparison = Comparison {
        wanted_template: body,
        running_parameters: &running_parameters,
        wanted_parameters: &wanted_parameters,
        running_tags: &running_tags,
        wanted_tags: &wanted_tags,
        running_role: current.role_arn(),
        wanted_role: input.deploy.role_arn.as_deref(),
    };
    let stack = &input.deploy.stack_name;
    // Decide on everything else first: GetTemplate only when it can matter.
    if let Some(reason) = unchanged::why_a_change_set(&comparison) {
        tracing::debug!(%stack, reason, "a change set decides");
        return Ok(false);
    }
    let running = ctx
        .cfn
        .get_template()
        .stack_name(stack)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .map_err(|e| TaskError::from_sdk("GetTemplate", e))?;
    let unchanged = unchanged::provably_unchanged(&comparison, running.template_body());
    if unchanged {
        tracing::debug!(%stack, "no change set: the stack runs this template with these parameters, tags and role");
    } else {
        tracing::debug!(%stack, reason = "the template differs", "a change set decides");
    }
    Ok(unchanged)
}

/// Changes the default policy refuses ([`Change::is_risky`]): a removal
/// that deletes the resource, or a certain replacement. `Conditional` is
/// reported in the output, not refused: CloudFormation itself cannot tell
/// before the update. A removal CloudFormation retains is not refused.
pub fn unsafe_changes(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .filter(|c| c.is_risky())
        .map(|c| {
            let what = match (c.action.as_str(), c.replaced_old_retained()) {
                ("Remove", _) => "removed",
                (_, true) => "replaced (the old one retained: UpdateReplacePolicy Retain)",
                _ => "replaced",
            };
            format!("{} ({}): {what}", c.logical_id, c.resource_type)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cloudformation::change_set::test_change as change;

    use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
    use aws_sdk_cloudformation::types::ExecutionStatus;

    /// Runs update-stack on the saved update input, its change set
    /// described as `described` and its heartbeats answered by
    /// `heartbeat`; the result and how many times the change set was
    /// executed.
    async fn update_with(
        described: DescribeChangeSetOutput,
        heartbeat: aws_smithy_mocks::Rule,
    ) -> (Result<Value, TaskError>, usize) {
        use aws_sdk_cloudformation::Client;
        use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        let made = mock!(Client::describe_change_set).then_output(move || described.clone());
        let executed = mock!(Client::execute_change_set)
            .then_output(|| ExecuteChangeSetOutput::builder().build());
        let cfn = mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            [&made, &executed]
        );
        let ctx = crate::tasks::test_context(cfn, std::time::Duration::from_secs(60));
        let lease = crate::activity::lease::tests::lease(&heartbeat);
        let input = TaskInput::parse(include_str!(
            "../../../../test_events/4-task-update-stack--greeting-changed--changes.json"
        ))
        .unwrap();
        let result = run(&ctx, &lease, &input).await;
        (result, executed.num_calls())
    }

    /// A rollout target that plans (its wave's approval) with a review URL
    /// from a stack output reads that output once, not once for its own
    /// request and again for the wave's.
    #[tokio::test]
    async fn a_planning_target_reads_its_review_url_once() {
        use aws_sdk_cloudformation::Client;
        use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
        use aws_sdk_cloudformation::types::{ChangeAction, Replacement, ResourceChange};
        use aws_sdk_cloudformation::types::{Output, Stack, StackStatus};
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        let modified = ResourceChange::builder()
            .action(ChangeAction::Modify)
            .logical_resource_id("Greeting")
            .resource_type("AWS::SSM::Parameter")
            .replacement(Replacement::False)
            .build();
        let made = DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::CreateComplete)
            .execution_status(ExecutionStatus::Available)
            .changes(
                aws_sdk_cloudformation::types::Change::builder()
                    .resource_change(modified)
                    .build(),
            )
            .build();
        let made = mock!(Client::describe_change_set).then_output(move || made.clone());
        let staging = mock!(Client::describe_stacks)
            .sequence()
            .output(|| {
                let site = Output::builder()
                    .output_key("SiteUrl")
                    .output_value("https://staging.shop.example/")
                    .build();
                let stack = Stack::builder()
                    .stack_name("shop-staging")
                    .stack_status(StackStatus::UpdateComplete)
                    .outputs(site)
                    .build();
                DescribeStacksOutput::builder().stacks(stack).build()
            })
            .repeatedly()
            .build();
        // The diff the request shows reads the running template.
        let running = mock!(Client::get_template)
            .sequence()
            .output(|| {
                aws_sdk_cloudformation::operation::get_template::GetTemplateOutput::builder()
                    .template_body("{}")
                    .build()
            })
            .repeatedly()
            .build();
        let cfn = mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            [&made, &staging, &running]
        );
        let ctx = crate::tasks::test_context(cfn, std::time::Duration::from_secs(60));
        let heartbeat = crate::activity::lease::tests::accepted();
        let lease = crate::activity::lease::tests::lease(&heartbeat);
        let mut value: Value = serde_json::from_str(include_str!(
            "../../../../test_events/4-task-update-stack--greeting-changed--changes.json"
        ))
        .unwrap();
        value["deploy"]["stage"] = "plan".into();
        value["deploy"]["approval"] = json!({"when": "always",
            "notify": "arn:aws:sns:us-east-1:123456789012:deploy-approvals",
            "reviewUrl": {"fromStack": "shop-staging", "output": "SiteUrl"}});
        let input = TaskInput::parse(&value.to_string()).unwrap();
        let planned = run(&ctx, &lease, &input).await.unwrap();
        assert_eq!(
            planned["planned"]["request"]["reviewUrl"],
            "https://staging.shop.example/"
        );
        assert_eq!(staging.num_calls(), 1);
    }

    /// The test input's execution (test_events/4-task-update-stack-…).
    const EXECUTION: &str = "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:cpsf-demo-7aec4513-3a32-4f8d-8323-a6c8f9177eeb";

    /// A change set under the name this execution gives, made by someone
    /// else before the update got to it (issue 27, item 4): the update
    /// carries on with the change set it finds, and refuses to execute it.
    #[tokio::test]
    async fn a_change_set_someone_else_made_under_our_name_is_not_executed() {
        let theirs = DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::CreateComplete)
            .execution_status(ExecutionStatus::Available)
            .description("made by hand")
            .build();
        let (result, executed) =
            update_with(theirs, crate::activity::lease::tests::accepted()).await;
        let error = result.unwrap_err();
        assert_eq!(error.name, change_set::NOT_OURS, "{error}");
        assert_eq!(executed, 0);
    }

    /// The execution was stopped while its change set was being made: the
    /// task is closed, so the change set must not be executed.
    #[tokio::test]
    async fn a_closed_task_never_executes_its_change_set() {
        use aws_sdk_cloudformation::types::{ChangeAction, Replacement, ResourceChange};
        let made = DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::CreateComplete)
            .execution_status(ExecutionStatus::Available)
            .changes(
                aws_sdk_cloudformation::types::Change::builder()
                    .resource_change(
                        ResourceChange::builder()
                            .action(ChangeAction::Modify)
                            .logical_resource_id("Greeting")
                            .resource_type("AWS::SSM::Parameter")
                            .replacement(Replacement::False)
                            .build(),
                    )
                    .build(),
            )
            .build();
        let (result, executed) =
            update_with(made, crate::activity::lease::tests::timed_out()).await;
        assert_eq!(result.unwrap_err().name, "Cpsf.TaskGone");
        assert_eq!(
            executed, 0,
            "a change set was executed for a stopped execution"
        );
    }

    /// AWS's answer to an update that changes only the template's Outputs:
    /// the change set is CREATE_COMPLETE and AVAILABLE with no changes
    /// (aws/aws-cdk#2029). MiniStack fails it as "didn't contain changes"
    /// (docs/emulators.md), hence the replay. The change set is executed:
    /// that is what applies the new Outputs.
    #[tokio::test]
    async fn an_outputs_only_change_set_is_executed_not_called_no_changes() {
        let outputs_only = DescribeChangeSetOutput::builder()
            .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/cpsf-demo-app/1")
            .status(ChangeSetStatus::CreateComplete)
            .execution_status(ExecutionStatus::Available)
            .description(change_set::description(EXECUTION))
            .build();
        let (result, executed) =
            update_with(outputs_only, crate::activity::lease::tests::accepted()).await;
        let output = result.unwrap();
        assert_eq!(output["changed"], true, "{output}");
        assert_eq!(executed, 1, "the Outputs-only change set was not executed");
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

    /// AWS's answer for a resource removed from the template under
    /// `DeletionPolicy: Retain`: Remove with PolicyAction Retain
    /// (API reference, ResourceChange). CloudFormation leaves it in
    /// place, so the gate lets it through; a deleting removal, or a
    /// replacement that retains the old resource, is still refused.
    #[test]
    fn a_removal_cloudformation_retains_is_safe() {
        let with_policy = |mut c: Change, policy: &str| {
            c.policy_action = Some(policy.into());
            c
        };
        let changes = [
            with_policy(change("Remove", "OldVersion", None), "Retain"),
            with_policy(change("Remove", "Table", None), "Delete"),
            with_policy(change("Remove", "Volume", None), "Snapshot"),
            with_policy(change("Modify", "Bucket", Some("True")), "ReplaceAndRetain"),
        ];
        assert_eq!(
            unsafe_changes(&changes),
            vec![
                "Table (AWS::SQS::Queue): removed",
                "Volume (AWS::SQS::Queue): removed",
                "Bucket (AWS::SQS::Queue): replaced (the old one retained: UpdateReplacePolicy Retain)",
            ]
        );
        assert_eq!(changes[0].action_shown(), "Remove (retained)");
        assert_eq!(changes[1].action_shown(), "Remove");
    }
}
