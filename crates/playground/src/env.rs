//! The playground's connection settings: the env file `cpsf local up`
//! writes, and AWS clients built from the same values.
//!
//! These are the standard variables every AWS SDK and the AWS CLI read, so
//! nothing in cpsf (or in a user's tools) needs a "local mode".

use super::names::REGION;
use super::worker_role::{PROFILE, WorkerRole};
use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use std::path::{Path, PathBuf};

/// The playground accepts any credentials; these make that explicit.
pub const TEST_ACCESS_KEY_ID: &str = "test";
pub const TEST_SECRET_ACCESS_KEY: &str = "test";

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
    /// The worker's role and the AWS config files that name it, where
    /// the emulator checks IAM (MiniStack); None: the test keys go in the
    /// environment and the worker uses them too.
    pub profiles: Option<Profiles>,
}

/// The standard AWS config and credentials files of a playground whose
/// worker runs as its own role (`worker_role.rs`): the root keys are the
/// profile `default` (for people and fixtures), and the profile
/// `cpsf-worker` assumes the role with them (`role_arn` and
/// `source_profile`, as the AWS CLI and every SDK read them). The keys go
/// in a file, not the environment: the Rust SDK's chain (and others) takes
/// keys in the environment over `AWS_PROFILE`, so a worker started with
/// `AWS_PROFILE=cpsf-worker` would act as root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profiles {
    /// Holds `config` and `credentials`.
    pub dir: PathBuf,
    pub worker: WorkerRole,
}

impl Profiles {
    pub fn config_file(&self) -> PathBuf {
        self.dir.join("config")
    }

    pub fn credentials_file(&self) -> PathBuf {
        self.dir.join("credentials")
    }

    pub fn write(&self) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("could not create {}", self.dir.display()))?;
        let config = format!(
            "[default]\nregion = {REGION}\n\n\
             [profile {PROFILE}]\nrole_arn = {}\nsource_profile = default\n\
             role_session_name = {PROFILE}\nregion = {REGION}\n",
            self.worker.arn
        );
        let credentials = format!(
            "[default]\naws_access_key_id = {TEST_ACCESS_KEY_ID}\n\
             aws_secret_access_key = {TEST_SECRET_ACCESS_KEY}\n"
        );
        for (path, text) in [
            (self.config_file(), config),
            (self.credentials_file(), credentials),
        ] {
            std::fs::write(&path, text)
                .with_context(|| format!("could not write {}", path.display()))?;
        }
        Ok(())
    }

    /// The profiles an env file names (`AWS_CONFIG_FILE`, `CPSF_STACK_PREFIX`).
    fn from_process_env() -> Option<Self> {
        let config = PathBuf::from(std::env::var_os("AWS_CONFIG_FILE")?);
        let stack_prefix = std::env::var("CPSF_STACK_PREFIX").ok()?;
        let text = std::fs::read_to_string(&config).ok()?;
        let arn = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("role_arn = "))?
            .to_string();
        Some(Self {
            dir: config.parent()?.to_path_buf(),
            worker: WorkerRole { arn, stack_prefix },
        })
    }
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
            profiles: Profiles::from_process_env(),
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
        ];
        match &self.profiles {
            Some(profiles) => {
                vars.push((
                    "AWS_CONFIG_FILE",
                    profiles.config_file().display().to_string(),
                ));
                vars.push((
                    "AWS_SHARED_CREDENTIALS_FILE",
                    profiles.credentials_file().display().to_string(),
                ));
                // What the worker's role may deploy: `cpsf worker` reads it.
                vars.push(("CPSF_STACK_PREFIX", profiles.worker.stack_prefix.clone()));
            }
            None => {
                vars.push(("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID.into()));
                vars.push(("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY.into()));
            }
        }
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

    /// Sets `name` to `value` in the env file at `path`, when that file
    /// names this playground (its `AWS_ENDPOINT_URL` line is this one's),
    /// and leaves every other line as it is; whether it did. `cpsf demo`
    /// on a playground `cpsf local up` started learns values the file
    /// could not know yet (on fakecloud, the approvals queue of the
    /// bootstrap stack the demo installs), and a worker started from the
    /// file must read those.
    pub fn update_file(&self, path: &Path, name: &str, value: &str) -> Result<bool> {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Ok(false);
        };
        let ours = format!("export AWS_ENDPOINT_URL={}", self.aws_endpoint);
        if !text.lines().any(|line| line == ours) {
            return Ok(false);
        }
        let prefix = format!("export {name}=");
        let line = format!("{prefix}{value}");
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with(&prefix))
            .map(str::to_string)
            .collect();
        lines.push(line);
        std::fs::write(path, lines.join("\n") + "\n")
            .with_context(|| format!("could not write {}", path.display()))?;
        Ok(true)
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

    /// The configuration the worker runs with: [`Self::sdk_config`] with
    /// the worker role's credentials where the playground has the role.
    pub async fn worker_sdk_config(&self) -> SdkConfig {
        let admin = self.sdk_config().await;
        match &self.profiles {
            Some(profiles) => super::worker_role::assume(&admin, &profiles.worker).await,
            None => admin,
        }
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
            profiles: None,
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

    #[test]
    fn a_variable_is_updated_only_in_the_file_of_the_same_playground() {
        let env = |port: u16| LocalEnv {
            aws_endpoint: format!("http://127.0.0.1:{port}"),
            codepipeline_endpoint: "http://127.0.0.1:2222".into(),
            events_queue: None,
            approvals: Some(crate::approvals::LocalApprovals {
                queue: "http://127.0.0.1:1111/123456789012/cpsf-playground-approvals".into(),
                store: "s3://b/cpsf".into(),
                key: "k".into(),
            }),
            profiles: None,
        };
        let dir = std::env::temp_dir().join(format!("cpsf-env-update-{}", std::process::id()));
        let path = dir.join("local.env");
        env(1111).write(&path).unwrap();
        let queue = "http://127.0.0.1:1111/123456789012/cpsf-approvals";
        // Another playground's file is left alone.
        assert!(
            !env(3333)
                .update_file(&path, "CPSF_APPROVALS_QUEUE", queue)
                .unwrap()
        );
        assert!(
            env(1111)
                .update_file(&path, "CPSF_APPROVALS_QUEUE", queue)
                .unwrap()
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let read = LocalEnv::from_vars(|name| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .map(str::to_string)
        })
        .unwrap();
        let approvals = read.approvals.unwrap();
        assert_eq!(approvals.queue, queue);
        assert_eq!(
            (approvals.store.as_str(), approvals.key.as_str()),
            ("s3://b/cpsf", "k")
        );
        assert_eq!(text.matches("CPSF_APPROVALS_QUEUE").count(), 1, "{text}");
        assert!(
            !env(1111)
                .update_file(&dir.join("none.env"), "X", "y")
                .unwrap()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
