//! Change sets, as update-stack and create-stack (for a template with a
//! Transform) use them: named from the execution, so a redelivered task
//! finds its own; executed, with the one ambiguous refusal of
//! ExecuteChangeSet sorted out; read as a list of changes. Making one from
//! a task's input and waiting on it is `tasks/own_change_set.rs`.

use super::stack;
use crate::activity::error::TaskError;
use crate::base::change::Change;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::types::{ChangeSetStatus, ExecutionStatus};

pub async fn exists(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    change_set: &str,
) -> Result<bool, TaskError> {
    match cfn
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

/// What a cpsf change set's Description says before the ARN of the
/// execution that made it (CreateChangeSet, Description: 1 to 1,024
/// characters; ListChangeSets returns it in each ChangeSetSummary, API
/// reference). CheckStack reads it to tell a change set another execution
/// still waits on from one a finished execution left (`check_stack.rs`).
const MADE_BY: &str = "cpsf deploy, execution ";

/// The Description of a change set execution `execution_arn` makes.
pub fn description(execution_arn: &str) -> String {
    format!("{MADE_BY}{execution_arn}")
}

/// The execution that made a change set with this Description, if cpsf did.
pub fn made_by(description: Option<&str>) -> Option<&str> {
    description?
        .strip_prefix(MADE_BY)
        .filter(|arn| arn.starts_with("arn:"))
}

/// The steps whose tokens name cpsf's change sets ([`TaskInput::token`]):
/// UpdateStack's, and CreateStack's for a template with a Transform.
///
/// [`TaskInput::token`]: crate::activity::input::TaskInput::token
pub const UPDATE: &str = "changes";
pub const CREATE: &str = "create";

/// The name kind of a canary's step (`tasks/canary_step.rs`): `c1`, `c2`,
/// …, `cfinal` (the template as given), `cback` (the roll-back); under
/// [`UPDATE`], so the roles' `cpsf-changes-*` allows executing it.
pub fn canary_step(step: &str) -> String {
    format!("{UPDATE}-{step}")
}

/// Every name kind a deploy's change sets take: [`UPDATE`], [`CREATE`]
/// and each canary step's.
fn kinds() -> Vec<String> {
    let mut kinds = vec![UPDATE.to_string(), CREATE.to_string()];
    kinds.extend((1..=crate::canary::spec::MAX_STEPS).map(|n| canary_step(&format!("c{n}"))));
    kinds.extend(["cfinal", "cback"].map(canary_step));
    kinds
}

/// Why a change set is refused by [`ours`].
pub const NOT_OURS: &str = "Cpsf.ChangeSetNotOurs";

/// A change set this deploy made, as [`ours`] found it: the only kind
/// [`execute`] runs.
#[derive(Debug, Clone, Copy)]
pub struct Ours<'a> {
    name: &'a str,
}

/// The executions whose change sets `execution_arn` may execute: its own,
/// and, for a rollout target's apply execution (`targets::rollout::
/// apply_name`), the plan execution of the same target and rollout, which
/// made the change set the wave's decision approved
/// (`tasks/gather_wave.rs`).
fn makers(execution_arn: &str) -> Vec<String> {
    let mut makers = vec![execution_arn.to_string()];
    if let Some((machine, name)) = execution_arn.rsplit_once(':')
        && let Some(plan) = crate::targets::rollout::plan_of_apply(name)
    {
        makers.push(format!("{machine}:{plan}"));
    }
    makers
}

