//! What the approval edges share: the store, the keys, Step Functions and
//! SNS clients, and the public base URL links start with.

use super::link::Keys;
use super::store::Store;
use aws_config::SdkConfig;

/// The environment variable the signing key comes from (on AWS, ECS puts
/// a Secrets Manager secret there: bootstrap's ApprovalKeySecretArn).
pub const KEY_VARIABLE: &str = "CPSF_APPROVAL_KEY";

pub struct Approvals {
    pub store: Store,
    pub keys: Keys,
    pub sfn: aws_sdk_sfn::Client,
    pub sns: aws_sdk_sns::Client,
    /// The page's public base URL (`--approval-url`): None, no links.
    pub base_url: Option<String>,
}

impl Approvals {
    /// From the store's URI and the key's text (at least 32 bytes).
    pub fn new(
        sdk: &SdkConfig,
        store: &str,
        key: &str,
        base_url: Option<String>,
    ) -> Result<Approvals, String> {
        Ok(Approvals {
            store: Store::new(aws_sdk_s3::Client::new(sdk), store)?,
            keys: Keys::from_secret(key.as_bytes()).map_err(|e| format!("{KEY_VARIABLE}: {e}"))?,
            sfn: aws_sdk_sfn::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            base_url: base_url.map(|u| u.trim_end_matches('/').to_string()),
        })
    }

    /// The full link of approval `id`, if the worker serves a page.
    pub fn link(&self, id: &str, expires_at: u64) -> Option<String> {
        let base = self.base_url.as_ref()?;
        Some(format!(
            "{base}/approvals/{}",
            self.keys.link(id, expires_at)
        ))
    }
}

/// Epoch seconds as people read them: "2026-12-01 14:00:00 UTC".
pub fn when(epoch: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch);
    humantime::format_rfc3339_seconds(time)
        .to_string()
        .replace('T', " ")
        .replace('Z', " UTC")
}

pub fn now() -> u64 {
    crate::tasks::epoch_now() as u64
}
