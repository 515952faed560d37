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
    let next = plan::next(&progress, baked.as_ref());
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
