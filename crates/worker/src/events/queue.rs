//! The long poll on the events queue: receive up to ten messages, tell the
//! jobs, then delete what was used and hand back what others may need, one
//! batch call each (SQS API reference: ReceiveMessage, DeleteMessageBatch,
//! ChangeMessageVisibilityBatch).

use super::action::{self, StartFate};
use super::event::{Disposition, dispose, parse};
use crate::nudge::{Nudge, Nudges};
use crate::pickup::Pickup;
use aws_sdk_codepipeline::types::ActionTypeId;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName,
};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A message handed back becomes visible again this many seconds later:
/// long enough that this worker's next poll does not take it straight
/// back, short enough that the worker following it hears soon.
const HAND_BACK_SECONDS: i32 = 2;
/// A failing queue (deleted, denied) is tried again this often.
const RETRY_AFTER: Duration = Duration::from_secs(60);

pub struct EventsQueue {
    pub sqs: aws_sdk_sqs::Client,
    pub url: String,
    pub nudges: Nudges,
    /// The job poller's wake-up, for CodePipeline's action start events
    /// of `action_type` (`events/action.rs`).
    pub pickup: Pickup,
    pub action_type: ActionTypeId,
}

/// What becomes of a received message.
enum Fate {
    Delete,
    /// Visible again shortly, for another worker.
    HandBack,
}

impl EventsQueue {
    /// Receives, nudges and deletes until `shutdown`. The first receive
    /// does not wait, so whether events flow is known at once; later ones
    /// long-poll 20 s (the most SQS allows).
    pub async fn run(self, shutdown: CancellationToken) {
        let mut wait_seconds = 0;
        loop {
            let received = tokio::select! {
                received = self
                    .sqs
                    .receive_message()
                    .queue_url(&self.url)
                    .wait_time_seconds(wait_seconds)
                    .max_number_of_messages(10)
                    .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                    .send() => received,
                () = shutdown.cancelled() => return,
            };
            wait_seconds = 20;
            match received {
                Ok(output) => {
                    self.nudges.queue_answered(true);
                    self.pickup.queue_answered(true);
                    self.handle(output.messages.unwrap_or_default()).await;
                }
                Err(error) => {
                    self.nudges.queue_answered(false);
                    self.pickup.queue_answered(false);
                    tracing::warn!(
                        error = %DisplayErrorContext(error),
                        "could not read the events queue; jobs check and the poller polls at their own pace"
                    );
                    tokio::select! {
                        () = tokio::time::sleep(RETRY_AFTER) => {}
                        () = shutdown.cancelled() => return,
                    }
                }
            }
        }
    }

    async fn handle(&self, messages: Vec<Message>) {
        let now_ms = (crate::base::clock::epoch_now() * 1000.0) as i64;
        let mut delete = Vec::new();
        let mut hand_back = Vec::new();
        for (i, message) in messages.iter().enumerate() {
            let Some(receipt) = message.receipt_handle() else {
                continue;
            };
            let body = message.body().unwrap_or_default();
            let fate = if action::is_action_event(body) {
                self.on_action_event(body, receives(message))
            } else {
                self.on_execution_event(body, receives(message), now_ms)
            };
            // Batch entry ids need only be unique within the batch.
            let id = i.to_string();
            match fate {
                Fate::Delete => delete.push(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(id)
                        .receipt_handle(receipt)
                        .build()
                        .expect("id and receipt handle are set"),
                ),
                Fate::HandBack => hand_back.push(
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(id)
                        .receipt_handle(receipt)
                        .visibility_timeout(HAND_BACK_SECONDS)
                        .build()
                        .expect("id and receipt handle are set"),
                ),
            }
        }
        // A failed delete or hand-back is harmless: the message comes back
        // after the queue's visibility timeout and is handled again (a
        // nudge is idempotent).
        if !delete.is_empty()
            && let Err(error) = self
                .sqs
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(delete))
                .send()
                .await
        {
            tracing::debug!(error = %DisplayErrorContext(error), "could not delete events");
        }
        if !hand_back.is_empty()
            && let Err(error) = self
                .sqs
                .change_message_visibility_batch()
                .queue_url(&self.url)
                .set_entries(Some(hand_back))
                .send()
                .await
        {
            tracing::debug!(error = %DisplayErrorContext(error), "could not hand events back");
        }
    }
}

impl EventsQueue {
    /// Step Functions' execution end: nudge the job that follows it.
    fn on_execution_event(&self, body: &str, receives: u32, now_ms: i64) -> Fate {
        let event = parse(body);
        let followed = event
            .as_ref()
            .is_ok_and(|e| self.nudges.is_followed(&e.execution_arn));
        let disposition = dispose(&event, followed, receives, now_ms);
        if let (Ok(event), Disposition::Nudge | Disposition::NudgeAndLeave) = (event, disposition) {
            tracing::debug!(execution_arn = %event.execution_arn, status = ?event.status, "execution event");
            // Only ends get here (`dispose`): a wake-up, not a report.
            self.nudges.nudge(&event.execution_arn, Nudge::Ended);
        }
        match disposition {
            Disposition::Nudge | Disposition::Drop => Fate::Delete,
            Disposition::NudgeAndLeave => Fate::HandBack,
        }
    }

    /// CodePipeline's action start: wake the poller, which has room.
    fn on_action_event(&self, body: &str, receives: u32) -> Fate {
        let event = action::parse(body);
        let ours = event.as_ref().is_ok_and(|e| e.is_of(&self.action_type));
        match (
            action::dispose(&event, ours, self.pickup.room(), receives),
            event,
        ) {
            (StartFate::Poll, Ok(event)) => {
                tracing::debug!(pipeline = %event.key.pipeline, stage = %event.key.stage, action = %event.key.action, "action started");
                self.pickup.announce(event.key);
                Fate::Delete
            }
            (StartFate::Leave, _) => Fate::HandBack,
            _ => Fate::Delete,
        }
    }
}

/// How often the message was received, this time included.
fn receives(message: &Message) -> u32 {
    message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}