/// Whether the change set `change_set` of stack `stack`, as described, is
/// one this deploy (the execution `execution_arn`) made, and so one it may
/// execute (issue 27, item 4).
///
/// Why: ExecuteChangeSet runs with the CloudFormation service role the
/// change set names, and the worker executes what a task's input names:
/// without this check a change set someone else made (with
/// cloudformation:CreateChangeSet but no right to execute, e.g. for
/// review) would run with that role once its name reached a task's input.
/// So the name must be the one cpsf derives from the execution for
/// UpdateStack or CreateStack ([`UPDATE`], [`CREATE`]) or a canary's
/// step ([`canary_step`]): that is what
/// enforces it, here and in IAM (the worker and target roles may
/// ExecuteChangeSet only under these names: `cloudformation:ChangeSetName`,
/// bootstrap/). And a Description, which cpsf writes at CreateChangeSet
/// ([`description`]) and AWS returns (API reference, DescribeChangeSet),
/// must name the same execution: a change set under a cpsf name that says
/// it is someone else's (made before cpsf got to that name) is refused.
/// One with no Description at all passes on its name: fakecloud 0.51.0
/// keeps no Description (docs/emulators.md), and a Description proves no
/// more than the name does, since whoever may CreateChangeSet writes both.
///
/// What this does not prove: who made the change set. The execution ARN
/// comes from the task's input, which a state machine calling cpsf's
/// activities writes as it likes (activities need no IAM on the caller),
/// and anyone who may CreateChangeSet can copy a name and Description. So
/// this keeps the worker from executing change sets it did not mean to;
/// who may make change sets on the deployed stacks, and who may run state
/// machines, is the account's IAM (README, "Security").
pub fn ours<'a>(
    execution_arn: &str,
    stack: &str,
    change_set: &'a str,
    described: &DescribeChangeSetOutput,
) -> Result<Ours<'a>, TaskError> {
    let makers = makers(execution_arn);
    let kinds = kinds();
    let named = makers.iter().any(|maker| {
        kinds
            .iter()
            .any(|step| crate::activity::input::token_for(maker, step) == change_set)
    });
    let description = described.description().filter(|d| !d.is_empty());
    let described_ours = description
        .is_none_or(|d| made_by(Some(d)).is_some_and(|by| makers.iter().any(|m| m == by)));
    if named && described_ours {
        return Ok(Ours { name: change_set });
    }
    Err(TaskError::new(
        NOT_OURS,
        format!(
            "change set {change_set} of stack {stack} was not made by this deploy (execution \
             {execution_arn}): {}; cpsf executes only a change set its own execution made, so \
             it was not executed",
            match (named, description) {
                (true, Some(d)) => format!("its Description says \"{d}\""),
                _ => "its name is not one this execution gives".to_string(),
            }
        ),
    ))
}

/// Whether an earlier delivery of the task already executed it.
pub fn executed(described: &DescribeChangeSetOutput) -> bool {
    matches!(
        described.execution_status(),
        Some(ExecutionStatus::ExecuteInProgress | ExecutionStatus::ExecuteComplete)
    )
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
pub async fn execute(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    change_set: Ours<'_>,
    token: String,
) -> Result<(), TaskError> {
    let change_set = change_set.name;
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

pub fn changes_of(described: &DescribeChangeSetOutput) -> Vec<Change> {
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
            causes: r.details().iter().filter_map(cause_of).collect(),
            policy_action: r.policy_action().map(|p| p.as_str().to_string()),
        })
        .collect()
}

/// One detail of a resource change in words, from its target and cause
/// (API reference, ResourceChangeDetail and ResourceTargetDefinition); its
/// before and after values are left out.
fn cause_of(detail: &aws_sdk_cloudformation::types::ResourceChangeDetail) -> Option<String> {
    use aws_sdk_cloudformation::types::RequiresRecreation;
    let target = detail.target()?;
    let mut said = target.attribute()?.as_str().to_string();
    if let Some(name) = target.name() {
        said.push_str(&format!(".{name}"));
    }
    match target.requires_recreation() {
        Some(RequiresRecreation::Always) => said.push_str(" (requires replacement)"),
        Some(RequiresRecreation::Conditionally) => said.push_str(" (may require replacement)"),
        _ => {}
    }
    if let (Some(source), Some(entity)) = (detail.change_source(), detail.causing_entity()) {
        let source = match source.as_str() {
            "ParameterReference" => "parameter",
            "ResourceReference" => "resource",
            "ResourceAttribute" => "attribute",
            other => other,
        };
        said.push_str(&format!(", from {source} {entity}"));
    }
    Some(said)
}

