//! The long poll on the events queue: receive up to ten messages, tell the
//! jobs, hand back at once what others may need, and delete what was used
//! in batches that gather over a few minutes (`held.rs`); one batch call
//! each (SQS API reference: ReceiveMessage, DeleteMessageBatch,
//! ChangeMessageVisibilityBatch).

use super::action::{self, StartFate};
use super::event::{Disposition, dispose, parse};
use super::held::{HeldDeletes, RECEIVE_VISIBILITY_SECONDS};
use crate::nudge::{Nudge, Nudges};
use crate::pickup::Pickup;
use aws_sdk_codepipeline::types::ActionTypeId;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A message handed back becomes visible again this many seconds later:
/// long enough that this worker's next poll does not take it straight
/// back, short enough that the worker following it hears soon.
const HAND_BACK_SECONDS: i32 = 2;
/// A failing queue (deleted, denied) is tried again this often.
const RETRY_AFTER: Duration = Duration::from_secs(60);
/// The longest the worker's stop waits for the deletes it holds.
const LAST_DELETES: Duration = Duration::from_secs(5);

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
    /// Receives, nudges and deletes until `shutdown`, then sends the
    /// deletes it holds. The first receive does not wait, so whether
    /// events flow is known at once; later ones long-poll 20 s (the most
    /// SQS allows).
    pub async fn run(self, shutdown: CancellationToken) {
        let mut held = HeldDeletes::default();
        self.receive_until(&shutdown, &mut held).await;
        // A stopping worker waits a few seconds at most for these: a
        // message not deleted comes back after its visibility timeout,
        // stale, and is dropped.
        let _ = tokio::time::timeout(LAST_DELETES, self.delete(&mut held, true)).await;
    }

    async fn receive_until(&self, shutdown: &CancellationToken, held: &mut HeldDeletes) {
        let mut wait_seconds = 0;
        loop {
            let received = tokio::select! {
                received = self
                    .sqs
                    .receive_message()
                    .queue_url(&self.url)
                    .wait_time_seconds(wait_seconds)
                    .visibility_timeout(RECEIVE_VISIBILITY_SECONDS)
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
                    self.handle(output.messages.unwrap_or_default(), held).await;
                    self.delete(held, false).await;
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

    /// Sends the deletes that are due (`all`: every one held).
    async fn delete(&self, held: &mut HeldDeletes, all: bool) {
        for batch in held.due(Instant::now(), all) {
            let entries = batch
                .into_iter()
                .enumerate()
                .map(|(i, receipt)| {
                    // Batch entry ids need only be unique within the batch.
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .build()
                        .expect("id and receipt handle are set")
                })
                .collect();
            // A failed delete is harmless: the message comes back after
            // its visibility timeout and is handled again (a nudge is
            // idempotent) or dropped as stale.
            if let Err(error) = self
                .sqs
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                tracing::debug!(error = %DisplayErrorContext(error), "could not delete events");
            }
        }
    }

    /// Tells the jobs and the poller; holds the deletes of the messages
    /// used, and hands back at once those another worker may need.
    async fn handle(&self, messages: Vec<Message>, held: &mut HeldDeletes) {
        let now_ms = (crate::base::clock::epoch_now() * 1000.0) as i64;
        let received_at = Instant::now();
        let mut hand_back = Vec::new();
        for (i, message) in messages.into_iter().enumerate() {
            let Some(receipt) = message.receipt_handle else {
                continue;
            };
            let receives = receives(message.attributes.as_ref());
            let body = message.body.unwrap_or_default();
            let fate = if action::is_action_event(&body) {
                self.on_action_event(&body, receives)
            } else {
                self.on_execution_event(&body, receives, now_ms)
            };
            match fate {
                Fate::Delete => held.hold(receipt, received_at),
                Fate::HandBack => hand_back.push(
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        // Batch entry ids need only be unique within the batch.
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .visibility_timeout(HAND_BACK_SECONDS)
                        .build()
                        .expect("id and receipt handle are set"),
                ),
            }
        }
        // A failed hand-back is harmless: the message comes back after its
        // visibility timeout.
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
fn receives(attributes: Option<&HashMap<MessageSystemAttributeName, String>>) -> u32 {
    attributes
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::action::tests::STARTED_EVENT;
    use crate::events::event::tests::SUCCEEDED;
    use aws_sdk_codepipeline::types::{ActionCategory, ActionOwner};
    use aws_sdk_sqs::Client;
    use aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchOutput;
    use aws_sdk_sqs::operation::receive_message::{ReceiveMessageError, ReceiveMessageOutput};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    fn received(receipt: &'static str, body: &'static str) -> aws_smithy_mocks::Rule {
        mock!(Client::receive_message).then_output(move || {
            ReceiveMessageOutput::builder()
                .messages(
                    Message::builder()
                        .receipt_handle(receipt)
                        .body(body)
                        .build(),
                )
                .build()
        })
    }

    /// A job's action start and its execution's end, received a while
    /// apart, are deleted in one call (issue 31: ≤ 8 calls a job): one
    /// DeleteMessageBatch for the two, sent as the worker stops at the
    /// latest. It used to be one call a message.
    #[tokio::test]
    async fn a_jobs_start_and_end_are_deleted_in_one_call() {
        let deleted = mock!(Client::delete_message_batch)
            .match_requests(|r| {
                let receipts: Vec<_> = r.entries().iter().map(|e| e.receipt_handle()).collect();
                receipts == ["start", "end"]
            })
            .then_output(|| {
                DeleteMessageBatchOutput::builder()
                    .set_successful(Some(Vec::new()))
                    .set_failed(Some(Vec::new()))
                    .build()
                    .expect("both lists are set")
            });
        let failing = mock!(Client::receive_message).then_error(|| {
            ReceiveMessageError::generic(ErrorMetadata::builder().code("Stopped").build())
        });
        let sqs = mock_client!(
            aws_sdk_sqs,
            RuleMode::Sequential,
            [
                &received("start", STARTED_EVENT),
                &received("end", SUCCEEDED),
                &failing,
                &deleted
            ]
        );
        let nudges = Nudges::default();
        let arn =
            "arn:aws:states:us-east-1:123456789012:execution:state-machine-name:execution-name";
        let _watch = nudges.watch(arn);
        let queue = EventsQueue {
            sqs,
            url: "https://sqs.us-east-1.amazonaws.com/123456789012/cpsf-events".into(),
            nudges,
            pickup: Pickup::default(),
            action_type: ActionTypeId::builder()
                .category(ActionCategory::Deploy)
                .owner(ActionOwner::Custom)
                .provider("StepFunctionsDeploy")
                .version("1")
                .build()
                .unwrap(),
        };
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            stop.cancel();
        });
        queue.run(shutdown).await;
        assert_eq!(deleted.num_calls(), 1, "one delete for both messages");
    }
}
