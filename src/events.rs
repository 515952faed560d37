//! Step Functions' own notice that an execution ended: the "Step Functions
//! Execution Status Change" events (source `aws.states`) that EventBridge
//! delivers, through a rule, to an SQS queue the worker long-polls
//! (`--events-queue`). Step Functions developer guide, "Automating Step
//! Functions event delivery with EventBridge".
//!
//! An event is a hint, never the truth: it wakes the job following that
//! execution in this process (`nudge.rs`), and the job checks the execution
//! itself as it always does. So a lost, late, duplicated or out-of-order
//! event changes when a job looks, never what it reports; with the queue
//! gone the paced checks carry on alone.
//!
//! Several workers share one queue. A message for an execution this worker
//! follows is acted on and deleted. One for an execution nobody here
//! follows is left alone: its visibility timeout hands it to another
//! worker's poll, which may follow it. A message that has come back too
//! often, or an event older than [`STALE_AFTER`], is deleted: whoever
//! follows that execution has checked it by its own pace since.

use crate::nudge::Nudges;
use serde::Deserialize;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// An event this old is of no use to anyone: delete it.
pub const STALE_AFTER: Duration = Duration::from_secs(300);
/// A message received this often, and followed by nobody who received
/// it, is dropped.
pub const MAX_RECEIVES: u32 = 5;

/// What the worker reads of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionEvent {
    pub execution_arn: String,
    pub status: String,
    /// When the event was emitted (epoch milliseconds), if it says.
    pub at_ms: Option<i64>,
}

#[derive(Deserialize)]
struct Envelope {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    detail: Detail,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    execution_arn: String,
    status: String,
    stop_date: Option<i64>,
    start_date: Option<i64>,
}

/// Reads an EventBridge event as SQS delivers it (the event itself is the
/// message body). Anything else is not an execution status change.
pub fn parse(body: &str) -> Result<ExecutionEvent, String> {
    let envelope: Envelope =
        serde_json::from_str(body).map_err(|e| format!("not an EventBridge event: {e}"))?;
    if envelope.source != "aws.states"
        || envelope.detail_type != "Step Functions Execution Status Change"
    {
        return Err(format!(
            "not an execution status change: {} / {}",
            envelope.source, envelope.detail_type
        ));
    }
    Ok(ExecutionEvent {
        execution_arn: envelope.detail.execution_arn,
        status: envelope.detail.status,
        at_ms: envelope.detail.stop_date.or(envelope.detail.start_date),
    })
}

/// What to do with one received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Wake the job following it here, and delete the message.
    Nudge,
    /// Leave it for another worker (its visibility timeout returns it).
    Leave,
    /// Delete it: unreadable, stale, or nobody who saw it follows it.
    Drop,
}

/// Decides a message's fate (pure): `followed` says whether a job of this
/// process follows the execution, `receives` how often the message was
/// received, `now_ms` the time.
pub fn dispose(
    event: &Result<ExecutionEvent, String>,
    followed: bool,
    receives: u32,
    now_ms: i64,
) -> Disposition {
    let Ok(event) = event else {
        return Disposition::Drop;
    };
    if followed {
        return Disposition::Nudge;
    }
    let stale = event
        .at_ms
        .is_some_and(|at| now_ms - at > STALE_AFTER.as_millis() as i64);
    if stale || receives >= MAX_RECEIVES {
        Disposition::Drop
    } else {
        Disposition::Leave
    }
}

/// The long poll on the events queue.
pub struct EventsQueue {
    pub sqs: aws_sdk_sqs::Client,
    pub url: String,
    pub nudges: Nudges,
}

