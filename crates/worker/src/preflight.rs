//! Before a command talks to AWS, the three things a newcomer most often
//! lacks are checked and, when missing, named in one or two lines of
//! advice: a region, a reachable endpoint (a playground that was stopped),
//! and credentials. Without this the first error is the SDK's Debug dump
//! of every credential provider it tried, kilobytes long; that detail is
//! still there at `RUST_LOG=debug`.
//!
//! The credential chain and region chain are the SDK's own
//! (<https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html>);
//! this module only asks them, once, before the first call.

use anyhow::{Result, bail};
use aws_config::SdkConfig;
use aws_sdk_sfn::config::ProvideCredentials;
use std::time::Duration;

/// How long an endpoint may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

const PLAYGROUND_HINT: &str =
    "For the local playground: run `cpsf local up`, then `source .cpsf/local.env`.";

/// Region, endpoints, then credentials: the first missing one is the error.
pub async fn check(sdk: &SdkConfig) -> Result<()> {
    if sdk.region().is_none() {
        bail!("{}", no_region());
    }
    let overrides = endpoint_variables(std::env::vars());
    check_endpoints(
        &overrides
            .iter()
            .map(|(variable, url)| (variable.as_str(), url.as_str()))
            .collect::<Vec<_>>(),
    )
    .await?;
    if let Some(provider) = sdk.credentials_provider()
        && let Err(error) = provider.provide_credentials().await
    {
        tracing::debug!(
            error = %aws_sdk_sfn::error::DisplayErrorContext(&error),
            "the credential provider chain found no credentials"
        );
        bail!("{}", no_credentials());
    }
    Ok(())
}

/// Checks only that the given endpoints answer (the demo builds its SDK
/// settings from the playground's env file, not from the chain).
pub async fn check_endpoints(endpoints: &[(&str, &str)]) -> Result<()> {
    for (variable, url) in endpoints {
        if let Some(authority) = authority(url)
            && !answers(&authority).await
        {
            bail!("{}", unreachable(variable, url));
        }
    }
    Ok(())
}

pub fn no_region() -> String {
    format!(
        "no AWS region is set: set AWS_REGION (e.g. `export AWS_REGION=us-east-1`) or a region \
         in your AWS profile.\n  {PLAYGROUND_HINT}"
    )
}

pub fn no_credentials() -> String {
    format!(
        "no AWS credentials found: configure them the standard way (AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY, `aws configure`, `aws sso login`, or an instance or task role); \
         RUST_LOG=debug shows every place that was tried.\n  {PLAYGROUND_HINT}"
    )
}

pub fn unreachable(variable: &str, url: &str) -> String {
    format!(
        "nothing answers at {url} ({variable}): if that is the playground, it has stopped.\n  \
         Start it again with `cpsf local up` and `source .cpsf/local.env`, or unset {variable} \
         to use AWS."
    )
}

/// The endpoint overrides set in the environment (`AWS_ENDPOINT_URL` and
/// the per-service `AWS_ENDPOINT_URL_<SERVICE>`), sorted by name.
pub fn endpoint_variables(vars: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut found: Vec<_> = vars
        .filter(|(name, value)| name.starts_with("AWS_ENDPOINT_URL") && !value.trim().is_empty())
        .collect();
    found.sort();
    found
}

/// `host:port` of an http(s) URL, the scheme's port when none is given.
pub fn authority(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let host_port = rest.split(['/', '?', '#']).next()?;
    let host_port = host_port.rsplit_once('@').map_or(host_port, |(_, h)| h);
    if host_port.is_empty() {
        return None;
    }
    let has_port = match host_port.rsplit_once(':') {
        // "[::1]" has colons but no port; "[::1]:80" and "host:80" have one.
        Some((host, port)) => {
            !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!host.starts_with('[') || host.ends_with(']'))
        }
        None => false,
    };
    Some(if has_port {
        host_port.to_string()
    } else {
        format!("{host_port}:{default_port}")
    })
}

async fn answers(authority: &str) -> bool {
    matches!(
        tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(authority)).await,
        Ok(Ok(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_carry_the_port_or_the_schemes() {
        assert_eq!(
            authority("http://127.0.0.1:4566").as_deref(),
            Some("127.0.0.1:4566")
        );
        assert_eq!(
            authority("http://127.0.0.1:4566/").as_deref(),
            Some("127.0.0.1:4566")
        );
        assert_eq!(
            authority("https://states.us-east-1.amazonaws.com").as_deref(),
            Some("states.us-east-1.amazonaws.com:443")
        );
        assert_eq!(
            authority("http://[::1]:9000/x").as_deref(),
            Some("[::1]:9000")
        );
        assert_eq!(authority("http://[::1]").as_deref(), Some("[::1]:80"));
        assert_eq!(authority("localhost:4566"), None);
        assert_eq!(authority("http://"), None);
    }

    #[test]
    fn only_endpoint_overrides_with_a_value_are_checked() {
        let vars = [
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_CODEPIPELINE", "http://127.0.0.1:2"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_S3", " "),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(
            endpoint_variables(vars.into_iter()),
            vec![
                (
                    "AWS_ENDPOINT_URL".to_string(),
                    "http://127.0.0.1:1".to_string()
                ),
                (
                    "AWS_ENDPOINT_URL_CODEPIPELINE".to_string(),
                    "http://127.0.0.1:2".to_string()
                ),
            ]
        );
    }
}
