//! The approvals queue: each message is one RequestApproval, its request
//! and task token. The worker keeps it (`store.rs`), tells the request's
//! `notify` topic with a link, then deletes the message; a message not
//! deleted comes back after its visibility timeout, so a worker that dies
//! halfway leaves the request to the next. Between polls it sweeps the
//! store for approvals whose time is up and fails their tasks
//! ([`decision::TIMED_OUT`]): the state's own TimeoutSecondsPath does
//! that on AWS, and the sweep covers a state machine without it. It sweeps
//! when the earliest approval it knows of falls due (`sweep.rs`), not on
//! a clock: an idle worker reads the store every five minutes.

use super::ask::Request;
use super::decision::{self, Outcome};
use super::notice;
use super::service::{Approvals, now, when};
use super::store::{Decision, Record};
use super::sweep;
use aws_sdk_sqs::types::MessageSystemAttributeName as SystemAttribute;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// RequestApproval's MessageBody.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    task_token: String,
    execution_arn: String,
    request: Request,
}

pub struct Inbox {
    pub approvals: Arc<Approvals>,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

/// The record to keep for `message`, or None when an earlier delivery
/// already told the topic. A redelivered message (the worker stopped
/// between keeping the record and deleting the message) keeps the first
/// delivery's times: the approval's time runs from when it was first
/// requested, not from each redelivery. A record first kept on a later
/// delivery (the store or the topic refused the earlier ones) runs from
/// when RequestApproval sent the message, `sent_at` (its SentTimestamp,
/// which SQS keeps across deliveries and into the dead-letter queue:
/// Amazon SQS API reference, ReceiveMessage; developer guide, "Using
/// dead-letter queues"), as the state's own timeout does; `now` only when
/// SQS gave none, and never later than `now`.
fn record_of(
    id: String,
    message: Message,
    kept: Option<Record>,
    now: u64,
    sent_at: Option<u64>,
) -> Option<Record> {
    match kept {
        Some(record) if record.notified => None,
        Some(record) => Some(record),
        None => {
            let requested_at = sent_at.map_or(now, |sent| sent.min(now));
            Some(Record {
                id,
                execution_arn: message.execution_arn,
                task_token: message.task_token,
                expires_at: requested_at + u64::from(message.request.timeout_seconds),
                request: message.request,
                requested_at,
                notified: false,
            })
        }
    }
}

/// Whether to tell the topic about `record`: not once its time is up (a
/// request taken late, after tries that failed): its link would open an
/// expired page. It is kept all the same, so the sweep fails its task.
fn worth_telling(record: &Record, now: u64) -> bool {
    record.expires_at > now
}

/// A message attribute SQS gives as a number (SentTimestamp in epoch
/// milliseconds, ApproximateReceiveCount).
fn attribute(
    message: &aws_sdk_sqs::types::Message,
    name: aws_sdk_sqs::types::MessageSystemAttributeName,
) -> Option<u64> {
    message.attributes()?.get(&name)?.parse().ok()
}

impl Inbox {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut next_sweep = tokio::time::Instant::now();
        while !shutdown.is_cancelled() {
            if tokio::time::Instant::now() >= next_sweep {
                let earliest = self.sweep().await;
                next_sweep = tokio::time::Instant::now() + sweep::next_sweep(now(), earliest);
            }
            // SQS long-polls 20 s at most; a sweep due sooner cuts it short.
            let until_sweep = next_sweep.saturating_duration_since(tokio::time::Instant::now());
            let wait = until_sweep.as_secs().clamp(1, 20) as i32;
            let received = tokio::select! {
                () = shutdown.cancelled() => break,
                r = self.sqs.receive_message().queue_url(&self.queue_url)
                    .wait_time_seconds(wait).max_number_of_messages(10)
                    .message_system_attribute_names(SystemAttribute::SentTimestamp)
                    .message_system_attribute_names(SystemAttribute::ApproximateReceiveCount)
                    .send() => r,
            };
            let messages = match received {
                Ok(r) => r.messages.unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "could not read the approvals queue");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            for message in messages {
                let body = message.body().unwrap_or_default();
                let sent_at =
                    attribute(&message, SystemAttribute::SentTimestamp).map(|ms| ms / 1000);
                let kept = match serde_json::from_str::<Message>(body) {
                    Ok(parsed) => self.take(parsed, sent_at).await.map(|expiry| {
                        // Swept when it falls due, if that is sooner.
                        if let Some(at) = expiry {
                            let due = tokio::time::Instant::now()
                                + sweep::next_sweep(now(), Ok(Some(at)));
                            next_sweep = next_sweep.min(due);
                        }
                    }),
                    // Not RequestApproval's: nothing can ever answer it.
                    Err(e) => {
                        tracing::error!(error = %e, "an approvals queue message is not an approval request; deleting it");
                        Ok(())
                    }
                };
                match (kept, message.receipt_handle()) {
                    (Ok(()), Some(receipt)) => {
                        if let Err(e) = self
                            .sqs
                            .delete_message()
                            .queue_url(&self.queue_url)
                            .receipt_handle(receipt)
                            .send()
                            .await
                        {
                            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "could not delete an approval request");
                        }
                    }
                    (Err(e), _) => {
                        // After the queue's maxReceiveCount tries it goes to
                        // the dead-letter queue (bootstrap/cpsf.yaml).
                        let attempt = attribute(&message, SystemAttribute::ApproximateReceiveCount);
                        tracing::warn!(error = %e, attempt, "could not take an approval request; it comes back later")
                    }
                    (Ok(()), None) => {}
                }
            }
        }
    }

    /// Keeps the request and tells its topic, once; returns when the
    /// approval kept falls due, if one is.
    async fn take(&self, message: Message, sent_at: Option<u64>) -> anyhow::Result<Option<u64>> {
        let approvals = &self.approvals;
        let id = approvals.keys.id_of(&message.task_token);
        let kept = approvals.store.get(&id).await?;
        let Some(mut record) = record_of(id.clone(), message, kept, now(), sent_at) else {
            return Ok(None);
        };
        approvals.store.put(&record).await?;
        let expiry = Some(record.expires_at);
        if !worth_telling(&record, now()) {
            tracing::warn!(approval = %id, execution = %record.execution_arn, expired = %when(record.expires_at),
                "an approval request was taken after its time: nobody is told, and its task is failed as timed out");
            return Ok(expiry);
        }
        tracing::info!(approval = %id, execution = %record.execution_arn, "approval requested");
        if let Some(topic) = &record.request.notify {
            let link = approvals.link(&id, record.expires_at);
            let text = notice::message(
                &record.request,
                &record.execution_arn,
                link.as_deref(),
                &when(record.expires_at),
            );
            let sns: aws_sdk_sns::Client = approvals.sns_for(topic);
            sns.publish()
                .topic_arn(topic)
                .subject(notice::subject(&record.request))
                .message(text)
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "SNS Publish to {topic}: {}",
                        aws_sdk_sns::error::DisplayErrorContext(e)
                    )
                })?;
        }
        record.notified = true;
        approvals.store.put(&record).await?;
        Ok(expiry)
    }

    /// Fails the tasks of approvals past their time; returns the earliest
    /// expiry of those still pending (`Err`: the store could not be read).
    async fn sweep(&self) -> Result<Option<u64>, ()> {
        let pending = match self.approvals.store.pending().await {
            Ok(pending) => pending,
            Err(e) => {
                tracing::warn!(error = %e, "could not sweep the approval store");
                return Err(());
            }
        };
        let swept_at = now();
        let earliest = pending.iter().map(|r| r.expires_at).min();
        // Every one past its time is answered below, or kept and swept
        // again shortly (`sweep::next_sweep` of a past expiry).
        for record in pending.into_iter().filter(|r| r.expires_at <= swept_at) {
            let timeout = Decision {
                approved: false,
                by: "timeout".into(),
                comment: String::new(),
                at: now(),
                via: "timeout".into(),
            };
            match decision::apply(&self.approvals.store, &self.approvals.sfn, &record, timeout)
                .await
            {
                Ok(Outcome::Answered(_)) => {
                    tracing::info!(approval = %record.id, "approval timed out")
                }
                Ok(Outcome::Unconfirmed { error, .. }) => {
                    tracing::warn!(approval = %record.id, %error, "Step Functions did not confirm an approval's timeout; it is kept")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(approval = %record.id, error = %e, "could not time an approval out")
                }
            }
        }
        Ok(earliest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        let mut request = crate::approval::ask::test_request(&[], "Release 42");
        request.timeout_seconds = 600;
        Message {
            task_token: "token".into(),
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:d:e".into(),
            request,
        }
    }

    #[test]
    fn a_new_request_expires_its_timeout_after_it_was_sent() {
        let record = record_of("id".into(), message(), None, 1_000, Some(1_000)).unwrap();
        assert_eq!((record.requested_at, record.expires_at), (1_000, 1_600));
        assert!(!record.notified);
        // SQS gave no SentTimestamp: from now.
        let record = record_of("id".into(), message(), None, 1_000, None).unwrap();
        assert_eq!((record.requested_at, record.expires_at), (1_000, 1_600));
        // A clock ahead of the worker's: never later than now.
        let record = record_of("id".into(), message(), None, 1_000, Some(1_005)).unwrap();
        assert_eq!(record.requested_at, 1_000);
    }

    /// The worker stopped after keeping the record and before deleting the
    /// message: the redelivery, a minute later, keeps the first times.
    #[test]
    fn a_redelivered_request_keeps_its_first_expiry() {
        let first = record_of("id".into(), message(), None, 1_000, Some(1_000)).unwrap();
        let again = record_of("id".into(), message(), Some(first), 1_060, Some(1_000)).unwrap();
        assert_eq!((again.requested_at, again.expires_at), (1_000, 1_600));
    }

    /// The store refused the first tries, so nothing was kept: the record
    /// made on the delivery that works, five minutes on, still runs from
    /// when RequestApproval sent the message (issue 27, item 8), as the
    /// state's own timeout does.
    #[test]
    fn a_request_first_kept_on_a_later_delivery_runs_from_when_it_was_sent() {
        let late = record_of("id".into(), message(), None, 1_300, Some(1_000)).unwrap();
        assert_eq!((late.requested_at, late.expires_at), (1_000, 1_600));
    }

    /// A request taken after its time (late tries, or moved back from the
    /// dead-letter queue) is kept for the sweep to fail, and nobody is sent
    /// a link to an expired page.
    #[test]
    fn a_request_taken_after_its_time_is_kept_but_not_told() {
        let late = record_of("id".into(), message(), None, 1_700, Some(1_000)).unwrap();
        assert!(!worth_telling(&late, 1_700));
        let on_time = record_of("id".into(), message(), None, 1_010, Some(1_000)).unwrap();
        assert!(worth_telling(&on_time, 1_010));
    }

    #[test]
    fn a_request_already_told_is_not_told_again() {
        let mut told = record_of("id".into(), message(), None, 1_000, None).unwrap();
        told.notified = true;
        assert!(record_of("id".into(), message(), Some(told), 1_060, None).is_none());
    }

    /// SentTimestamp comes in epoch milliseconds.
    #[test]
    fn message_attributes_are_read_as_numbers() {
        let message = aws_sdk_sqs::types::Message::builder()
            .attributes(SystemAttribute::SentTimestamp, "1700000000123")
            .attributes(SystemAttribute::ApproximateReceiveCount, "3")
            .build();
        assert_eq!(
            attribute(&message, SystemAttribute::SentTimestamp).map(|ms| ms / 1000),
            Some(1_700_000_000)
        );
        assert_eq!(
            attribute(&message, SystemAttribute::ApproximateReceiveCount),
            Some(3)
        );
        let bare = aws_sdk_sqs::types::Message::builder().build();
        assert_eq!(attribute(&bare, SystemAttribute::SentTimestamp), None);
    }
}
