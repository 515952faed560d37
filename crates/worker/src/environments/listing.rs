//! Every cpsf environment in a region: the stacks with a
//! `cpsf:environment` tag (under the stack prefix, when one is given).
//! The edge of `cpsf environments list` and `prune`.

use super::tags;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::Stack;
use serde::Serialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One environment's stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    pub environment: String,
    pub stack_name: String,
    pub stack_id: String,
    pub region: String,
    pub status: String,
    pub pipeline: Option<String>,
    pub revision: Option<String>,
    /// The `cpsf:deployed-at` tag; a stack without it (tags edited by
    /// hand) counts from its last update, or its creation.
    #[serde(serialize_with = "rfc3339")]
    pub last_deploy: SystemTime,
    #[serde(rename = "ttlHours", serialize_with = "hours")]
    pub ttl: Option<Duration>,
    pub termination_protection: bool,
}

/// The region's environments, by DescribeStacks with no stack name, which
/// lists every stack not deleted, with its tags (CloudFormation API
/// reference, DescribeStacks), one page at a time.
pub async fn list(cfn: &Client, region: &str, prefix: Option<&str>) -> anyhow::Result<Vec<Listed>> {
    let mut pages = cfn.describe_stacks().into_paginator().send();
    let mut listed = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            anyhow::anyhow!(
                "DescribeStacks in {region}: {}",
                aws_sdk_cloudformation::error::DisplayErrorContext(e)
            )
        })?;
        listed.extend(page.stacks().iter().filter_map(|s| read(s, region, prefix)));
    }
    listed.sort_by(|a, b| (&a.region, &a.environment).cmp(&(&b.region, &b.environment)));
    Ok(listed)
}

/// Every environment in each of `regions` (the configuration's
/// credentials).
pub async fn gather(
    sdk: &aws_config::SdkConfig,
    regions: &[String],
    prefix: Option<&str>,
) -> anyhow::Result<Vec<Listed>> {
    let mut listed = Vec::new();
    for region in regions {
        let cfn = Client::new(&crate::aws::in_region(sdk, region));
        listed.extend(list(&cfn, region, prefix).await?);
    }
    Ok(listed)
}

/// One stack as an environment, or None when it is not one of cpsf's.
pub fn read(stack: &Stack, region: &str, prefix: Option<&str>) -> Option<Listed> {
    let name = stack.stack_name()?;
    let status = stack.stack_status()?.as_str();
    if status == "DELETE_COMPLETE" || prefix.is_some_and(|p| !name.starts_with(p)) {
        return None;
    }
    let stamp = tags::of_stack(stack)?;
    let changed = stack.last_updated_time().or(stack.creation_time());
    let last_deploy = stamp
        .deployed_at
        .or_else(|| changed.and_then(|t| SystemTime::try_from(*t).ok()))
        .unwrap_or(UNIX_EPOCH);
    Some(Listed {
        environment: stamp.environment,
        stack_name: name.to_string(),
        stack_id: stack.stack_id().unwrap_or(name).to_string(),
        region: region.to_string(),
        status: status.to_string(),
        pipeline: stamp.pipeline,
        revision: stamp.revision,
        last_deploy,
        ttl: stamp.ttl,
        termination_protection: stack.enable_termination_protection().unwrap_or(false),
    })
}

fn rfc3339<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_seconds(*time))
}

fn hours<S: serde::Serializer>(ttl: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match ttl {
        Some(ttl) => s.serialize_u64(ttl.as_secs() / 3600),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::{StackStatus, Tag};
    use aws_smithy_types::DateTime;

    fn stack(name: &str, tags: &[(&str, &str)]) -> Stack {
        Stack::builder()
            .stack_name(name)
            .stack_status(StackStatus::UpdateComplete)
            .creation_time(DateTime::from_secs(1_000))
            .last_updated_time(DateTime::from_secs(2_000))
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                    .collect(),
            ))
            .enable_termination_protection(true)
            .build()
    }

    #[test]
    fn only_tagged_stacks_under_the_prefix_are_environments() {
        let tagged = stack(
            "app-f",
            &[
                (tags::ENVIRONMENT, "f"),
                (tags::DEPLOYED_AT, "1970-01-01T01:00:00Z"),
            ],
        );
        let listed = read(&tagged, "eu-west-1", Some("app-")).unwrap();
        assert_eq!(listed.environment, "f");
        assert_eq!(listed.last_deploy, UNIX_EPOCH + Duration::from_secs(3600));
        assert!(listed.termination_protection);
        assert_eq!(read(&tagged, "eu-west-1", Some("web-")), None);
        assert_eq!(
            read(&stack("other", &[("team", "x")]), "eu-west-1", None),
            None
        );
    }

    #[test]
    fn without_the_deploy_tag_the_last_update_counts_and_json_is_plain() {
        let listed = read(
            &stack(
                "app-f",
                &[(tags::ENVIRONMENT, "f"), (tags::TTL_HOURS, "24")],
            ),
            "r",
            None,
        )
        .unwrap();
        assert_eq!(listed.last_deploy, UNIX_EPOCH + Duration::from_secs(2_000));
        let json = serde_json::to_value(&listed).unwrap();
        assert_eq!(json["lastDeploy"], "1970-01-01T00:33:20Z");
        assert_eq!(json["ttlHours"], 24);
        assert_eq!(json["stackName"], "app-f");
    }
}
