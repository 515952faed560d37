//! A record of continuation jobs between their acknowledgement and their
//! report, in S3 or in a directory on the worker's disk.
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
//! In S3 the bucket is the worker's own (bootstrap creates it, with a
//! lifecycle rule that removes forgotten entries after two days); the calls
//! use the worker's credentials, never a job's. With no `--journal`, the
//! worker keeps it in a directory of its machine's state
//! ([`default_directory`]): enough for a worker restarted on the same host
//! (a laptop, a VM, a systemd service), which is where a worker started with
//! no flags runs; a container that restarts elsewhere needs S3, and the
//! worker says so at start. An entry is written to a temporary name and
//! renamed, so a reader never sees half of one; a killed process loses
//! nothing the kernel already has, so no fsync.

use crate::aws::CallContext;
use anyhow::Context;
use aws_sdk_s3::Client;

mod location;
pub use location::{JournalLocation, default_directory};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A job some worker acknowledged and had not yet answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub job_id: String,
    pub execution_arn: String,
}

/// The name under which a state machine's sweep watermark is kept: no `@`,
/// so the journal's listing never takes it for an entry.
pub fn watermark_name(state_machine: &str) -> String {
    let safe: String = state_machine
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(".swept.{safe}")
}

/// `<job id>@<epoch seconds>` → the job id and the time, if it is one of
/// cpsf's entries.
pub fn parse_name(name: &str) -> Option<(&str, u64)> {
    let (job_id, until) = name.rsplit_once('@')?;
    Some((job_id, until.parse().ok()?))
}

#[derive(Clone)]
pub struct Journal {
    store: Store,
}

#[derive(Clone)]
enum Store {
    S3 {
        s3: Client,
        bucket: String,
        prefix: String,
    },
    Directory(PathBuf),
}

impl Journal {
    /// The journal at `location`; `s3` serves an S3 location.
    pub fn new(s3: Client, location: JournalLocation) -> Self {
        let store = match location {
            JournalLocation::S3 { bucket, prefix } => Store::S3 { s3, bucket, prefix },
            JournalLocation::Directory(dir) => Store::Directory(dir),
        };
        Self { store }
    }

    /// Makes sure the journal can be written: creates a directory journal's
    /// directory. (An S3 journal's bucket is checked by its first write.)
    pub async fn prepare(&self) -> anyhow::Result<()> {
        if let Store::Directory(dir) = &self.store {
            tokio::fs::create_dir_all(dir).await.with_context(|| {
                format!("could not create the journal directory {}", dir.display())
            })?;
        }
        Ok(())
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
        let name = format!("{job_id}@{}", held_until.ceil() as u64);
        match &self.store {
            Store::S3 { s3, bucket, prefix } => {
                let key = format!("{prefix}{name}");
                s3.put_object()
                    .bucket(bucket)
                    .key(&key)
                    .body(execution_arn.as_bytes().to_vec().into())
                    .send()
                    .await
                    .call_context("journal PutObject")?;
                Ok(key)
            }
            Store::Directory(dir) => {
                let path = dir.join(&name);
                let partial = dir.join(format!(".{name}.partial"));
                tokio::fs::write(&partial, execution_arn)
                    .await
                    .with_context(|| format!("could not write {}", partial.display()))?;
                tokio::fs::rename(&partial, &path)
                    .await
                    .with_context(|| format!("could not write {}", path.display()))?;
                Ok(path.to_string_lossy().into_owned())
            }
        }
    }

