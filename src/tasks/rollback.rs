//! A rollout target's rollback triggers (`bake.rollback`; what and why in
//! `targets::rollback`): the bake's alarms where the target is, found with
//! DescribeAlarms through the target's own credentials, as the
//! RollbackConfiguration its CreateStack or CreateChangeSet carries.

use super::TaskContext;
use super::alarms::describe;
use super::error::TaskError;
use super::input::TaskInput;
use crate::targets::rollback::{FoundAlarm, choose};
use aws_sdk_cloudformation::types::{RollbackConfiguration, RollbackTrigger};

/// RollbackTrigger `Type` for each kind of alarm (API reference,
/// RollbackTrigger).
const METRIC_ALARM: &str = "AWS::CloudWatch::Alarm";
const COMPOSITE_ALARM: &str = "AWS::CloudWatch::CompositeAlarm";

/// The configuration for the input's stack operation, or None when its
/// deploy has no rollback triggers.
pub async fn configuration(
    ctx: &TaskContext,
    input: &TaskInput,
) -> Result<Option<RollbackConfiguration>, TaskError> {
    let Some(triggers) = &input.deploy.rollback_triggers else {
        return Ok(None);
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