/// Whether CloudFormation found nothing to do: only a FAILED change set
/// whose reason says it "didn't contain changes" (CloudFormation user
/// guide, "Update stacks using change sets"; "No updates are to be
/// performed" is UpdateStack's wording of the same).
///
/// A change set that is CREATE_COMPLETE with no resource changes is not
/// "nothing to do": AWS makes one when only the Outputs, a parameter no
/// resource uses, or the tags of a stack with no taggable resource change,
/// and executing it is what applies them (aws/aws-cdk#2029). fakecloud
/// answers a true no-op the same way; executing that changes nothing, so
/// following AWS costs fakecloud one stack operation, never a lost update.
pub fn no_changes(described: &DescribeChangeSetOutput) -> bool {
    described.status() == Some(&ChangeSetStatus::Failed)
        && described.status_reason().is_some_and(|r| {
            r.contains("didn't contain changes") || r.contains("No updates are to be performed")
        })
}

/// Deletes a change set that will not be executed. Best effort: a leftover
/// change set is clutter, not harm.
pub async fn discard(cfn: &aws_sdk_cloudformation::Client, stack: &str, change_set: &str) {
    let deleted = cfn
        .delete_change_set()
        .stack_name(stack)
        .change_set_name(change_set)
        .send()
        .await;
    if let Err(error) = deleted {
        tracing::debug!(%change_set, error = %error.into_service_error(), "could not delete the change set");
    }
}

/// A change as tests write one: an SQS queue's.
#[cfg(test)]
pub(crate) fn test_change(action: &str, id: &str, replacement: Option<&str>) -> Change {
    Change {
        action: action.into(),
        logical_id: id.into(),
        resource_type: "AWS::SQS::Queue".into(),
        replacement: replacement.map(str::to_string),
        causes: Vec::new(),
        policy_action: None,
    }
}

#[cfg(test)]
mod tests {
    /// Which change sets an execution may execute (issue 27, item 4).
    mod ours {
        use super::super::*;
        use crate::activity::input::token_for;
        use crate::targets::rollout::{apply_name, execution_name};

        const RUN: &str = "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:run-1";

        fn described(description: Option<&str>) -> DescribeChangeSetOutput {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateComplete)
                .set_description(description.map(str::to_string))
                .build()
        }

        fn refusal(execution: &str, name: &str, description: Option<&str>) -> String {
            let error = ours(execution, "app", name, &described(description)).unwrap_err();
            assert_eq!(error.name, NOT_OURS);
            error.cause
        }

        #[test]
        fn an_executions_own_change_sets_are_its_to_execute() {
            for step in [UPDATE, CREATE] {
                let name = token_for(RUN, step);
                let found = ours(RUN, "app", &name, &described(Some(&description(RUN))));
                assert_eq!(found.unwrap().name, name);
            }
        }

        /// A change set a person (or another tool) made, whose name reached
        /// the task's input: refused, whatever it says of itself.
        #[test]
        fn a_change_set_named_otherwise_is_refused() {
            let cause = refusal(RUN, "review-1", Some(&description(RUN)));
            assert_eq!(
                cause,
                "change set review-1 of stack app was not made by this deploy (execution \
                 arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:run-1): its name \
                 is not one this execution gives; cpsf executes only a change set its own \
                 execution made, so it was not executed"
            );
            // Another execution's change set, however described.
            let other = RUN.replace("run-1", "run-2");
            refusal(RUN, &token_for(&other, UPDATE), Some(&description(&other)));
            refusal(RUN, &token_for(&other, UPDATE), Some(&description(RUN)));
        }

        /// Someone made a change set under the name cpsf would give before
        /// cpsf did: its Description is not cpsf's for this execution.
        #[test]
        fn a_change_set_under_our_name_made_by_someone_else_is_refused() {
            let name = token_for(RUN, UPDATE);
            let cause = refusal(RUN, &name, Some("hotfix by ops"));
            assert!(
                cause.contains("its Description says \"hotfix by ops\""),
                "{cause}"
            );
            let other = RUN.replace("run-1", "run-2");
            refusal(RUN, &name, Some(&description(&other)));
        }

        /// No Description at all (fakecloud keeps none): the name decides;
        /// another execution's name is refused all the same.
        #[test]
        fn without_a_description_the_name_decides() {
            assert!(ours(RUN, "app", &token_for(RUN, UPDATE), &described(None)).is_ok());
            assert!(ours(RUN, "app", &token_for(RUN, CREATE), &described(Some(""))).is_ok());
            let other = RUN.replace("run-1", "run-2");
            refusal(RUN, &token_for(&other, UPDATE), None);
            refusal(RUN, "review-1", None);
        }

