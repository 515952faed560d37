//! The playground's approvals (issue 18), as bootstrap/cpsf.yaml makes them
//! on AWS: the queue RequestApproval sends requests to, the bucket the
//! worker keeps them in, and a signing key of the playground's own. They
//! go into the env file as `CPSF_APPROVALS_QUEUE`, `CPSF_APPROVAL_STORE`
//! and `CPSF_APPROVAL_KEY`, which `cpsf worker` and `cpsf approve` read.

use anyhow::Context;
use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use base64::Engine;

/// Not bootstrap/cpsf.yaml's `cpsf-approvals`: the demo installs that
/// template on the playground (fakecloud) beside these.
pub const QUEUE: &str = "cpsf-playground-approvals";
pub const BUCKET: &str = "cpsf-playground-approvals";

/// What the playground's approvals need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalApprovals {
    pub queue: String,
    pub store: String,
    /// A fresh random key (the playground's only; on AWS it comes from
    /// Secrets Manager through the task definition).
    pub key: String,
}

/// Creates the queue (SSE on, messages kept a day: a decision waits at
/// most that long) and the bucket, and makes a key.
pub async fn install(sdk: &SdkConfig, s3: &aws_sdk_s3::Client) -> anyhow::Result<LocalApprovals> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue = sqs
        .create_queue()
        .queue_name(QUEUE)
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "true")
        .attributes(QueueAttributeName::MessageRetentionPeriod, "86400")
        .send()
        .await
        .context("could not create the approvals queue")?
        .queue_url
        .context("CreateQueue answered no URL")?;
    match s3.create_bucket().bucket(BUCKET).send().await {
        Ok(_) => {}
        Err(e) if matches!(e.as_service_error(), Some(e) if e.is_bucket_already_owned_by_you()) => {
        }
        Err(e) => {
            return Err(e).context("could not create the approvals bucket");
        }
    }
    let mut key = [0u8; 48];
    aws_lc_rs::rand::fill(&mut key).map_err(|_| anyhow::anyhow!("no randomness for the key"))?;
    Ok(LocalApprovals {
        queue,
        store: format!("s3://{BUCKET}/cpsf"),
        key: base64::engine::general_purpose::STANDARD.encode(key),
    })
}
