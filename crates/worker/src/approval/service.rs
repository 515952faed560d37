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
    /// For topics in another region (see [`Approvals::sns_for`]).
    sdk: SdkConfig,
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
            sdk: sdk.clone(),
            base_url: base_url.map(|u| u.trim_end_matches('/').to_string()),
        })
    }

    /// The SNS client that can publish to `topic_arn`. SNS serves each
    /// region's topics from that region's endpoint only ("Amazon SNS
    /// endpoints and quotas", AWS General Reference), so a topic in
    /// another region than the worker's is published to through a client
    /// of its own region.
    pub fn sns_for(&self, topic_arn: &str) -> aws_sdk_sns::Client {
        let ours = self.sdk.region().map(|r| r.as_ref());
        match region_of(topic_arn) {
            Some(region) if Some(region) != ours => {
                aws_sdk_sns::Client::new(&crate::aws::in_region(&self.sdk, region))
            }
            _ => self.sns.clone(),
        }
    }

    /// Whether people open the page over https (`--approval-url`), as
    /// through a load balancer that ends TLS in front of the worker.
    pub fn served_over_https(&self) -> bool {
        self.base_url.as_deref().is_some_and(is_https)
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

/// Whether links may start with `url` (`--approval-url`): a link is a
/// secret, so it travels over https, or over http to this machine only.
/// The host is parsed (WHATWG URL, as a browser reads the link), so
/// `http://127.0.0.1.evil.example` is a name, not a loopback address.
pub fn safe_base_url(url: &str) -> bool {
    use url::Host;
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => true,
        ("http", Some(Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(Host::Ipv6(ip))) => ip.is_loopback(),
        _ => false,
    }
}

/// Whether the page's links are https (so its answers may carry HSTS).
fn is_https(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|url| url.scheme() == "https")
}

/// The region of an ARN (`arn:partition:service:region:account:…`).
fn region_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
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
    crate::base::clock::epoch_now() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approvals(region: &str) -> Approvals {
        let sdk = SdkConfig::builder()
            .region(aws_config::Region::new(region.to_string()))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        Approvals::new(&sdk, "s3://approvals", &"k".repeat(32), None).unwrap()
    }

    /// Issue 27: the host is parsed, so a name that starts like a
    /// loopback address is not one.
    #[test]
    fn links_are_https_or_stay_on_this_machine() {
        for url in [
            "http://127.0.0.1.evil.example",
            "http://127.0.0.1.evil.example:8080/",
            "http://127.0.0.1@evil.example",
            "http://127.0.0.1:80@evil.example",
            "http://approvals.example.com",
            "http://10.0.0.1:8080",
            "ftp://127.0.0.1",
            "127.0.0.1:8080",
            "https://",
        ] {
            assert!(!safe_base_url(url), "{url} taken");
        }
        for url in [
            "https://approvals.example.com",
            "https://approvals.example.com/base/",
            "HTTPS://approvals.example.com",
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://[::1]:8080",
        ] {
            assert!(safe_base_url(url), "{url} refused");
        }
    }

    /// A topic in another region is published to in its own region: the
    /// worker's region's endpoint does not serve it.
    #[test]
    fn a_topic_is_published_to_in_its_own_region() {
        let approvals = approvals("us-east-1");
        let region = |arn: &str| {
            approvals
                .sns_for(arn)
                .config()
                .region()
                .map(|r| r.to_string())
        };
        assert_eq!(
            region("arn:aws:sns:eu-west-1:123456789012:approvals").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region("arn:aws:sns:us-east-1:123456789012:approvals").as_deref(),
            Some("us-east-1")
        );
    }
}
