//! The playground's execution events: an SQS queue fed by an EventBridge
//! rule matching Step Functions' "Execution Status Change" events, as the
//! bootstrap makes on AWS (Step Functions developer guide, "Automating Step
//! Functions event delivery with EventBridge"; EventBridge user guide,
//! "Permissions for Amazon SQS" for the queue policy). Its URL goes into
//! the env file as `CPSF_EVENTS_QUEUE`, which `cpsf worker` reads.
//!
//! A second rule, as the bootstrap's `ActionStartsRule`, feeds the same
//! queue the local CodePipeline service's action starts (issue 31). The
//! service puts them under the playground's own source, since EventBridge
//! takes `aws.` sources from AWS alone; the rule hands them on as AWS
//! delivers them (`codepipeline/events.rs` says how).

use crate::codepipeline::events::{PLAYGROUND_SOURCE, as_aws_delivers};
use anyhow::Context;
use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use cpsf_worker::events::action;
use cpsf_worker::events::event::END_STATUSES;

pub const NAME: &str = "cpsf-execution-events";

/// The action starts rule's pattern: starts of Custom Deploy actions of
/// `providers` (any, when none is named) from `source`. With
/// `aws.codepipeline`, the bootstrap's `ActionStartsRule`.
pub fn action_pattern(source: &str, providers: &[String]) -> serde_json::Value {
    let mut kind = serde_json::json!({ "owner": ["Custom"], "category": ["Deploy"] });
    if !providers.is_empty() {
        kind["provider"] = serde_json::json!(providers);
    }
    serde_json::json!({
        "source": [source],
        "detail-type": [action::DETAIL_TYPE],
        "detail": { "state": [action::STARTED], "type": kind },
    })
}

/// The rule's event pattern: ends of executions of `state_machines`, or of
/// any state machine when none is named.
pub fn event_pattern(state_machines: &[String]) -> serde_json::Value {
    let mut detail = serde_json::json!({ "status": END_STATUSES });
    if !state_machines.is_empty() {
        detail["stateMachineArn"] = serde_json::json!(state_machines);
    }
    serde_json::json!({
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": detail,
    })
}

/// Creates the queue `name` (SSE on, an hour's retention: a stale event
/// helps nobody), the rule of the same name that feeds it the ends of
/// `state_machines` (all, if none), and the rule `<name>-action-starts`
/// that feeds it the starts of actions of `providers` (any, if none);
/// returns the queue's URL.
pub async fn install(
    sdk: &SdkConfig,
    name: &str,
    state_machines: &[String],
    providers: &[String],
) -> anyhow::Result<String> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "true")
        .attributes(QueueAttributeName::MessageRetentionPeriod, "3600")
        .send()
        .await
        .context("could not create the execution events queue")?
        .queue_url
        .context("CreateQueue answered no URL")?;
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .context("could not read the events queue's ARN")?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .context("GetQueueAttributes answered no QueueArn")?;
    let events = aws_sdk_eventbridge::Client::new(sdk);
    let rule_arn = events
        .put_rule()
        .name(name)
        .event_pattern(event_pattern(state_machines).to_string())
        .send()
        .await
        .context("could not create the execution events rule")?
        .rule_arn
        .unwrap_or_default();
    let starts_name = format!("{name}-action-starts");
    let starts_arn = events
        .put_rule()
        .name(&starts_name)
        .event_pattern(action_pattern(PLAYGROUND_SOURCE, providers).to_string())
        .send()
        .await
        .context("could not create the action starts rule")?
        .rule_arn
        .unwrap_or_default();
    let rules = [rule_arn, starts_arn];
    // Only these rules may send to the queue, and everyone else is denied,
    // even principals of the account whose own policies allow it: the
    // worker reports an end from the event's detail (events/mod.rs).
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rules}}
        }, {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnNotEquals": {"aws:SourceArn": rules}}
        }]
    });
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .context("could not set the events queue's policy")?;
    events
        .put_targets()
        .rule(name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&queue_arn)
                .build()?,
        )
        .send()
        .await
        .context("could not point the events rule at the queue")?;
    let (paths, template) = as_aws_delivers();
    let transformer = aws_sdk_eventbridge::types::InputTransformer::builder()
        .set_input_paths_map(Some(
            paths
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
        .input_template(template)
        .build()?;
    events
        .put_targets()
        .rule(&starts_name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(queue_arn)
                .input_transformer(transformer)
                .build()?,
        )
        .send()
        .await
        .context("could not point the action starts rule at the queue")?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_sends_only_ends_of_the_machines_named() {
        let any = event_pattern(&[]);
        assert_eq!(any["source"][0], "aws.states");
        assert_eq!(any["detail"]["status"].as_array().unwrap().len(), 4);
        assert!(any["detail"].get("stateMachineArn").is_none());
        let one = event_pattern(&["arn:m".to_string()]);
        assert_eq!(one["detail"]["stateMachineArn"][0], "arn:m");
    }

    /// The playground's action rule is the bootstrap's but for the source.
    #[test]
    fn the_action_rule_sends_starts_of_custom_deploy_actions() {
        let aws = action_pattern("aws.codepipeline", &[]);
        assert_eq!(aws["detail"]["state"][0], "STARTED");
        assert_eq!(aws["detail"]["type"]["owner"][0], "Custom");
        assert!(aws["detail"]["type"].get("provider").is_none());
        let ours = action_pattern(PLAYGROUND_SOURCE, &["P".to_string()]);
        assert_eq!(ours["source"][0], PLAYGROUND_SOURCE);
        assert_eq!(ours["detail"]["type"]["provider"][0], "P");
        assert_eq!(ours["detail-type"], aws["detail-type"]);
    }

    /// The rule sends exactly the statuses a job takes for an end.
    #[test]
    fn the_end_statuses_are_the_terminal_ones() {
        use cpsf_worker::execution::ExecutionStatus;
        for status in END_STATUSES {
            assert!(ExecutionStatus::parse(status).is_terminal(), "{status}");
        }
        for status in ["RUNNING", "PENDING_REDRIVE"] {
            assert!(!ExecutionStatus::parse(status).is_terminal(), "{status}");
        }
    }
}
