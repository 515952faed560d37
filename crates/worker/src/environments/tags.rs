//! The tags that make a stack a cpsf environment, written on every deploy
//! and read back by teardown and `cpsf environments` (issue 19).
//!
//! Stack tags propagate to the stack's resources that take tags
//! (CloudFormation user guide, "Tag your CloudFormation stacks"), so cost
//! reports can be split by environment too.

use super::spec::Environment;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Tag keys cpsf keeps for itself on an environment's stack.
pub const PREFIX: &str = "cpsf:";
pub const ENVIRONMENT: &str = "cpsf:environment";
pub const PIPELINE: &str = "cpsf:pipeline";
pub const REVISION: &str = "cpsf:revision";
pub const DEPLOYED_AT: &str = "cpsf:deployed-at";
pub const TTL_HOURS: &str = "cpsf:ttl-hours";
/// A tag value's limit (CloudFormation `Tag`: 256 characters).
const MAX_VALUE: usize = 256;

/// Where a deploy came from, for the tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin<'a> {
    pub pipeline: Option<&'a str>,
    pub revision: Option<&'a str>,
    /// When this deploy started (CheckStack's clock).
    pub deployed_at: Option<SystemTime>,
}

/// The environment's tags for one deploy. A tag with nothing to say is
/// left out rather than written empty.
pub fn stamp(environment: &Environment, origin: &Origin) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        if !value.is_empty() {
            tags.insert(key.to_string(), value.chars().take(MAX_VALUE).collect());
        }
    };
    put(ENVIRONMENT, environment.name.clone());
    put(PIPELINE, origin.pipeline.unwrap_or_default().to_string());
    put(REVISION, origin.revision.unwrap_or_default().to_string());
    if let Some(at) = origin.deployed_at {
        put(
            DEPLOYED_AT,
            humantime::format_rfc3339_seconds(at).to_string(),
        );
    }
    if let Some(hours) = environment.ttl_hours {
        put(TTL_HOURS, hours.to_string());
    }
    tags
}

/// A stack's environment tags, read back. None: the stack is not a cpsf
/// environment (no `cpsf:environment` tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub environment: String,
    pub pipeline: Option<String>,
    pub revision: Option<String>,
    pub deployed_at: Option<SystemTime>,
    pub ttl: Option<Duration>,
}

pub fn read<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Stamp> {
    let tags: BTreeMap<&str, &str> = tags.into_iter().collect();
    let owned = |key: &str| tags.get(key).map(|v| v.to_string());
    Some(Stamp {
        environment: owned(ENVIRONMENT)?,
        pipeline: owned(PIPELINE),
        revision: owned(REVISION),
        deployed_at: tags
            .get(DEPLOYED_AT)
            .and_then(|v| humantime::parse_rfc3339(v).ok()),
        ttl: tags
            .get(TTL_HOURS)
            .and_then(|v| v.parse::<u64>().ok())
            .map(|hours| Duration::from_secs(hours * 3600)),
    })
}

/// A CloudFormation stack's environment tags.
pub fn of_stack(stack: &aws_sdk_cloudformation::types::Stack) -> Option<Stamp> {
    read(
        stack
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value()?))),
    )
}

/// Epoch seconds as a time, for the clock CheckStack writes in `$.check`.
pub fn from_epoch(seconds: f64) -> Option<SystemTime> {
    (seconds.is_finite() && seconds > 0.0).then(|| UNIX_EPOCH + Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deploy_stamps_the_environment_and_reads_back() {
        let environment = Environment {
            name: "feature-1".into(),
            stack_name: "app-feature-1".into(),
            ttl_hours: Some(72),
        };
        let at = UNIX_EPOCH + Duration::from_secs(1_764_000_000);
        let tags = stamp(
            &environment,
            &Origin {
                pipeline: Some("web"),
                revision: Some("3f2a"),
                deployed_at: Some(at),
            },
        );
        assert_eq!(tags[DEPLOYED_AT], "2025-11-24T16:00:00Z");
        assert_eq!(tags[TTL_HOURS], "72");
        let read = read(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(read.environment, "feature-1");
        assert_eq!(read.pipeline.as_deref(), Some("web"));
        assert_eq!(read.revision.as_deref(), Some("3f2a"));
        assert_eq!(read.deployed_at, Some(at));
        assert_eq!(read.ttl, Some(Duration::from_secs(72 * 3600)));
    }

    #[test]
    fn what_is_unknown_is_left_out_and_untagged_stacks_are_not_environments() {
        let environment = Environment {
            name: "f".into(),
            stack_name: "app-f".into(),
            ttl_hours: None,
        };
        let tags = stamp(&environment, &Origin::default());
        assert_eq!(tags.keys().collect::<Vec<_>>(), [ENVIRONMENT]);
        assert_eq!(read([("team", "web")]), None);
        let odd = read([
            (ENVIRONMENT, "f"),
            (DEPLOYED_AT, "yesterday"),
            (TTL_HOURS, "x"),
        ])
        .unwrap();
        assert_eq!((odd.deployed_at, odd.ttl), (None, None));
    }
}
