//! Where approvals are kept between the request and the decision: an S3
//! location (`--approval-store s3://bucket/prefix`), so any worker can
//! serve the page and a restarted one loses nothing.
//!
//! - `approvals/<id>.json`: the request, its execution, its task token
//!   and when it expires. The token is a secret: the bucket is the
//!   worker's own, and nothing reads the record but the worker and
//!   `cpsf approve` (never shown, never logged).
//! - `approvals/<id>.decision.json`: the one decision, written only if
//!   none is there (S3 conditional writes, `If-None-Match: *`, S3 user
//!   guide, "Add preconditions to S3 operations with conditional
//!   requests"): a second decision, however it comes, changes nothing.
//!   It is written before Step Functions is told, and then says what
//!   became of it ([`Sent`]); it is never taken back, since a failed
//!   answer may have been taken (`decision.rs`).
//! - `executions/<SHA-256 of the execution ARN, hex>`: the id of its
//!   newest approval, for `cpsf approve <execution ARN>`.

use super::ask::Request;
use anyhow::Context;
use aws_sdk_s3::error::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: String,
    pub execution_arn: String,
    pub task_token: String,
    pub request: Request,
    pub requested_at: u64,
    pub expires_at: u64,
    /// The notification went out (a redelivered request is not told twice).
    #[serde(default)]
    pub notified: bool,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.id)
            .field("execution_arn", &self.execution_arn)
            .field("task_token", &"<secret>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub approved: bool,
    /// Who decided, as they gave their name; "timeout" for none.
    pub by: String,
    #[serde(default)]
    pub comment: String,
    /// Epoch seconds.
    #[serde(default)]
    pub at: u64,
    /// "page", "cpsf approve" or "timeout".
    #[serde(default)]
    pub via: String,
}

impl Decision {
    /// "approved by Ann: ship it", "rejected by Rita" or "timed out".
    pub fn said(&self) -> String {
        if self.via == "timeout" {
            return "timed out".into();
        }
        let verb = if self.approved {
            "approved"
        } else {
            "rejected"
        };
        if self.comment.is_empty() {
            format!("{verb} by {}", self.by)
        } else {
            format!("{verb} by {}: {}", self.by, self.comment)
        }
    }
}

/// A decision as the store keeps it: the person's, and whether Step
/// Functions took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    #[serde(flatten)]
    pub decision: Decision,
    #[serde(default)]
    pub sent: Sent,
}

/// What became of a kept decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Sent {
    /// Step Functions took it. A decision kept before this field was
    /// written (issue 27) means the same: a worker then took back the
    /// decisions Step Functions did not take.
    #[default]
    Taken,
    /// Kept, and not confirmed: Step Functions has not answered yet, or
    /// failed in a way that may have taken it. Only the same decision may
    /// be sent again.
    Unconfirmed,
    /// Step Functions no longer waited for it; what its execution said.
    Ended(String),
}

impl Kept {
    /// "approved by Ann", with what became of it when it did not go
    /// through.
    pub fn said(&self) -> String {
        let said = self.decision.said();
        match &self.sent {
            Sent::Taken => said,
            Sent::Unconfirmed => format!("{said}; Step Functions has not confirmed it yet"),
            Sent::Ended(what) => format!("{said}; the deploy no longer waited: {what}"),
        }
    }
}

/// S3's answer to a conditional write that met a concurrent one, and how
/// often and how patiently a put is retried after it (see `put_bytes`).
const CONFLICT: &str = "ConditionalRequestConflict";
const CONFLICT_ATTEMPTS: u32 = 5;
const CONFLICT_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// What an AccessDenied on a record means on a bootstrapped store: its
/// bucket policy lets only the worker's role and the roles given as
/// `ApproverRoleArns` read records (bootstrap/cpsf.yaml,
/// ApprovalStoreBucketPolicy), whatever the caller's own policies allow.
const ACCESS_HINT: &str = " (the approval store keeps task tokens: its bucket policy lets only \
     the worker's role and the bootstrap's ApproverRoleArns read them; run `cpsf approve` from \
     one of those roles)";

#[derive(Clone)]
pub struct Store {
    s3: aws_sdk_s3::Client,
    bucket: String,
    /// Empty or ending in `/`.
    prefix: String,
}

