//! The playground's connection settings: the env file `cpsf local up`
//! writes, and AWS clients built from the same values.
//!
//! These are the standard variables every AWS SDK and the AWS CLI read, so
//! nothing in cpsf (or in a user's tools) needs a "local mode".

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use std::path::Path;

/// The playground accepts any credentials; these make that explicit.
pub const TEST_ACCESS_KEY_ID: &str = "test";
pub const TEST_SECRET_ACCESS_KEY: &str = "test";
pub const REGION: &str = "us-east-1";
/// The account the test keys act in, on either emulator.
pub const ACCOUNT_ID: &str = "123456789012";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEnv {
    /// fakecloud: S3, Step Functions, CloudFormation, IAM, STS.
    pub aws_endpoint: String,
    /// The local CodePipeline service.
    pub codepipeline_endpoint: String,
    /// The SQS queue Step Functions' execution status events reach, when
    /// the emulator emits them (`cpsf worker --events-queue`).
    pub events_queue: Option<String>,
    /// The approvals queue, store and key (`approvals.rs`).
    pub approvals: Option<super::approvals::LocalApprovals>,
}

impl LocalEnv {
    /// The playground named by this process's environment (e.g. after
    /// `source .cpsf/local.env`), if both endpoints are set.
    pub fn from_process_env() -> Option<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The playground the variables `var` looks up name (an env file's,
    /// the process's), if both endpoints are set.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        Some(Self {
            aws_endpoint: var("AWS_ENDPOINT_URL")?,
            codepipeline_endpoint: var("AWS_ENDPOINT_URL_CODEPIPELINE")?,
            events_queue: var("CPSF_EVENTS_QUEUE"),
            approvals: (|| {
                Some(super::approvals::LocalApprovals {
                    queue: var("CPSF_APPROVALS_QUEUE")?,
                    store: var("CPSF_APPROVAL_STORE")?,
                    key: var("CPSF_APPROVAL_KEY")?,
                })
            })(),
        })
    }

    /// The variables, in the order they are written.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![
            ("AWS_ENDPOINT_URL", self.aws_endpoint.clone()),
            (
                "AWS_ENDPOINT_URL_CODEPIPELINE",
                self.codepipeline_endpoint.clone(),
            ),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY.into()),
        ];
        if let Some(queue) = &self.events_queue {
            vars.push(("CPSF_EVENTS_QUEUE", queue.clone()));
        }
        if let Some(approvals) = &self.approvals {
            vars.push(("CPSF_APPROVALS_QUEUE", approvals.queue.clone()));
            vars.push(("CPSF_APPROVAL_STORE", approvals.store.clone()));
            vars.push(("CPSF_APPROVAL_KEY", approvals.key.clone()));
        }
        vars
    }

    /// `export NAME=value` lines a shell can source.
    pub fn export_lines(&self) -> String {
        self.vars()
            .into_iter()
            .map(|(name, value)| format!("export {name}={value}\n"))
            .collect()
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
        }
        std::fs::write(path, self.export_lines())
            .with_context(|| format!("could not write {}", path.display()))
    }

    /// An SdkConfig equal to what `aws_config` loads from the env file.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.aws_endpoint)
            .credentials_provider(Credentials::new(
                TEST_ACCESS_KEY_ID,
                TEST_SECRET_ACCESS_KEY,
                None,
                None,
                "cpsf-playground",
            ))
            .load()
            .await
    }

    pub fn codepipeline_client(&self, sdk: &SdkConfig) -> aws_sdk_codepipeline::Client {
        let config = aws_sdk_codepipeline::config::Builder::from(sdk)
            .endpoint_url(&self.codepipeline_endpoint)
            .build();
        aws_sdk_codepipeline::Client::from_conf(config)
    }

    pub fn s3_client(&self, sdk: &SdkConfig) -> aws_sdk_s3::Client {
        // fakecloud serves buckets by path, not by virtual host.
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_holds_export_lines_for_every_sdk() {
        let env = LocalEnv {
            aws_endpoint: "http://127.0.0.1:1111".into(),
            codepipeline_endpoint: "http://127.0.0.1:2222".into(),
            events_queue: None,
            approvals: None,
        };
        let dir = std::env::temp_dir().join(format!("cpsf-env-{}", std::process::id()));
        let path = dir.join("nested/local.env");
        env.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "export AWS_ENDPOINT_URL=http://127.0.0.1:1111\n\
             export AWS_ENDPOINT_URL_CODEPIPELINE=http://127.0.0.1:2222\n\
             export AWS_REGION=us-east-1\n\
             export AWS_DEFAULT_REGION=us-east-1\n\
             export AWS_ACCESS_KEY_ID=test\n\
             export AWS_SECRET_ACCESS_KEY=test\n"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
