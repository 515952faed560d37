//! A rollout target's rollback triggers (`bake.rollback`; what and why in
//! `targets::rollback`): the bake's alarms where the target is, found with
//! DescribeAlarms through the target's own credentials, as the
//! RollbackConfiguration its CreateStack or CreateChangeSet carries.

use super::TaskContext;
use super::alarms::describe;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::targets::rollback::{FoundAlarm, choose};
use aws_sdk_cloudformation::types::{RollbackConfiguration, RollbackTrigger};

/// RollbackTrigger `Type` for each kind of alarm (API reference,
/// RollbackTrigger).
const METRIC_ALARM: &str = "AWS::CloudWatch::Alarm";
const COMPOSITE_ALARM: &str = "AWS::CloudWatch::CompositeAlarm";

/// The configuration for the input's stack operation. A deploy with no
/// rollback triggers sends an empty list, never nothing: CloudFormation
/// keeps the triggers of the last operation that named some unless told
/// otherwise ("To remove all currently specified triggers, specify an
/// empty list for this parameter", API reference, RollbackConfiguration),
/// so a stack once deployed with `bake.rollback` would go on rolling back
/// on those alarms, or fail once one is deleted.
pub async fn configuration(
    ctx: &TaskContext,
    input: &TaskInput,
) -> Result<Option<RollbackConfiguration>, TaskError> {
    let Some(triggers) = &input.deploy.rollback_triggers else {
        return Ok(Some(build(0, &[])));
    };
    let (config, target, place) = match &input.deploy.target {
        Some(target) => {
            let place = target.place();
            let config = ctx.reach.config(target, &input.token(&target.name)).await?;
            (config, target.name.clone(), place)
        }
        None => (
            ctx.reach.base().clone(),
            input.deploy.stack_name.clone(),
            "the worker's region".to_string(),
        ),
    };
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    let found: Vec<FoundAlarm> = describe(
        &cloudwatch,
        &triggers.alarms,
        triggers.alarm_prefix.as_deref(),
        &place,
    )
    .await?
    .into_iter()
    .map(|a| FoundAlarm {
        name: a.name,
        arn: a.arn,
        composite: a.composite,
    })
    .collect();
    let chosen = choose(triggers, &found, &target, &place).map_err(TaskError::input)?;
    Ok(Some(build(triggers.monitoring_minutes, &chosen)))
}

/// The RollbackConfiguration of `chosen` alarms watched for `minutes`.
fn build(minutes: u32, chosen: &[&FoundAlarm]) -> RollbackConfiguration {
    let triggers = chosen.iter().map(|alarm| {
        let kind = if alarm.composite {
            COMPOSITE_ALARM
        } else {
            METRIC_ALARM
        };
        RollbackTrigger::builder()
            .arn(&alarm.arn)
            .r#type(kind)
            .build()
    });
    RollbackConfiguration::builder()
        .monitoring_time_in_minutes(i32::try_from(minutes).unwrap_or(0))
        .set_rollback_triggers(Some(triggers.collect()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deploy that asks for no triggers clears those an earlier deploy
    /// set: an empty list, which the Query protocol still sends
    /// (`RollbackConfiguration.RollbackTriggers=`).
    #[tokio::test]
    async fn a_deploy_without_triggers_clears_the_stacks_triggers() {
        let cfn = aws_smithy_mocks::mock_client!(
            aws_sdk_cloudformation,
            aws_smithy_mocks::RuleMode::MatchAny,
            []
        );
        let ctx = crate::tasks::test_context(cfn, std::time::Duration::from_secs(60));
        let input = TaskInput::parse(include_str!(
            "../../../../test_events/4-task-update-stack--greeting-changed--changes.json"
        ))
        .unwrap();
        let sent = configuration(&ctx, &input).await.unwrap();
        let sent = sent.expect("a RollbackConfiguration is sent");
        assert_eq!(sent.rollback_triggers, Some(Vec::new()));
        assert_eq!(sent.monitoring_time_in_minutes(), Some(0));
    }

    #[test]
    fn each_alarm_is_a_trigger_of_its_own_type() {
        let metric = FoundAlarm {
            name: "app-errors".into(),
            arn: "arn:aws:cloudwatch:eu-west-1:222222222222:alarm:app-errors".into(),
            composite: false,
        };
        let composite = FoundAlarm {
            name: "app-health".into(),
            arn: "arn:aws:cloudwatch:eu-west-1:222222222222:alarm:app-health".into(),
            composite: true,
        };
        let configuration = build(5, &[&metric, &composite]);
        assert_eq!(configuration.monitoring_time_in_minutes(), Some(5));
        let triggers: Vec<(Option<&str>, Option<&str>)> = configuration
            .rollback_triggers()
            .iter()
            .map(|t| (t.arn(), t.r#type()))
            .collect();
        assert_eq!(
            triggers,
            [
                (Some(metric.arn.as_str()), Some("AWS::CloudWatch::Alarm")),
                (
                    Some(composite.arn.as_str()),
                    Some("AWS::CloudWatch::CompositeAlarm")
                ),
            ]
        );
    }
}