    /// Removes the entry `key`: its job was answered. An entry already gone
    /// (another worker's recovery removed it) is no error.
    pub async fn close(&self, key: &str) -> anyhow::Result<()> {
        match &self.store {
            Store::S3 { s3, bucket, .. } => {
                s3.delete_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .call_context("journal DeleteObject")?;
            }
            Store::Directory(_) => match tokio::fs::remove_file(key).await {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(error).with_context(|| format!("could not remove {key}"));
                }
                _ => {}
            },
        }
        Ok(())
    }

    /// Up to when `state_machine`'s executions were all checked by an
    /// earlier sweep (epoch seconds), if one recorded it.
    pub async fn swept_until(&self, state_machine: &str) -> Option<f64> {
        let name = watermark_name(state_machine);
        let text = match &self.store {
            Store::S3 { s3, bucket, prefix } => {
                let object = s3
                    .get_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{name}"))
                    .send()
                    .await
                    .ok()?;
                String::from_utf8(object.body.collect().await.ok()?.to_vec()).ok()?
            }
            Store::Directory(dir) => tokio::fs::read_to_string(dir.join(&name)).await.ok()?,
        };
        text.trim().parse().ok()
    }

    /// Records that every execution of `state_machine` started before
    /// `until` was checked. Best effort: without it the next start checks
    /// more executions, nothing else.
    pub async fn record_swept(&self, state_machine: &str, until: f64) {
        let name = watermark_name(state_machine);
        let body = format!("{until:.3}");
        let written = match &self.store {
            Store::S3 { s3, bucket, prefix } => s3
                .put_object()
                .bucket(bucket)
                .key(format!("{prefix}{name}"))
                .body(body.into_bytes().into())
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string()),
            Store::Directory(dir) => {
                let partial = dir.join(format!("{name}.partial"));
                let written = async {
                    tokio::fs::write(&partial, body).await?;
                    tokio::fs::rename(&partial, dir.join(&name)).await
                };
                written.await.map_err(|e| e.to_string())
            }
        };
        if let Err(error) = written {
            tracing::debug!(%error, "could not record how far the sweep got");
        }
    }

    /// Entries whose worker should have answered more than `grace` ago.
    pub async fn stale(&self, grace: Duration) -> anyhow::Result<Vec<Entry>> {
        Ok(self.stale_and_next(grace).await?.0)
    }

    /// [`Self::stale`]'s entries, and when the next of the others falls
    /// due (epoch seconds; `None`: there are none): the entry's name says
    /// when, so the listing tells it without reading the entry.
    pub async fn stale_and_next(
        &self,
        grace: Duration,
    ) -> anyhow::Result<(Vec<Entry>, Option<u64>)> {
        let cutoff = SystemTime::now()
            .checked_sub(grace)
            .unwrap_or(UNIX_EPOCH)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let mut next_due: Option<u64> = None;
        // The job of an entry due; else when it falls due, noted.
        let mut due = |name: &str| -> Option<String> {
            let (job_id, until) = parse_name(name)?;
            if until as f64 <= cutoff {
                return Some(job_id.to_string());
            }
            // Not yet due: its worker may still answer.
            let at = until + grace.as_secs();
            next_due = Some(next_due.map_or(at, |n| n.min(at)));
            None
        };
        let mut entries = Vec::new();
        match &self.store {
            Store::S3 { s3, bucket, prefix } => {
                let mut pages = s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.call_context("journal ListObjectsV2")?;
                    for key in page.contents().iter().filter_map(|o| o.key()) {
                        let Some(job_id) = due(key.trim_start_matches(prefix.as_str())) else {
                            continue;
                        };
                        let object = match s3.get_object().bucket(bucket).key(key).send().await {
                            Ok(object) => object,
                            // Another worker's sweep handled it meanwhile.
                            Err(error)
                                if error.as_service_error().is_some_and(|e| e.is_no_such_key()) =>
                            {
                                continue;
                            }
                            Err(error) => {
                                tracing::warn!(%key, error = %aws_sdk_s3::error::DisplayErrorContext(error), "could not read a journal entry; going on");
                                continue;
                            }
                        };
                        let Ok(arn) = object.body.collect().await else {
                            continue;
                        };
                        let arn = arn.into_bytes();
                        entries.push(Entry {
                            key: key.to_string(),
                            job_id,
                            execution_arn: String::from_utf8_lossy(&arn).into_owned(),
                        });
                    }
                }
            }
            Store::Directory(dir) => {
                let mut listed = match tokio::fs::read_dir(dir).await {
                    Ok(listed) => listed,
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                        return Ok((entries, None));
                    }
                    Err(error) => {
                        return Err(error)
                            .with_context(|| format!("could not list {}", dir.display()));
                    }
                };
                while let Some(file) = listed.next_entry().await? {
                    let name = file.file_name().to_string_lossy().into_owned();
                    let Some(job_id) = due(&name) else {
                        continue;
                    };
                    // Another worker's recovery may have taken it meanwhile.
                    let Ok(arn) = tokio::fs::read_to_string(file.path()).await else {
                        continue;
                    };
                    entries.push(Entry {
                        key: file.path().to_string_lossy().into_owned(),
                        job_id,
                        execution_arn: arn,
                    });
                }
            }
        }
        Ok((entries, next_due))
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

    /// Open, not yet due, due, closed: the directory journal keeps a job
    /// between its acknowledgement and its report, as the S3 one does.
    #[tokio::test]
    async fn a_directory_journal_holds_an_entry_until_it_is_closed() {
        let dir = std::env::temp_dir().join(format!("cpsf-journal-test-{}", std::process::id()));
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .region(aws_sdk_s3::config::Region::new("us-east-1"))
                .build(),
        );
        let journal = Journal::new(s3, JournalLocation::Directory(dir.clone()));
        journal.prepare().await.unwrap();
        let now = crate::base::clock::epoch_now();
        let key = journal
            .open("job-1", "arn:execution:1", now - 60.0)
            .await
            .unwrap();
        journal
            .open("job-2", "arn:execution:2", now + 3600.0)
            .await
            .unwrap();
        let due = journal.stale(Duration::from_secs(10)).await.unwrap();
        assert_eq!(
            due,
            vec![Entry {
                key: key.clone(),
                job_id: "job-1".into(),
                execution_arn: "arn:execution:1".into()
            }]
        );
        // The entry not yet due tells when it will be: its answer time
        // plus the grace.
        let (_, next) = journal
            .stale_and_next(Duration::from_secs(10))
            .await
            .unwrap();
        let expected = (now + 3600.0) as u64 + 10;
        assert!(next.is_some_and(|n| n.abs_diff(expected) <= 1), "{next:?}");
        journal.close(&key).await.unwrap();
        journal.close(&key).await.unwrap();
        assert!(
            journal
                .stale(Duration::from_secs(10))
                .await
                .unwrap()
                .is_empty()
        );
        // The sweep's watermark sits beside the entries and is none of them.
        let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:deploy";
        assert_eq!(journal.swept_until(machine).await, None);
        journal.record_swept(machine, now - 30.0).await;
        let until = journal.swept_until(machine).await.unwrap();
        assert!((until - (now - 30.0)).abs() < 0.01, "{until}");
        let due = journal.stale(Duration::ZERO).await.unwrap();
        assert!(due.iter().all(|e| e.job_id == "job-2"), "{due:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Two workers sweeping one S3 journal: the entry the other took
    /// between this one's listing and its read (NoSuchKey) is skipped, and
    /// the sweep goes on (it used to end the sweep with an error).
    #[tokio::test]
    async fn an_entry_another_sweep_took_is_skipped_not_an_error() {
        use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
        use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
        use aws_sdk_s3::primitives::ByteStream;
        use aws_sdk_s3::types::Object;
        use aws_sdk_s3::types::error::NoSuchKey;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        let listed = mock!(Client::list_objects_v2).then_output(|| {
            ListObjectsV2Output::builder()
                .contents(Object::builder().key("j/job-1@100").build())
                .contents(Object::builder().key("j/job-2@100").build())
                .build()
        });
        let taken = mock!(Client::get_object)
            .match_requests(|r| r.key() == Some("j/job-1@100"))
            .then_error(|| {
                GetObjectError::NoSuchKey(
                    NoSuchKey::builder()
                        .message("The specified key does not exist.")
                        .build(),
                )
            });
        let there = mock!(Client::get_object)
            .match_requests(|r| r.key() == Some("j/job-2@100"))
            .then_output(|| {
                GetObjectOutput::builder()
                    .body(ByteStream::from_static(b"arn:execution:2"))
                    .build()
            });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&listed, &taken, &there]);
        let location = JournalLocation::S3 {
            bucket: "journal".into(),
            prefix: "j/".into(),
        };
        let due = Journal::new(s3, location)
            .stale(Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(
            due,
            vec![Entry {
                key: "j/job-2@100".into(),
                job_id: "job-2".into(),
                execution_arn: "arn:execution:2".into()
            }]
        );
    }
}