impl Store {
    /// The store at `uri` (`s3://bucket[/prefix]`).
    pub fn new(s3: aws_sdk_s3::Client, uri: &str) -> Result<Store, String> {
        let rest = uri.strip_prefix("s3://").ok_or_else(|| {
            format!("the approval store must be an s3://bucket[/prefix] URI, not '{uri}'")
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("the approval store URI '{uri}' names no bucket"));
        }
        let prefix = prefix.trim_matches('/');
        Ok(Store {
            s3,
            bucket: bucket.to_string(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        })
    }

    fn record_key(&self, id: &str) -> String {
        format!("{}approvals/{id}.json", self.prefix)
    }

    fn decision_key(&self, id: &str) -> String {
        format!("{}approvals/{id}.decision.json", self.prefix)
    }

    /// Keyed by the SHA-256 of the ARN: a 64-bit hash could send two
    /// executions to one key (issue 27), and the record found is checked
    /// against the ARN anyway ([`Store::for_execution`]).
    fn execution_key(&self, execution_arn: &str) -> String {
        let hex = crate::base::hash::sha256_hex(execution_arn);
        format!("{}executions/{hex}", self.prefix)
    }

    /// Where a worker before issue 27 noted an execution's approval (a
    /// 64-bit FNV-1a of the ARN). Read only when the SHA-256 key is not
    /// there: an approval requested before an upgrade of the worker (or
    /// answered by a newer `cpsf approve`) waits up to a day
    /// (`deadline.rs`), and is found for as long.
    fn old_execution_key(&self, execution_arn: &str) -> String {
        format!(
            "{}executions/{:016x}",
            self.prefix,
            crate::base::hash::fnv1a(execution_arn)
        )
    }

    /// Keeps `record`, and notes it as its execution's newest approval.
    pub async fn put(&self, record: &Record) -> anyhow::Result<()> {
        let body = serde_json::to_vec(record)?;
        self.put_bytes(&self.record_key(&record.id), body, false)
            .await?;
        self.put_bytes(
            &self.execution_key(&record.execution_arn),
            record.id.clone().into_bytes(),
            false,
        )
        .await?;
        Ok(())
    }

    pub async fn get(&self, id: &str) -> anyhow::Result<Option<Record>> {
        self.get_json(&self.record_key(id)).await
    }

    pub async fn decision(&self, id: &str) -> anyhow::Result<Option<Kept>> {
        self.get_json(&self.decision_key(id)).await
    }

    /// The newest approval of `execution_arn`: only a record that names
    /// that execution (a key written by hand, or an old key's collision,
    /// must not answer another deploy's task).
    pub async fn for_execution(&self, execution_arn: &str) -> anyhow::Result<Option<Record>> {
        let id = match self.get_bytes(&self.execution_key(execution_arn)).await? {
            Some(id) => id,
            None => match self
                .get_bytes(&self.old_execution_key(execution_arn))
                .await?
            {
                Some(id) => id,
                None => return Ok(None),
            },
        };
        let record = self.get(&String::from_utf8_lossy(&id)).await?;
        Ok(record.filter(|r| r.execution_arn == execution_arn))
    }

    /// Keeps `decision` for approval `id`, unconfirmed, unless one is
    /// there; Err with the one kept otherwise.
    pub async fn decide(&self, id: &str, decision: &Decision) -> anyhow::Result<Result<(), Kept>> {
        let key = self.decision_key(id);
        let kept = Kept {
            decision: decision.clone(),
            sent: Sent::Unconfirmed,
        };
        if self
            .put_bytes(&key, serde_json::to_vec(&kept)?, true)
            .await?
        {
            return Ok(Ok(()));
        }
        let first = self
            .get_json(&key)
            .await?
            .context("a decision was reported there but cannot be read")?;
        Ok(Err(first))
    }

    /// Notes what became of approval `id`'s decision (only the decision
    /// [`Store::decide`] kept is ever passed here). A note that cannot be
    /// written leaves it unconfirmed: the same decision may then be sent
    /// again, and Step Functions says it was.
    pub async fn settle(&self, id: &str, kept: &Kept) {
        let written = match serde_json::to_vec(kept) {
            Ok(body) => self.put_bytes(&self.decision_key(id), body, false).await,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = written {
            tracing::warn!(%id, error = %e, "could not note what became of a decision");
        }
    }

    /// Every approval with no decision yet.
    pub async fn pending(&self) -> anyhow::Result<Vec<Record>> {
        let mut ids = Vec::new();
        let mut decided = std::collections::HashSet::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{}approvals/", self.prefix))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.context("ListObjectsV2 (approval store)")?;
            for key in page.contents().iter().filter_map(|o| o.key()) {
                let name = key.rsplit('/').next().unwrap_or_default();
                if let Some(id) = name.strip_suffix(".decision.json") {
                    decided.insert(id.to_string());
                } else if let Some(id) = name.strip_suffix(".json") {
                    ids.push(id.to_string());
                }
            }
        }
        let mut pending = Vec::new();
        for id in ids.iter().filter(|id| !decided.contains(*id)) {
            if let Some(record) = self.get(id).await? {
                pending.push(record);
            }
        }
        Ok(pending)
    }

    /// Puts `body` at `key`; with `only_new`, only if nothing is there
    /// (false when something was).
    ///
    /// A conditional put answers 412 PreconditionFailed when the key exists,
    /// and 409 ConditionalRequestConflict when a conflicting write was in
    /// flight: "On a 409 failure you should retry the upload" (S3 API
    /// reference, PutObject, `If-None-Match`). Two people deciding at once
    /// meet the 409; the retry then sees the other's decision as a 412.
    async fn put_bytes(&self, key: &str, body: Vec<u8>, only_new: bool) -> anyhow::Result<bool> {
        let mut attempt = 1;
        loop {
            let mut put = self
                .s3
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type("application/json")
                .body(body.clone().into());
            if only_new {
                put = put.if_none_match("*");
            }
            let error = match put.send().await {
                Ok(_) => return Ok(true),
                Err(e) if only_new && e.code() == Some("PreconditionFailed") => return Ok(false),
                Err(e) => e,
            };
            if error.code() == Some(CONFLICT) && attempt < CONFLICT_ATTEMPTS {
                tokio::time::sleep(CONFLICT_PAUSE * attempt).await;
                attempt += 1;
                continue;
            }
            return Err(anyhow::anyhow!(
                "PutObject s3://{}/{key}: {}",
                self.bucket,
                aws_sdk_s3::error::DisplayErrorContext(error)
            ));
        }
    }

    async fn get_bytes(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(object) => Ok(Some(object.body.collect().await?.into_bytes().to_vec())),
            Err(e) if e.code() == Some("NoSuchKey") => Ok(None),
            Err(e) => {
                let hint = if e.code() == Some("AccessDenied") {
                    ACCESS_HINT
                } else {
                    ""
                };
                Err(anyhow::anyhow!(
                    "GetObject s3://{}/{key}: {}{hint}",
                    self.bucket,
                    aws_sdk_s3::error::DisplayErrorContext(e)
                ))
            }
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> anyhow::Result<Option<T>> {
        let Some(bytes) = self.get_bytes(key).await? else {
            return Ok(None);
        };
        Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
            format!("s3://{}/{key} is not an approval record", self.bucket)
        })?))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_sdk_s3::operation::get_object::GetObjectOutput;
    use aws_sdk_s3::operation::put_object::PutObjectOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    /// S3's error body for a status and code (S3 API reference, "Error
    /// responses").
    pub(crate) fn s3_error(code: &str, message: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
             <Message>{message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"
        )
    }

    fn decision(by: &str) -> Decision {
        Decision {
            approved: true,
            by: by.into(),
            comment: String::new(),
            at: 1,
            via: "page".into(),
        }
    }

    /// Ann and Rita decide at once: Rita's conditional put meets Ann's in
    /// flight (409), her retry finds Ann's decision there (412), and she is
    /// told Ann decided first.
    #[tokio::test]
    async fn a_decision_that_meets_another_in_flight_is_retried_and_sees_it() {
        let put = mock!(aws_sdk_s3::Client::put_object)
            .sequence()
            .http_status(
                409,
                Some(s3_error(
                    "ConditionalRequestConflict",
                    "A conflicting conditional operation is currently in progress against this resource. Please try again.",
                )),
            )
            .http_status(
                412,
                Some(s3_error(
                    "PreconditionFailed",
                    "At least one of the pre-conditions you specified did not hold",
                )),
            )
            .build();
        let ann = Kept {
            decision: decision("Ann"),
            sent: Sent::Unconfirmed,
        };
        let first = serde_json::to_vec(&ann).unwrap();
        let get = mock!(aws_sdk_s3::Client::get_object).then_output(move || {
            GetObjectOutput::builder()
                .body(first.clone().into())
                .build()
        });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&put, &get]);
        let store = Store::new(s3, "s3://approvals").unwrap();
        let answer = store.decide("a1", &decision("Rita")).await.unwrap();
        assert_eq!(answer, Err(ann));
        assert_eq!(put.num_calls(), 2);
    }

    const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:shop-1";

    pub(crate) fn record(id: &str, execution_arn: &str) -> Record {
        Record {
            id: id.into(),
            execution_arn: execution_arn.into(),
            task_token: "token".into(),
            request: crate::approval::ask::test_request(&[], "x"),
            requested_at: 0,
            expires_at: 100,
            notified: true,
        }
    }

    /// GetObject answers each key of `objects` with its body, and
    /// NoSuchKey (S3's 404) for any other.
    fn s3_holding(objects: Vec<(String, Vec<u8>)>) -> aws_sdk_s3::Client {
        let mut rules: Vec<aws_smithy_mocks::Rule> = objects
            .into_iter()
            .map(|(key, body)| {
                mock!(aws_sdk_s3::Client::get_object)
                    .match_requests(move |r| r.key() == Some(key.as_str()))
                    .then_output(move || {
                        GetObjectOutput::builder().body(body.clone().into()).build()
                    })
            })
            .collect();
        rules.push(
            mock!(aws_sdk_s3::Client::get_object)
                .sequence()
                .http_status(
                    404,
                    Some(s3_error("NoSuchKey", "The specified key does not exist.")),
                )
                .repeatedly()
                .build(),
        );
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, rules.iter())
    }

    /// A decision kept before [`Sent`] was written was passed on (an older
    /// worker took back what Step Functions refused).
    #[test]
    fn a_decision_kept_by_an_older_worker_counts_as_taken() {
        let old = r#"{"approved":true,"by":"Ann","comment":"","at":1,"via":"page"}"#;
        let kept: Kept = serde_json::from_str(old).unwrap();
        assert_eq!(kept.decision, decision("Ann"));
        assert_eq!(kept.sent, Sent::Taken);
        let ended = Kept {
            decision: decision("Ann"),
            sent: Sent::Ended("it ended".into()),
        };
        let again: Kept = serde_json::from_slice(&serde_json::to_vec(&ended).unwrap()).unwrap();
        assert_eq!(again, ended);
    }

    /// The objects of [`memory_s3`], by key.
    pub(crate) type Objects = Arc<Mutex<BTreeMap<String, Vec<u8>>>>;

    /// An S3 bucket in memory, answering PutObject (with `If-None-Match:
    /// *`: 412 PreconditionFailed when the key is there), GetObject (404
    /// NoSuchKey when it is not) and DeleteObject as S3 does (S3 API
    /// reference).
    pub(crate) fn memory_s3() -> (aws_sdk_s3::Client, Objects) {
        use aws_sdk_s3::operation::get_object::GetObjectError;
        use aws_sdk_s3::operation::put_object::PutObjectError;
        use aws_smithy_mocks::MockResponse;
        use aws_smithy_types::error::ErrorMetadata;
        let objects: Objects = Arc::default();
        let meta = |code: &str, message: &str| {
            ErrorMetadata::builder().code(code).message(message).build()
        };
        let held = objects.clone();
        let put = mock!(aws_sdk_s3::Client::put_object).then_compute_response(move |r| {
            let mut held = held.lock().unwrap();
            let key = r.key().unwrap().to_string();
            if r.if_none_match() == Some("*") && held.contains_key(&key) {
                return MockResponse::Error(PutObjectError::generic(meta(
                    "PreconditionFailed",
                    "At least one of the pre-conditions you specified did not hold",
                )));
            }
            let body = r.body().bytes().expect("an in-memory body").to_vec();
            held.insert(key, body);
            MockResponse::Output(PutObjectOutput::builder().build())
        });
        let held = objects.clone();
        let get =
            mock!(aws_sdk_s3::Client::get_object).then_compute_response(move |r| {
                match held.lock().unwrap().get(r.key().unwrap()) {
                    Some(body) => MockResponse::Output(
                        GetObjectOutput::builder().body(body.clone().into()).build(),
                    ),
                    None => MockResponse::Error(GetObjectError::generic(meta(
                        "NoSuchKey",
                        "The specified key does not exist.",
                    ))),
                }
            });
        // Nothing in cpsf deletes a decision; were it to, this bucket would
        // show it.
        let held = objects.clone();
        let delete = mock!(aws_sdk_s3::Client::delete_object).then_compute_output(move |r| {
            held.lock().unwrap().remove(r.key().unwrap());
            aws_sdk_s3::operation::delete_object::DeleteObjectOutput::builder().build()
        });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&put, &get, &delete]);
        (s3, objects)
    }

    /// `cpsf approve <ARN>` finds the approval under the SHA-256 of the
    /// ARN (a 64-bit hash may collide: issue 27).
    #[tokio::test]
    async fn an_execution_is_found_under_the_sha256_of_its_arn() {
        let s3 = s3_holding(vec![
            (
                format!("executions/{}", crate::base::hash::sha256_hex(ARN)),
                b"a1".to_vec(),
            ),
            (
                "approvals/a1.json".into(),
                serde_json::to_vec(&record("a1", ARN)).unwrap(),
            ),
        ]);
        let store = Store::new(s3, "s3://approvals").unwrap();
        let found = store.for_execution(ARN).await.unwrap();
        assert_eq!(found.map(|r| r.id).as_deref(), Some("a1"));
    }

    /// The key names another execution's approval (a hash collision, or a
    /// key written by hand): it is not taken for this one.
    #[tokio::test]
    async fn another_executions_approval_is_not_taken_for_this_one() {
        let other = "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:shop-2";
        let s3 = s3_holding(vec![
            (
                format!("executions/{}", crate::base::hash::sha256_hex(ARN)),
                b"a2".to_vec(),
            ),
            (
                format!("executions/{:016x}", crate::base::hash::fnv1a(ARN)),
                b"a2".to_vec(),
            ),
            (
                "approvals/a2.json".into(),
                serde_json::to_vec(&record("a2", other)).unwrap(),
            ),
        ]);
        let store = Store::new(s3, "s3://approvals").unwrap();
        assert!(store.for_execution(ARN).await.unwrap().is_none());
    }

    /// A record noted by a worker before issue 27 (the FNV-1a key) is
    /// still found while it may wait.
    #[tokio::test]
    async fn an_approval_noted_under_the_old_key_is_still_found() {
        let s3 = s3_holding(vec![
            (
                format!("executions/{:016x}", crate::base::hash::fnv1a(ARN)),
                b"a3".to_vec(),
            ),
            (
                "approvals/a3.json".into(),
                serde_json::to_vec(&record("a3", ARN)).unwrap(),
            ),
        ]);
        let store = Store::new(s3, "s3://approvals").unwrap();
        let found = store.for_execution(ARN).await.unwrap();
        assert_eq!(found.map(|r| r.id).as_deref(), Some("a3"));
    }

    /// S3's answer when the bucket policy denies the caller (403
    /// AccessDenied, S3 API reference, "Error responses"): the error says
    /// who may read the store.
    #[tokio::test]
    async fn a_reader_the_bucket_policy_denies_is_told_who_may_read() {
        let get = mock!(aws_sdk_s3::Client::get_object)
            .sequence()
            .http_status(403, Some(s3_error("AccessDenied", "Access Denied")))
            .build();
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&get]);
        let store = Store::new(s3, "s3://approvals/cpsf").unwrap();
        let error = store.get("a1").await.unwrap_err().to_string();
        assert!(
            error.starts_with("GetObject s3://approvals/cpsf/approvals/a1.json: "),
            "{error}"
        );
        assert!(error.contains("AccessDenied"), "{error}");
        assert!(
            error.ends_with("run `cpsf approve` from one of those roles)"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_decision_alone_is_written_once() {
        let put = mock!(aws_sdk_s3::Client::put_object)
            .then_output(|| PutObjectOutput::builder().build());
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&put]);
        let store = Store::new(s3, "s3://approvals").unwrap();
        assert_eq!(store.decide("a1", &decision("Ann")).await.unwrap(), Ok(()));
        assert_eq!(put.num_calls(), 1);
    }
}
