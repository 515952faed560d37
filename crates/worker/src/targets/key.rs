//! Where one rollout target is, as a task handler is given it.

use serde::Deserialize;

/// A rollout target's place: its account and region, and the role that
/// reaches it (`reach.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetKey {
    pub name: String,
    pub account: Option<String>,
    pub region: String,
    pub role_arn: Option<String>,
    /// Where a large template is staged for this target.
    #[serde(default)]
    pub staging_bucket: Option<String>,
}

impl TargetKey {
    /// Where the target is, as messages name it: its region, with its
    /// account when the target gave one.
    pub fn place(&self) -> String {
        match &self.account {
            Some(account) => format!("{} (account {account})", self.region),
            None => self.region.clone(),
        }
    }
}
