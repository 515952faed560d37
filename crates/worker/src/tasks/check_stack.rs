//! check-stack: decides the operation from the stack's current status.

use super::TaskContext;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::cloudformation::change_set;
use crate::cloudformation::stack::{self, StackState};
use aws_sdk_cloudformation::types::{ChangeSetStatus, ChangeSetSummary, ExecutionStatus};
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, input: &TaskInput) -> Result<Value, TaskError> {
    // The first task: input that would fail later fails here, before any
    // change (every problem of `approval` at once).
    input.approval()?;
    let name = &input.deploy.stack_name;
    let found = stack::describe(&ctx.cfn, name).await?;
    let status = found
        .as_ref()
        .and_then(|s| s.stack_status())
        .map(|s| s.as_str().to_string());
    let in_use = match stack::classify(status.as_deref()) {
        StackState::Unexecuted => change_set_in_use(ctx, name).await?,
        _ => None,
    };
    let mut decided = decide(
        name,
        status.as_deref(),
        input.deploy.recreate_failed_stack,
        in_use.as_deref(),
    )?;
    if let Some(environment) = input.environment() {
        if let Some(stack) = found
            .as_ref()
            .filter(|_| status.as_deref() != Some("DELETE_COMPLETE"))
        {
            let stamp = crate::environments::tags::of_stack(stack);
            crate::environments::teardown::owned(&environment.name, name, stamp.as_ref())
                .map_err(|refused| TaskError::new(refused.error, refused.why))?;
        }
        // One clock for the deploy: every task stamps the same
        // `cpsf:deployed-at`, also when a task runs twice.
        decided["deployedAt"] = json!(crate::base::clock::epoch_now());
    }
    Ok(decided)
}

/// Why a REVIEW_IN_PROGRESS stack is another deploy's create under way,
/// not a leftover: one of its change sets is being created or executed,
/// or waits for a person's decision (RequestApproval) in an execution
/// that is still running. None: nothing uses it, and it may be deleted.
async fn change_set_in_use(ctx: &TaskContext, stack: &str) -> Result<Option<String>, TaskError> {
    let listed = ctx
        .cfn
        .list_change_sets()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| TaskError::from_sdk("ListChangeSets", e))?;
    for summary in listed.summaries() {
        let name = summary.change_set_name().unwrap_or("unnamed");
        match use_of(summary) {
            Use::Busy => {
                return Ok(Some(format!(
                    "its change set {name} is being created or executed"
                )));
            }
            Use::WaitsIfRunning(execution) if running(ctx, execution).await? => {
                return Ok(Some(format!(
                    "its change set {name} waits for approval in execution {execution}, \
                     which is still running"
                )));
            }
            Use::WaitsIfRunning(_) | Use::Unused => {}
        }
    }
    Ok(None)
}

/// What a change set of a REVIEW_IN_PROGRESS stack says about its use.
#[derive(Debug, PartialEq, Eq)]
pub enum Use<'a> {
    /// Being created or executed (CREATE_PENDING, CREATE_IN_PROGRESS,
    /// EXECUTE_IN_PROGRESS).
    Busy,
    /// Made and executable (CREATE_COMPLETE, AVAILABLE: "the change set
    /// is available to execute", API reference, ChangeSetSummary) by this
    /// cpsf execution, which may be waiting for a person's decision on it:
    /// in use while that execution runs.
    WaitsIfRunning(&'a str),
    /// Failed, obsolete, or made by no execution cpsf can ask about.
    Unused,
}

pub fn use_of(summary: &ChangeSetSummary) -> Use<'_> {
    let creating = matches!(
        summary.status(),
        Some(ChangeSetStatus::CreatePending | ChangeSetStatus::CreateInProgress)
    );
    if creating || summary.execution_status() == Some(&ExecutionStatus::ExecuteInProgress) {
        return Use::Busy;
    }
    let executable = summary.status() == Some(&ChangeSetStatus::CreateComplete)
        && summary.execution_status() == Some(&ExecutionStatus::Available);
    match change_set::made_by(summary.description()) {
        Some(execution) if executable => Use::WaitsIfRunning(execution),
        _ => Use::Unused,
    }
}

/// Whether execution `arn` still runs (or is about to run again: a
/// redrive): an ended or deleted one waits on nothing any more.
async fn running(ctx: &TaskContext, arn: &str) -> Result<bool, TaskError> {
    use crate::execution::ExecutionStatus::{PendingRedrive, Running};
    match ctx.sfn.describe(arn).await {
        Ok(described) => Ok(matches!(described.status, Running | PendingRedrive)),
        Err(crate::sfn::DescribeError::Gone(_)) => Ok(false),
        Err(crate::sfn::DescribeError::Other(why)) => Err(TaskError::unavailable(why)),
    }
}

