//! canary-step: applies the canary's next step (`canary::plan::next`) as
//! a stack update through a change set: a share of the traffic on the new
//! version, the template as given, or the roll-back; and once the
//! roll-back is in place, fails the deploy saying why. WaitForStack waits
//! for each update, CanaryBake bakes after each share.
//!
//! Each step's change set is named from the execution and the step, so a
//! task handed out again (a killed worker) finds its own change set and
//! executes nothing twice.

use super::TaskContext;
use super::own_change_set;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::activity::lease::Lease;
use crate::canary::plan::{self, Baked, Next};
use crate::canary::template;
use crate::cloudformation::change_set;
use aws_sdk_cloudformation::types::{ChangeSetStatus, ChangeSetType};
use serde_json::Value;

/// The error a deploy fails with once an alarm rolled its canary back.
pub const ROLLED_BACK: &str = "Cpsf.CanaryRolledBack";

pub async fn run(ctx: &TaskContext, lease: &Lease, input: &TaskInput) -> Result<Value, TaskError> {
    let progress = super::canary::progress_of(input)?
        .ok_or_else(|| TaskError::input("CanaryStep ran for a deploy with no canary"))?;
    let baked: Option<Baked> = input
        .deploy
        .canary_bake
        .clone()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| TaskError::input(format!("the bake's result is not as expected: {e}")))?;
    let next = plan::next(&progress, baked.as_ref(), input.deploy.error.as_ref());
    let (step, weight) = match &next {
        Next::Fail { message } => return Err(TaskError::new(ROLLED_BACK, message.clone())),
        Next::Shift { step, weight } => (format!("c{step}"), Some(*weight)),
        Next::Final => ("cfinal".to_string(), None),
        Next::Rollback { .. } => ("cback".to_string(), None),
    };
    // Under cpsf's update name: the roles may execute only change sets
    // named so (bootstrap's ExecuteOnlyCpsfChangeSets).
    let kind = change_set::canary_step(&step);
    let name = &input.deploy.stack_name;
    let change_set = input.token(&kind);
    if !change_set::exists(&ctx.cfn, name, &change_set).await? {
        let given = ctx.templates.read_body(input).await?;
        let body = match &next {
            Next::Final => given,
            _ => {
                let parsed = template::parse(&given).map_err(TaskError::template)?;
                let site = template::find(&parsed, &progress.alias).map_err(TaskError::input)?;
                template::step_body(
                    &parsed,
                    &progress.alias,
                    &site,
                    &progress.old_version,
                    weight,
                )
            }
        };
        lease
            .confirm("creating the canary step's change set")
            .await?;
        own_change_set::create(ctx, input, &change_set, ChangeSetType::Update, body).await?;
    }
    let described = own_change_set::settle(ctx, name, &change_set).await?;
    if !change_set::executed(&described) {
        if change_set::no_changes(&described) {
            change_set::discard(&ctx.cfn, name, &change_set).await;
        } else if described.status() == Some(&ChangeSetStatus::Failed) {
            return Err(TaskError::template(format!(
                "the canary's {} change set failed: {}",
                step,
                described.status_reason().unwrap_or("no reason given")
            )));
        } else {
            lease
                .confirm("executing the canary step's change set")
                .await?;
            let ours = change_set::ours(&input.execution_arn, name, &change_set, &described)?;
            change_set::execute(
                &ctx.cfn,
                name,
                ours,
                input.token(&format!("execute-{step}")),
            )
            .await?;
        }
    }
    serde_json::to_value(progress.after(&next))
        .map_err(|e| TaskError::input(format!("the canary's progress cannot be written: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
    use aws_sdk_cloudformation::types::ExecutionStatus;
    use serde_json::json;

    const EXECUTION: &str = "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:run-1";

    /// CanaryStep's input after step 1 of [10, 50] baked: the next step is 2.
    fn after_step_one() -> TaskInput {
        let progress = json!({"alias": "Live", "aliasArn": "arn:aws:lambda:us-east-1:123456789012:function:f:live",
                              "oldVersion": "3", "steps": [10, 50], "bakeSeconds": 60,
                              "step": 1, "phase": "shift"});
        TaskInput::parse(
            &json!({"deploy": {"stackName": "app",
                               "canary": {"alias": "Live", "steps": [10, 50], "bakeMinutes": 1},
                               "canaryState": progress,
                               "canaryBake": {"since": "2026-12-07T07:00:00Z", "step": 1, "done": true}},
                    "executionArn": EXECUTION})
            .to_string(),
        )
        .unwrap()
    }

    /// Runs CanaryStep with step 2's change set described as `described`;
    /// the result, and how many change sets were made and executed.
    async fn step_with(
        described: DescribeChangeSetOutput,
    ) -> (Result<Value, TaskError>, usize, usize) {
        use aws_sdk_cloudformation::Client;
        use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
        use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        let found = mock!(Client::describe_change_set).then_output(move || described.clone());
        let made = mock!(Client::create_change_set)
            .then_output(|| CreateChangeSetOutput::builder().build());
        let executed = mock!(Client::execute_change_set)
            .then_output(|| ExecuteChangeSetOutput::builder().build());
        let cfn = mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            [&found, &made, &executed]
        );
        let ctx = crate::tasks::test_context(cfn, std::time::Duration::from_secs(60));
        let heartbeat = crate::activity::lease::tests::accepted();
        let lease = crate::activity::lease::tests::lease(&heartbeat);
        let result = run(&ctx, &lease, &after_step_one()).await;
        (result, made.num_calls(), executed.num_calls())
    }

    /// A worker killed after it executed step 2's change set and before it
    /// answered: the task, handed out again with the same input, finds
    /// that change set executed, makes and executes nothing, and hands on
    /// the same progress.
    #[tokio::test]
    async fn a_step_handed_out_again_after_it_ran_takes_nothing_twice() {
        let ran = DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::CreateComplete)
            .execution_status(ExecutionStatus::ExecuteComplete)
            .description(change_set::description(EXECUTION))
            .build();
        let (result, made, executed) = step_with(ran).await;
        let progress = result.unwrap();
        assert_eq!(progress["step"], 2, "{progress}");
        assert_eq!(progress["phase"], "shift");
        assert_eq!((made, executed), (0, 0));
    }

    /// Killed after making the change set, before executing it: executed
    /// once, under the step's own name.
    #[tokio::test]
    async fn a_step_handed_out_again_before_it_ran_executes_its_change_set_once() {
        let made_only = DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::CreateComplete)
            .execution_status(ExecutionStatus::Available)
            .description(change_set::description(EXECUTION))
            .build();
        let (result, made, executed) = step_with(made_only).await;
        assert_eq!(result.unwrap()["step"], 2);
        assert_eq!((made, executed), (0, 1));
    }

    /// After the roll-back is in place, the step fails naming why.
    #[tokio::test]
    async fn after_the_roll_back_the_deploy_fails_saying_why() {
        let mut input = after_step_one();
        input.deploy.canary_state =
            Some(json!({"alias": "Live", "aliasArn": "a", "oldVersion": "3",
            "steps": [10, 50], "bakeSeconds": 60, "step": 1, "phase": "rollback",
            "stopped": "during the bake of step 1/2 (10%), alarm 'api-errors' is in ALARM: x"}));
        let ctx = crate::tasks::test_context(
            aws_smithy_mocks::mock_client!(aws_sdk_cloudformation, []),
            std::time::Duration::from_secs(1),
        );
        let heartbeat = crate::activity::lease::tests::accepted();
        let lease = crate::activity::lease::tests::lease(&heartbeat);
        let error = run(&ctx, &lease, &input).await.unwrap_err();
        assert_eq!(error.name, ROLLED_BACK);
        assert!(
            error.cause.contains("alarm 'api-errors' is in ALARM"),
            "{}",
            error.cause
        );
    }
}
