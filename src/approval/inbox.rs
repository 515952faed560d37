//! The approvals queue: each message is one RequestApproval, its request
//! and task token. The worker keeps it (`store.rs`), tells the request's
//! `notify` topic with a link, then deletes the message; a message not
//! deleted comes back after its visibility timeout, so a worker that dies
//! halfway leaves the request to the next. Between polls it sweeps the
//! store for approvals whose time is up and fails their tasks
//! ([`decision::TIMED_OUT`]): the state's own TimeoutSecondsPath does
//! that on AWS, and the sweep covers a state machine without it.

use super::ask::Request;
use super::decision::{self, Outcome};
use super::notice;
use super::service::{Approvals, now, when};
use super::store::{Decision, Record};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the store is swept for approvals past their time.
pub const SWEEP: Duration = Duration::from_secs(15);

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
/// requested, not from each redelivery.
fn record_of(id: String, message: Message, kept: Option<Record>, now: u64) -> Option<Record> {
    match kept {
        Some(record) if record.notified => None,
        Some(record) => Some(record),
        None => Some(Record {
            id,
            execution_arn: message.execution_arn,
            task_token: message.task_token,
            expires_at: now + u64::from(message.request.timeout_seconds),
            request: message.request,
            requested_at: now,
            notified: false,
        }),
    }
}

impl Inbox {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut next_sweep = tokio::time::Instant::now();
        while !shutdown.is_cancelled() {
            if tokio::time::Instant::now() >= next_sweep {
                self.sweep().await;
                next_sweep = tokio::time::Instant::now() + SWEEP;
            }
            let wait = SWEEP.as_secs().clamp(1, 20) as i32;
            let received = tokio::select! {
                () = shutdown.cancelled() => break,
                r = self.sqs.receive_message().queue_url(&self.queue_url)
                    .wait_time_seconds(wait).max_number_of_messages(10).send() => r,
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
                let kept = match serde_json::from_str::<Message>(body) {
                    Ok(parsed) => self.take(parsed).await,
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
                        tracing::warn!(error = %e, "could not take an approval request; it comes back later")
                    }
                    (Ok(()), None) => {}
                }
            }
        }
    }

    /// Keeps the request and tells its topic, once.
    async fn take(&self, message: Message) -> anyhow::Result<()> {
        let approvals = &self.approvals;
        let id = approvals.keys.id_of(&message.task_token);
        let kept = approvals.store.get(&id).await?;
        let Some(mut record) = record_of(id.clone(), message, kept, now()) else {
            return Ok(());
        };
        approvals.store.put(&record).await?;
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
        approvals.store.put(&record).await
    }

    /// Fails the tasks of approvals past their time.
    async fn sweep(&self) {
        let pending = match self.approvals.store.pending().await {
            Ok(pending) => pending,
            Err(e) => {
                tracing::warn!(error = %e, "could not sweep the approval store");
                return;
            }
        };
        for record in pending.into_iter().filter(|r| r.expires_at <= now()) {
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
    fn a_new_request_expires_its_timeout_after_now() {
        let record = record_of("id".into(), message(), None, 1_000).unwrap();
        assert_eq!((record.requested_at, record.expires_at), (1_000, 1_600));
        assert!(!record.notified);
    }

    /// The worker stopped after keeping the record and before deleting the
    /// message: the redelivery, a minute later, keeps the first times.
    #[test]
    fn a_redelivered_request_keeps_its_first_expiry() {
        let first = record_of("id".into(), message(), None, 1_000).unwrap();
        let again = record_of("id".into(), message(), Some(first), 1_060).unwrap();
        assert_eq!((again.requested_at, again.expires_at), (1_000, 1_600));
    }

    #[test]
    fn a_request_already_told_is_not_told_again() {
        let mut told = record_of("id".into(), message(), None, 1_000).unwrap();
        told.notified = true;
        assert!(record_of("id".into(), message(), Some(told), 1_060).is_none());
    }
}