/// `{"next": "create" | "update" | "recreate", "stackStatus": ...}`, or why
/// the stack cannot be deployed now. `change_set_in_use` says why a
/// REVIEW_IN_PROGRESS stack is in use ([`change_set_in_use`]).
pub fn decide(
    name: &str,
    status: Option<&str>,
    recreate_allowed: bool,
    change_set_in_use: Option<&str>,
) -> Result<Value, TaskError> {
    let next = match stack::classify(status) {
        StackState::Absent => "create",
        StackState::Stable => "update",
        StackState::FirstCreateFailed if recreate_allowed => "recreate",
        StackState::FirstCreateFailed => {
            return Err(TaskError::new(
                "Cpsf.StackNotRecoverable",
                format!(
                    "stack {name} is {}: its first create failed, and such a stack cannot be updated. \
                     Set \"recreateFailedStack\": true in the deploy input to delete and create it again, \
                     or delete it yourself",
                    status.unwrap_or_default()
                ),
            ));
        }
        StackState::Unexecuted => match change_set_in_use {
            Some(why) => {
                return Err(TaskError::new(
                    "Cpsf.StackBusy",
                    format!(
                        "stack {name} is REVIEW_IN_PROGRESS and {why}: another deploy is \
                         creating it"
                    ),
                ));
            }
            // Nothing to lose: it holds no resources. Deleted and created
            // without asking, and said so in the result.
            None => {
                return Ok(json!({
                    "next": "recreate",
                    "stackStatus": status,
                    "note": format!(
                        "stack {name} was REVIEW_IN_PROGRESS with no resources (a CREATE change \
                         set that was never executed): deleted, then created"
                    ),
                }));
            }
        },
        StackState::Busy => {
            return Err(TaskError::new(
                "Cpsf.StackBusy",
                format!(
                    "stack {name} is {}: another operation is running",
                    status.unwrap_or_default()
                ),
            ));
        }
        StackState::Broken => {
            return Err(TaskError::new(
                "Cpsf.StackNotRecoverable",
                format!(
                    "stack {name} is {}; fix it in the CloudFormation console (continue the rollback or delete it), then run the pipeline again",
                    status.unwrap_or_default()
                ),
            ));
        }
    };
    Ok(json!({"next": next, "stackStatus": status}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_the_operation_or_says_why_not() {
        let next = |status, allow| {
            decide("app", status, allow, None).map(|v| v["next"].as_str().unwrap().to_string())
        };
        assert_eq!(next(None, false).unwrap(), "create");
        assert_eq!(next(Some("UPDATE_COMPLETE"), false).unwrap(), "update");
        assert_eq!(next(Some("ROLLBACK_COMPLETE"), true).unwrap(), "recreate");
        let refused = next(Some("ROLLBACK_COMPLETE"), false).unwrap_err();
        assert_eq!(refused.name, "Cpsf.StackNotRecoverable");
        assert!(
            refused.cause.contains("\"recreateFailedStack\": true"),
            "{}",
            refused.cause
        );
        assert_eq!(
            next(Some("UPDATE_IN_PROGRESS"), false).unwrap_err().name,
            "Cpsf.StackBusy"
        );
        assert_eq!(
            next(Some("DELETE_FAILED"), true).unwrap_err().name,
            "Cpsf.StackNotRecoverable"
        );
    }

    /// A stack left by a CREATE change set never executed holds nothing:
    /// delete it and create, whatever recreateFailedStack says, and say so.
    #[test]
    fn an_unexecuted_change_sets_stack_is_recreated_unless_it_is_being_made() {
        let leftover = decide("app", Some("REVIEW_IN_PROGRESS"), false, None).unwrap();
        assert_eq!(leftover["next"], "recreate");
        assert!(
            leftover["note"]
                .as_str()
                .unwrap()
                .contains("never executed"),
            "{leftover}"
        );
        let busy = decide(
            "app",
            Some("REVIEW_IN_PROGRESS"),
            true,
            Some("its change set cpsf-create-9 is being created or executed"),
        )
        .unwrap_err();
        assert_eq!(busy.name, "Cpsf.StackBusy");
        assert!(busy.cause.contains("cpsf-create-9"), "{}", busy.cause);
    }

    /// A second deploy of a new stack while the first waits for approval
    /// (a pipeline in PARALLEL mode): CloudFormation lists the first's
    /// CREATE change set as CREATE_COMPLETE / AVAILABLE, with the
    /// Description cpsf gave it, and Step Functions says that execution is
    /// RUNNING. The stack is busy, not a leftover to delete; once that
    /// execution has ended (or is gone) it is a leftover again.
    #[tokio::test]
    async fn a_new_stacks_change_set_waiting_for_approval_is_in_use() {
        use aws_sdk_cloudformation::Client;
        use aws_sdk_cloudformation::operation::list_change_sets::ListChangeSetsOutput;
        use aws_sdk_cloudformation::types::StackStatus;
        use aws_sdk_sfn::operation::describe_execution::{
            DescribeExecutionError, DescribeExecutionOutput,
        };
        use aws_sdk_sfn::types::ExecutionStatus as Sfn;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        let first = "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:cpsf-demo-1";
        let waiting = mock!(Client::list_change_sets)
            .match_requests(|r| r.stack_name() == Some("cpsf-demo-app"))
            .then_output(move || {
                ListChangeSetsOutput::builder()
                    .summaries(
                        ChangeSetSummary::builder()
                            .change_set_name("cpsf-create-0123456789abcdef-cpsf-demo-1")
                            .status(ChangeSetStatus::CreateComplete)
                            .execution_status(ExecutionStatus::Available)
                            .description(change_set::description(first))
                            .build(),
                    )
                    .build()
            });
        let check = |status: Option<Sfn>| {
            let waiting = waiting.clone();
            async move {
                let review = crate::tasks::stack_is(StackStatus::ReviewInProgress);
                let cfn = mock_client!(
                    aws_sdk_cloudformation,
                    RuleMode::MatchAny,
                    [&review, &waiting]
                );
                let shown = status.clone();
                let described = mock!(aws_sdk_sfn::Client::describe_execution)
                    .match_requests(move |r| r.execution_arn() == Some(first))
                    .then_output(move || {
                        DescribeExecutionOutput::builder()
                            .execution_arn(first)
                            .state_machine_arn(
                                "arn:aws:states:us-east-1:123456789012:stateMachine:cpsf-deploy",
                            )
                            .status(shown.clone().unwrap_or(Sfn::Succeeded))
                            .start_date(aws_smithy_types::DateTime::from_secs(0))
                            .build()
                            .unwrap()
                    });
                let gone = mock!(aws_sdk_sfn::Client::describe_execution).then_error(|| {
                    DescribeExecutionError::ExecutionDoesNotExist(
                        aws_sdk_sfn::types::error::ExecutionDoesNotExist::builder().build(),
                    )
                });
                let sfn = match status {
                    Some(_) => mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&described]),
                    None => mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&gone]),
                };
                let mut ctx = crate::tasks::test_context(cfn, std::time::Duration::from_secs(60));
                ctx.sfn = crate::sfn::Sfn::new(sfn);
                let input = TaskInput::parse(include_str!(
                    "../../../../test_events/1-task-check-stack--new-stack--next-create.json"
                ))
                .unwrap();
                run(&ctx, &input).await
            }
        };
        let busy = check(Some(Sfn::Running)).await.unwrap_err();
        assert_eq!(busy.name, "Cpsf.StackBusy");
        assert!(
            busy.cause.contains("waits for approval in execution") && busy.cause.contains(first),
            "{}",
            busy.cause
        );
        for ended in [Some(Sfn::Aborted), Some(Sfn::TimedOut), None] {
            let leftover = check(ended.clone()).await.unwrap();
            assert_eq!(leftover["next"], "recreate", "{ended:?}: {leftover}");
        }
    }

    /// A change set says whether it is in use by its status, and by the
    /// execution its Description names when it is made and executable.
    #[test]
    fn a_change_sets_use_follows_its_status_and_maker() {
        let arn = "arn:aws:states:us-east-1:1:execution:m:e";
        let summary = |status, execution, description: Option<String>| {
            ChangeSetSummary::builder()
                .status(status)
                .execution_status(execution)
                .set_description(description)
                .build()
        };
        let ours = Some(change_set::description(arn));
        use ChangeSetStatus::*;
        use ExecutionStatus::*;
        for (status, execution, description, expected) in [
            (CreateInProgress, Unavailable, None, Use::Busy),
            (CreateComplete, ExecuteInProgress, ours.clone(), Use::Busy),
            (
                CreateComplete,
                Available,
                ours.clone(),
                Use::WaitsIfRunning(arn),
            ),
            (
                CreateComplete,
                Available,
                Some("made by hand".into()),
                Use::Unused,
            ),
            (CreateComplete, Available, None, Use::Unused),
            (Failed, Unavailable, ours.clone(), Use::Unused),
            (CreateComplete, Obsolete, ours.clone(), Use::Unused),
        ] {
            let summary = summary(status.clone(), execution.clone(), description);
            assert_eq!(use_of(&summary), expected, "{status:?} {execution:?}");
        }
    }
}
