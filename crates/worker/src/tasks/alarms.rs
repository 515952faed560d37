//! DescribeAlarms, as the bake reads the alarms it watches and as
//! `rollback.rs` finds the ones that become rollback triggers: metric and
//! composite alarms, once for the exact names and once for the prefix (the
//! API takes one or the other; CloudWatch API reference, DescribeAlarms).

use crate::activity::error::TaskError;
use aws_sdk_cloudwatch::types::AlarmType;

/// One alarm found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub name: String,
    pub arn: String,
    pub composite: bool,
    pub state_value: String,
    pub state_reason: String,
}

/// The alarms called `names` or starting with `prefix`, through
/// `cloudwatch`; `place` names where, in an error.
pub async fn describe(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    names: &[String],
    prefix: Option<&str>,
    place: &str,
) -> Result<Vec<Found>, TaskError> {
    let mut asks = Vec::new();
    // DescribeAlarms takes up to 100 names.
    for names in names.chunks(100) {
        asks.push(
            cloudwatch
                .describe_alarms()
                .set_alarm_names(Some(names.to_vec())),
        );
    }
    if let Some(prefix) = prefix {
        asks.push(cloudwatch.describe_alarms().alarm_name_prefix(prefix));
    }
    let mut found = Vec::new();
    for ask in asks {
        let mut pages = ask
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                let class = crate::sfn::class_of(&e);
                let cause = format!(
                    "DescribeAlarms in {place}: {}",
                    aws_sdk_cloudwatch::error::DisplayErrorContext(&e)
                );
                match class {
                    crate::sfn::ErrorClass::Transient => TaskError::unavailable(cause),
                    _ => TaskError::new("Cpsf.Denied", cause),
                }
            })?;
            let one = |name: Option<&str>,
                       arn: Option<&str>,
                       composite: bool,
                       value: Option<&str>,
                       reason: Option<&str>| Found {
                name: name.unwrap_or_default().to_string(),
                arn: arn.unwrap_or_default().to_string(),
                composite,
                state_value: value.unwrap_or_default().to_string(),
                state_reason: reason.unwrap_or_default().to_string(),
            };
            found.extend(page.metric_alarms().iter().map(|a| {
                one(
                    a.alarm_name(),
                    a.alarm_arn(),
                    false,
                    a.state_value().map(|v| v.as_str()),
                    a.state_reason(),
                )
            }));
            found.extend(page.composite_alarms().iter().map(|a| {
                one(
                    a.alarm_name(),
                    a.alarm_arn(),
                    true,
                    a.state_value().map(|v| v.as_str()),
                    a.state_reason(),
                )
            }));
        }
    }
    Ok(found)
}
