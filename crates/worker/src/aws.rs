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

/// Idle connections kept per host. A worker with many jobs in flight sends
/// bursts of calls; without a bound every connection a burst opened stayed
/// in the pool, ~30 KB each (more with TLS), most of a busy worker's memory
/// (bench/results).
const IDLE_CONNECTIONS_PER_HOST: usize = 8;

/// The HTTPS client every AWS client shares: the SDK's own (rustls with
/// aws-lc), with a bounded idle pool.
fn http_client() -> aws_sdk_sfn::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .pool_max_idle_per_host(IDLE_CONNECTIONS_PER_HOST)
        .pool_idle_timeout(Duration::from_secs(30))
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .build_https()
}

/// Loads the configuration. `max_attempts` overrides the SDK's default of 3
/// (standard retry mode: exponential backoff with jitter on throttling,
/// 5xx and connection errors).
pub async fn load(max_attempts: Option<u32>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(
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

/// [`load`], then the checks a command needs before its first call: a
/// region, reachable endpoints, credentials ([`crate::preflight`]). A
/// missing one is an error of one or two lines that says what to do.
pub async fn load_checked(max_attempts: Option<u32>) -> anyhow::Result<SdkConfig> {
    let sdk = load(max_attempts).await;
    crate::preflight::check(&sdk).await?;
    Ok(sdk)
}

/// GetActivityTask holds a request up to 60 s: its client must wait longer.
const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(75);

/// The timeouts of a client whose calls are long polls: a read, and an
/// attempt, as long as [`LONG_POLL_TIMEOUT`].
fn long_poll_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(LONG_POLL_TIMEOUT)
        .operation_attempt_timeout(LONG_POLL_TIMEOUT)
        .build()
}

/// A long poll's answer is a few kilobytes after up to a minute of
/// silence: the read and attempt timeouts above bound it. The SDK's
/// stalled-stream monitor would wake every 100 ms for the whole wait (its
/// 1 s window in 10 bins: aws-smithy-runtime's `minimum_throughput`), for
/// each of the ~17 long polls an idle worker has open: measured, an idle
/// worker's CPU went from 5.3 to 0.2 ms a second without it (issue 31,
/// bench/results/pickup-ministack.md).
fn long_poll_streams() -> aws_sdk_sqs::config::StalledStreamProtectionConfig {
    aws_sdk_sqs::config::StalledStreamProtectionConfig::disabled()
}

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
        let config = aws_sdk_sfn::config::Builder::from(&self.sdk)
            .timeout_config(long_poll_timeouts())
            .stalled_stream_protection(long_poll_streams())
            .build();
        aws_sdk_sfn::Client::from_conf(config)
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.sdk)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::new(&self.sdk)
    }

    /// SQS, allowed a read as long as a long poll (ReceiveMessage holds up
    /// to 20 s).
    pub fn sqs_long_poll(&self) -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::config::Builder::from(&self.sdk)
            .timeout_config(long_poll_timeouts())
            .stalled_stream_protection(long_poll_streams())
            .build();
        aws_sdk_sqs::Client::from_conf(config)
    }

    pub fn region(&self) -> String {
        self.sdk
            .region()
            .map_or_else(|| "us-east-1".to_string(), |r| r.to_string())
    }
}

/// `sdk` (its credentials and endpoints) in another region.
pub fn in_region(sdk: &SdkConfig, region: &str) -> SdkConfig {
    sdk.to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .build()
}

/// Names a failed AWS call in its error. An SDK error's own `Display` is
/// only "service error"; the service's code and message are in its source
/// chain, which the SDK's `DisplayErrorContext` prints on one line.
pub trait CallContext<T> {
    fn call_context(self, call: impl std::fmt::Display) -> anyhow::Result<T>;
}

impl<T, E: std::error::Error> CallContext<T> for Result<T, E> {
    fn call_context(self, call: impl std::fmt::Display) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::anyhow!("{call}: {}", aws_sdk_sfn::error::DisplayErrorContext(&e)))
    }
}
