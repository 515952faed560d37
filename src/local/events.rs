//! The playground's execution events: an SQS queue fed by an EventBridge
//! rule matching Step Functions' "Execution Status Change" events, as the
//! bootstrap makes on AWS (Step Functions developer guide, "Automating Step
//! Functions event delivery with EventBridge"; EventBridge user guide,
//! "Permissions for Amazon SQS" for the queue policy). Its URL goes into
//! the env file as `CPSF_EVENTS_QUEUE`, which `cpsf worker` reads.

use anyhow::Context;
use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;

pub const NAME: &str = "cpsf-execution-events";

/// Creates the queue (SSE on, an hour's retention: a stale event helps
/// nobody) and the rule that feeds it; returns the queue's URL.
pub async fn install(sdk: &SdkConfig) -> anyhow::Result<String> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let url = sqs
        .create_queue()
        .queue_name(NAME)
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
        .name(NAME)
        .event_pattern(
            serde_json::json!({
                "source": ["aws.states"],
                "detail-type": ["Step Functions Execution Status Change"]
            })
            .to_string(),
        )
        .send()
        .await
        .context("could not create the execution events rule")?
        .rule_arn
        .unwrap_or_default();
    // Only this rule may send to the queue.
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}
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
        .rule(NAME)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(queue_arn)
                .build()?,
        )
        .send()
        .await
        .context("could not point the events rule at the queue")?;
    Ok(url)
}
