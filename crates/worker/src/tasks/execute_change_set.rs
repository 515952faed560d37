//! execute-change-set: runs the change set a person approved
//! (RequestApproval's decision is in `$.decision`), with the same
//! execution token UpdateStack or CreateStack would have used, so a
//! redelivered task executes it once. Hands WaitForStack what it needs,
//! and the decision for the deploy's result.

use super::TaskContext;
use super::own_change_set;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::activity::lease::Lease;
use crate::cloudformation::change_set;
use aws_sdk_cloudformation::types::ChangeSetStatus;
use serde_json::{Value, json};

pub async fn run(ctx: &TaskContext, lease: &Lease, input: &TaskInput) -> Result<Value, TaskError> {
    let request = input
        .deploy
        .stack_operation
        .as_ref()
        .and_then(|o| o.approval.clone())
        .ok_or_else(|| {
            TaskError::input("ExecuteChangeSet ran with no approval request in $.stackOperation")
        })?;
    let name = &input.deploy.stack_name;
    let started_at = crate::base::clock::epoch_now();
    let described = own_change_set::settle(ctx, name, &request.change_set).await?;
    if described.status() != Some(&ChangeSetStatus::CreateComplete) {
        return Err(TaskError::new(
            "Cpsf.ChangeSetGone",
            format!(
                "the approved change set {} is {}: it cannot be executed (was it deleted, or \
                 did the stack change while it waited?); run the pipeline again",
                request.change_set,
                described.status().map_or("gone", |s| s.as_str())
            ),
        ));
    }
    if !change_set::executed(&described) {
        lease.confirm("executing the approved change set").await?;
        let ours = change_set::ours(&input.execution_arn, name, &request.change_set, &described)?;
        change_set::execute(&ctx.cfn, name, ours, input.token("execute")).await?;
    }
    let changes: Vec<Value> = change_set::changes_of(&described)
        .iter()
        .map(|c| json!(c))
        .collect();
    let mut output = json!({
        "changed": true,
        "changes": changes,
        "stackId": described.stack_id(),
        "startedAt": started_at,
        "decision": input.deploy.decision,
    });
    // Where the change set's parameters came from (CreateStack or
    // UpdateStack read them), on to WaitStack's result.
    if let Some(sources) = input
        .deploy
        .stack_operation
        .as_ref()
        .and_then(|o| o.resolved.clone())
    {
        output["resolved"] = sources;
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::input::token_for;
    use aws_sdk_cloudformation::Client;
    use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
    use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
    use aws_sdk_cloudformation::types::ExecutionStatus;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    const EXECUTION: &str = "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:run-1";

    /// Runs execute-change-set for the approved change set `change_set`,
    /// described as made with `description`; the result and how many times
    /// a change set was executed.
    async fn execute_approved(
        change_set: &str,
        description: &str,
    ) -> (Result<Value, TaskError>, usize) {
        let description = description.to_string();
        let described = mock!(Client::describe_change_set).then_output(move || {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateComplete)
                .execution_status(ExecutionStatus::Available)
                .description(description.clone())
                .build()
        });
        let executed = mock!(Client::execute_change_set)
            .then_output(|| ExecuteChangeSetOutput::builder().build());
        let cfn = mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            [&described, &executed]
        );
        let ctx = crate::tasks::test_context(cfn, std::time::Duration::from_secs(60));
        let heartbeat = crate::activity::lease::tests::accepted();
        let lease = crate::activity::lease::tests::lease(&heartbeat);
        let input = TaskInput::parse(
            &json!({
                "deploy": {
                    "stackName": "app",
                    "stackOperation": {"approval": {
                        "stackName": "app", "changeSet": change_set, "timeoutMinutes": 60
                    }},
                    "decision": {"approved": true, "by": "Ann"}
                },
                "executionArn": EXECUTION
            })
            .to_string(),
        )
        .unwrap();
        let result = run(&ctx, &lease, &input).await;
        (result, executed.num_calls())
    }

    #[tokio::test]
    async fn the_change_set_this_execution_made_is_executed() {
        let ours = token_for(EXECUTION, change_set::UPDATE);
        let (result, executed) = execute_approved(&ours, &change_set::description(EXECUTION)).await;
        assert_eq!(result.unwrap()["changed"], true);
        assert_eq!(executed, 1);
    }

    /// The task's input names a change set this execution did not make
    /// (issue 27, item 4): ExecuteChangeSet would run it with its
    /// CloudFormation service role, so it is refused and never executed.
    #[tokio::test]
    async fn a_change_set_this_execution_did_not_make_is_never_executed() {
        let ours = token_for(EXECUTION, change_set::UPDATE);
        for (name, description) in [
            ("reviewed-by-ops", change_set::description(EXECUTION)),
            (ours.as_str(), "made by hand".to_string()),
        ] {
            let (result, executed) = execute_approved(name, &description).await;
            let error = result.unwrap_err();
            assert_eq!(error.name, change_set::NOT_OURS, "{name}: {error}");
            assert!(error.cause.contains(name), "{error}");
            assert_eq!(executed, 0, "{name}");
        }
    }
}
