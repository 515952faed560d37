//! Where a pipeline artifact is (its S3 object) and how to read it: the
//! job's temporary credentials, scoped to the artifact bucket, which no
//! `Debug` output shows, and the bucket's KMS key, if any.

use std::fmt;

/// One of a job's input or output artifacts: its name in the pipeline
/// and the S3 object that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactRef {
    pub name: String,
    pub bucket: String,
    pub key: String,
    pub revision: Option<String>,
}

/// Temporary credentials scoped to the artifact bucket.
#[derive(Clone, PartialEq, Eq)]
pub struct ArtifactCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

impl fmt::Debug for ArtifactCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ArtifactCredentials(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionKey {
    pub id: String,
    pub kind: String,
}