        /// A rollout target's apply execution executes the change set its
        /// plan execution (same target, same rollout) made and the wave's
        /// decision approved; another target's, or another rollout's, no.
        #[test]
        fn an_apply_execution_executes_its_plan_executions_change_set() {
            let rollout = "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:rollout-1";
            let child = |name: String| {
                format!("arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:{name}")
            };
            let plan = child(execution_name("prod", rollout));
            let apply = child(apply_name("prod", rollout));
            let made = token_for(&plan, UPDATE);
            assert!(ours(&apply, "app", &made, &described(Some(&description(&plan)))).is_ok());
            let other_target = child(execution_name("test", rollout));
            refusal(
                &apply,
                &token_for(&other_target, UPDATE),
                Some(&description(&other_target)),
            );
            let other_rollout = child(execution_name(
                "prod",
                &rollout.replace("rollout-1", "rollout-2"),
            ));
            refusal(
                &apply,
                &token_for(&other_rollout, UPDATE),
                Some(&description(&other_rollout)),
            );
            // A plan execution never executes (it stops at the plan), and
            // is not another execution's apply.
            refusal(
                &plan,
                &token_for(&apply, UPDATE),
                Some(&description(&apply)),
            );
        }
    }

    mod no_changes {
        use super::super::*;

        fn change_set(status: ChangeSetStatus, reason: Option<&str>) -> DescribeChangeSetOutput {
            let failed = status == ChangeSetStatus::Failed;
            DescribeChangeSetOutput::builder()
                .status(status)
                .set_status_reason(reason.map(str::to_string))
                .execution_status(if failed {
                    ExecutionStatus::Unavailable
                } else {
                    ExecutionStatus::Available
                })
                .build()
        }

        /// AWS's answer for a change set that changes nothing.
        #[test]
        fn a_failed_change_set_that_contained_no_changes_is_nothing_to_do() {
            let empty = change_set(
                ChangeSetStatus::Failed,
                Some(
                    "The submitted information didn't contain changes. Submit different \
                     information to create a change set.",
                ),
            );
            assert!(no_changes(&empty));
        }

        /// AWS's answer for an update that changes only the Outputs (or
        /// an unused parameter, or tags no resource carries): an executable
        /// change set with no resource changes (aws/aws-cdk#2029). It must
        /// be executed, or the new Outputs are never applied.
        #[test]
        fn an_executable_change_set_without_resource_changes_is_applied() {
            let outputs_only = change_set(ChangeSetStatus::CreateComplete, None);
            assert!(outputs_only.changes().is_empty());
            assert!(!no_changes(&outputs_only));
        }

        #[test]
        fn a_change_set_failed_for_another_reason_is_not_taken_for_no_changes() {
            let broken = change_set(
                ChangeSetStatus::Failed,
                Some("Template format error: Unresolved resource dependencies [Missing]"),
            );
            assert!(!no_changes(&broken));
        }
    }

    mod refused_execute {
        use super::super::*;
        use aws_sdk_cloudformation::Client;
        use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
        use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetError;
        use aws_sdk_cloudformation::types::StackStatus;
        use aws_sdk_cloudformation::types::error::InvalidChangeSetStatusException;
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

        async fn execute_with(rules: &[&aws_smithy_mocks::Rule]) -> Result<(), TaskError> {
            let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, rules);
            execute(
                &cfn,
                "app",
                Ours {
                    name: "cpsf-changes-1",
                },
                "token".into(),
            )
            .await
        }

        #[tokio::test]
        async fn our_change_set_already_executing_is_ours() {
            let (refused, ours, stack) = (
                refused(),
                our_change_set(ExecutionStatus::ExecuteInProgress),
                crate::tasks::stack_is(StackStatus::UpdateInProgress),
            );
            assert_eq!(execute_with(&[&refused, &ours, &stack]).await, Ok(()));
        }

        #[tokio::test]
        async fn another_update_in_progress_is_named_not_taken_for_ours() {
            let (refused, ours, stack) = (
                refused(),
                our_change_set(ExecutionStatus::Available),
                crate::tasks::stack_is(StackStatus::UpdateInProgress),
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
}
