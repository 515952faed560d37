//! The long poll on the events queue: receive up to ten messages, tell the
//! jobs, then delete what was used and hand back what others may need, one
//! batch call each (SQS API reference: ReceiveMessage, DeleteMessageBatch,
//! ChangeMessageVisibilityBatch).

use super::event::{Disposition, dispose, parse};
use crate::nudge::{Nudge, Nudges};
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
                    self.handle(output.messages.unwrap_or_default()).await;
                }
                Err(error) => {
                    self.nudges.queue_answered(false);
                    tracing::warn!(
                        error = %DisplayErrorContext(error),
                        "could not read the events queue; jobs check at their own pace"
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
            let event = parse(message.body().unwrap_or_default());
            let followed = event
                .as_ref()
                .is_ok_and(|e| self.nudges.is_followed(&e.execution_arn));
            let disposition = dispose(&event, followed, receives(message), now_ms);
            if let (Ok(event), Disposition::Nudge | Disposition::NudgeAndLeave) =
                (event, disposition)
            {
                tracing::debug!(execution_arn = %event.execution_arn, status = ?event.status, "execution event");
                // Only ends get here (`dispose`): a wake-up, not a report.
                self.nudges.nudge(&event.execution_arn, Nudge::Ended);
            }
            // Batch entry ids need only be unique within the batch.
            let id = i.to_string();
            match disposition {
                Disposition::Nudge | Disposition::Drop => delete.push(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(id)
                        .receipt_handle(receipt)
                        .build()
                        .expect("id and receipt handle are set"),
                ),
                Disposition::NudgeAndLeave => hand_back.push(
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

/// How often the message was received, this time included.
fn receives(message: &Message) -> u32 {
    message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}