impl EventsQueue {
    /// Receives, nudges and deletes until `shutdown`. A failing queue (gone,
    /// denied) is retried every minute; the jobs keep their own pace.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let received = tokio::select! {
                received = self
                    .sqs
                    .receive_message()
                    .queue_url(&self.url)
                    .wait_time_seconds(20)
                    .max_number_of_messages(10)
                    .message_system_attribute_names(
                        aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
                    )
                    .send() => received,
                () = shutdown.cancelled() => return,
            };
            let messages = match received {
                Ok(output) => output.messages.unwrap_or_default(),
                Err(error) => {
                    tracing::warn!(
                        error = %aws_sdk_sqs::error::DisplayErrorContext(error),
                        "could not read the events queue; jobs keep checking at their own pace"
                    );
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(60)) => continue,
                        () = shutdown.cancelled() => return,
                    }
                }
            };
            for message in messages {
                self.handle(message).await;
            }
        }
    }

    async fn handle(&self, message: aws_sdk_sqs::types::Message) {
        let event = parse(message.body().unwrap_or_default());
        let followed = event
            .as_ref()
            .is_ok_and(|e| self.nudges.is_followed(&e.execution_arn));
        let receives = message
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let now_ms = (crate::tasks::epoch_now() * 1000.0) as i64;
        match dispose(&event, followed, receives, now_ms) {
            Disposition::Nudge => {
                if let Ok(event) = &event {
                    tracing::debug!(execution_arn = %event.execution_arn, status = %event.status, "execution event");
                    self.nudges.nudge(&event.execution_arn);
                }
                self.delete(&message).await;
            }
            Disposition::Drop => self.delete(&message).await,
            Disposition::Leave => {}
        }
    }

    async fn delete(&self, message: &aws_sdk_sqs::types::Message) {
        let Some(receipt) = message.receipt_handle() else {
            return;
        };
        if let Err(error) = self
            .sqs
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
        {
            // Harmless: it comes back and is handled again (a nudge is idempotent).
            tracing::debug!(error = %aws_sdk_sqs::error::DisplayErrorContext(error), "could not delete an event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The event as the Step Functions developer guide shows it.
    const SUCCEEDED: &str = r#"{
      "version": "0", "id": "315c1398-40ff-a850-213b-158f73e60175",
      "detail-type": "Step Functions Execution Status Change", "source": "aws.states",
      "account": "123456789012", "time": "2019-02-26T19:42:21Z", "region": "us-east-1",
      "resources": ["arn:aws:states:us-east-1:123456789012:execution:state-machine-name:execution-name"],
      "detail": {
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:state-machine-name:execution-name",
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:state-machine",
        "name": "execution-name", "status": "SUCCEEDED",
        "startDate": 1551225014968, "stopDate": 1551225017576,
        "input": "{}", "output": "\"Hello World!\"",
        "inputDetails": {"included": true}, "outputDetails": {"included": true}
      }
    }"#;

    #[test]
    fn an_execution_status_change_names_its_execution_and_status() {
        let event = parse(SUCCEEDED).unwrap();
        assert_eq!(
            event.execution_arn,
            "arn:aws:states:us-east-1:123456789012:execution:state-machine-name:execution-name"
        );
        assert_eq!(event.status, "SUCCEEDED");
        assert_eq!(event.at_ms, Some(1551225017576));
        assert!(
            parse(r#"{"source": "aws.s3", "detail-type": "Object Created", "detail": {}}"#)
                .is_err()
        );
        assert!(parse("not json").is_err());
    }

    #[test]
    fn followed_here_nudges_else_left_for_others_until_stale_or_worn() {
        let event = parse(SUCCEEDED);
        let at = 1551225017576;
        assert_eq!(dispose(&event, true, 1, at), Disposition::Nudge);
        assert_eq!(dispose(&event, false, 1, at + 1_000), Disposition::Leave);
        assert_eq!(dispose(&event, false, 1, at + 301_000), Disposition::Drop);
        assert_eq!(dispose(&event, false, MAX_RECEIVES, at), Disposition::Drop);
        assert_eq!(dispose(&Err("junk".into()), true, 1, at), Disposition::Drop);
    }
}
