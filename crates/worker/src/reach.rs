//! How a task reaches where its stack goes: the worker's own account and
//! region, or a rollout target's (`deploy.target`, `targets::plan`) —
//! another region with the worker's credentials, or another account
//! through STS AssumeRole on the target's `roleArn` (IAM user guide,
//! "Cross account resource access in IAM": the target account's role
//! trusts the worker's role, and the worker's role may sts:AssumeRole it).
//!
//! Credentials are asked for once per role and region, when a task first
//! needs them, so a role that cannot be assumed fails that task with a
//! message naming the role and the target rather than a CloudFormation
//! call failing later with a bare credentials error; the SDK's identity
//! cache renews them before they expire.

use crate::activity::error::TaskError;
use crate::targets::key::TargetKey;
use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_cloudformation::config::{ProvideCredentials, Region, SharedCredentialsProvider};
use std::collections::HashMap;
use std::sync::Mutex;

/// The error a Catch sees when a target cannot be reached.
pub const UNREACHABLE: &str = "Cpsf.TargetUnreachable";

pub struct Reach {
    base: SdkConfig,
    /// By (role ARN, region): the configuration reaching it.
    assumed: Mutex<HashMap<(String, String), SdkConfig>>,
}

impl Reach {
    pub fn new(base: SdkConfig) -> Self {
        Self {
            base,
            assumed: Mutex::default(),
        }
    }

    /// The worker's own configuration.
    pub fn base(&self) -> &SdkConfig {
        &self.base
    }

    /// The configuration that reaches `target`; `session` names the
    /// assumed-role session (CloudTrail shows it in the target account).
    pub async fn config(&self, target: &TargetKey, session: &str) -> Result<SdkConfig, TaskError> {
        let region = Region::new(target.region.clone());
        let Some(role) = &target.role_arn else {
            return Ok(crate::aws::in_region(&self.base, &target.region));
        };
        let key = (role.clone(), target.region.clone());
        if let Some(found) = self
            .assumed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(found.clone());
        }
        let provider = AssumeRoleProvider::builder(role)
            .session_name(session_name(session))
            .region(region.clone())
            .configure(&self.base)
            .build()
            .await;
        provider.provide_credentials().await.map_err(|e| {
            TaskError::new(
                UNREACHABLE,
                format!(
                    "target '{}': the worker could not assume {role}: {}. Check that the role \
                     exists, that its trust policy allows the worker's role, and that the \
                     worker's role may sts:AssumeRole it (bootstrap/target-account.yaml)",
                    target.name,
                    aws_sdk_cloudformation::error::DisplayErrorContext(&e)
                ),
            )
        })?;
        let config = self
            .base
            .to_builder()
            .region(region)
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
        self.assumed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, config.clone());
        Ok(config)
    }
}

/// STS takes 2 to 64 characters of `[\w+=,.@-]` (API reference,
/// AssumeRole `RoleSessionName`).
fn session_name(wanted: &str) -> String {
    let clean: String = wanted
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if clean.len() < 2 {
        format!("cpsf{clean}")
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::session_name;

    #[test]
    fn session_names_are_what_sts_accepts() {
        assert_eq!(session_name("cpsf-prod-use1"), "cpsf-prod-use1");
        assert_eq!(session_name("a b/c"), "a-b-c");
        assert_eq!(session_name(""), "cpsf");
        assert_eq!(session_name(&"x".repeat(100)).len(), 64);
    }
}
