//! A record in S3 of continuation jobs between their acknowledgement and
//! their report.
//!
//! A first job is named in its execution's input, so `recover.rs` can find
//! it if its worker dies. A continuation job is named nowhere durable, and
//! CodePipeline never hands an acknowledged job out again: a worker killed
//! between AcknowledgeJob and the report would leave it to the 24-hour
//! timeout. So before acknowledging one, the worker writes
//! `<prefix><job id>@<answer-by time>` (its body: the execution it follows)
//! and deletes it once the report is delivered. The time is in the key so
//! that recovery tells a due entry from a listing alone. An entry past its
//! time (and a grace) belongs to a worker that died; recovery hands that
//! job back like a first job.
//!
//! The bucket is the worker's own (bootstrap creates it, with a lifecycle
//! rule that removes forgotten entries after two days); the calls use the
//! worker's credentials, never a job's.

use crate::aws::CallContext;
use aws_sdk_s3::Client;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalLocation {
    pub bucket: String,
    /// Empty, or ending in `/`.
    pub prefix: String,
}

impl std::str::FromStr for JournalLocation {
    type Err = String;

    /// `s3://bucket` or `s3://bucket/some/prefix`.
    fn from_str(uri: &str) -> Result<Self, String> {
        let rest = uri.strip_prefix("s3://").ok_or_else(|| {
            format!("the journal must be an s3://bucket[/prefix] URI, not '{uri}'")
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("the journal URI '{uri}' names no bucket"));
        }
        let prefix = prefix.trim_matches('/');
        Ok(Self {
            bucket: bucket.to_string(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        })
    }
}

/// A job some worker acknowledged and had not yet answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub job_id: String,
    pub execution_arn: String,
}

/// `<job id>@<epoch seconds>` → the job id and the time, if it is one of
/// cpsf's entries.
pub fn parse_name(name: &str) -> Option<(&str, u64)> {
    let (job_id, until) = name.rsplit_once('@')?;
    Some((job_id, until.parse().ok()?))
}

#[derive(Clone)]
pub struct Journal {
    s3: Client,
    location: JournalLocation,
}

impl Journal {
    pub fn new(s3: Client, location: JournalLocation) -> Self {
        Self { s3, location }
    }

    /// Records that `job_id` follows `execution_arn`, is about to be
    /// acknowledged, and will be answered by `held_until` (epoch seconds).
    /// Returns the entry's key, for [`Journal::close`].
    pub async fn open(
        &self,
        job_id: &str,
        execution_arn: &str,
        held_until: f64,
    ) -> anyhow::Result<String> {
        let key = format!(
            "{}{job_id}@{}",
            self.location.prefix,
            held_until.ceil() as u64
        );
        self.s3
            .put_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .body(execution_arn.as_bytes().to_vec().into())
            .send()
            .await
            .call_context("journal PutObject")?;
        Ok(key)
    }

    /// Removes the entry `key`: its job was answered.
    pub async fn close(&self, key: &str) -> anyhow::Result<()> {
        self.s3
            .delete_object()
            .bucket(&self.location.bucket)
            .key(key)
            .send()
            .await
            .call_context("journal DeleteObject")?;
        Ok(())
    }

    /// Entries whose worker should have answered more than `grace` ago.
    pub async fn stale(&self, grace: Duration) -> anyhow::Result<Vec<Entry>> {
        let now = SystemTime::now();
        let cutoff = now
            .checked_sub(grace)
            .unwrap_or(UNIX_EPOCH)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let mut entries = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.location.bucket)
            .prefix(&self.location.prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.call_context("journal ListObjectsV2")?;
            for key in page.contents().iter().filter_map(|o| o.key()) {
                let name = key.trim_start_matches(&self.location.prefix);
                let Some((job_id, until)) = parse_name(name) else {
                    continue; // not cpsf's
                };
                if until as f64 > cutoff {
                    continue; // its worker may still answer
                }
                let arn = self.read(key).await?;
                entries.push(Entry {
                    key: key.to_string(),
                    job_id: job_id.to_string(),
                    execution_arn: String::from_utf8_lossy(&arn).into_owned(),
                });
            }
        }
        Ok(entries)
    }

    async fn read(&self, key: &str) -> anyhow::Result<Vec<u8>> {
        let object = self
            .s3
            .get_object()
            .bucket(&self.location.bucket)
            .key(key)
            .send()
            .await
            .call_context(format!("journal GetObject {key}"))?;
        Ok(object.body.collect().await?.into_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_name_is_the_job_and_its_answer_time() {
        assert_eq!(
            parse_name("4d19b636-8fd2@1795000000"),
            Some(("4d19b636-8fd2", 1795000000))
        );
        assert_eq!(parse_name("4d19b636-8fd2"), None);
        assert_eq!(parse_name("job@soon"), None);
    }

    #[test]
    fn the_location_is_a_bucket_and_an_optional_prefix() {
        let at = |uri: &str| uri.parse::<JournalLocation>();
        assert_eq!(
            at("s3://cpsf-journal").unwrap(),
            JournalLocation {
                bucket: "cpsf-journal".into(),
                prefix: String::new()
            }
        );
        assert_eq!(at("s3://b/jobs/pending/").unwrap().prefix, "jobs/pending/");
        assert_eq!(at("s3://b/jobs").unwrap().prefix, "jobs/");
        assert_eq!(
            at("cpsf-journal").unwrap_err(),
            "the journal must be an s3://bucket[/prefix] URI, not 'cpsf-journal'"
        );
        assert_eq!(
            at("s3:///x").unwrap_err(),
            "the journal URI 's3:///x' names no bucket"
        );
    }
}
