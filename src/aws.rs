//! AWS configuration: loaded the standard way (environment, profiles,
//! `AWS_ENDPOINT_URL*`, `AWS_MAX_ATTEMPTS`, ...) with cpsf's retry and
//! timeout choices on top. The same code path serves AWS and the playground.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use std::time::Duration;

/// Every call's single attempt is bounded, so a hung connection cannot stall
/// a job; the SDK retries it.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Loads the configuration. `max_attempts` overrides the SDK's default of 3
/// (standard retry mode: exponential backoff with jitter on throttling,
/// 5xx and connection errors).
pub async fn load(max_attempts: Option<u32>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .build(),
    );
    if let Some(attempts) = max_attempts {
        loader = loader.retry_config(RetryConfig::standard().with_max_attempts(attempts.max(1)));
    }
    loader.load().await
}

/// GetActivityTask holds a request up to 60 s: its client must wait longer.
const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(75);

/// The clients the worker uses. Built from one SdkConfig in production; tests
/// build them for the playground's two endpoints.
#[derive(Clone)]
pub struct Clients {
    pub sdk: SdkConfig,
    pub codepipeline: aws_sdk_codepipeline::Client,
    pub sfn: aws_sdk_sfn::Client,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            sdk: sdk.clone(),
            codepipeline: aws_sdk_codepipeline::Client::new(sdk),
            sfn: aws_sdk_sfn::Client::new(sdk),
        }
    }

    /// A Step Functions client for GetActivityTask's long poll.
    pub fn sfn_long_poll(&self) -> aws_sdk_sfn::Client {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(LONG_POLL_TIMEOUT)
            .operation_attempt_timeout(LONG_POLL_TIMEOUT)
            .build();
        let config = aws_sdk_sfn::config::Builder::from(&self.sdk)
            .timeout_config(timeouts)
            .build();
        aws_sdk_sfn::Client::from_conf(config)
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.sdk)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::new(&self.sdk)
    }

    pub fn region(&self) -> String {
        self.sdk
            .region()
            .map_or_else(|| "us-east-1".to_string(), |r| r.to_string())
    }
}
