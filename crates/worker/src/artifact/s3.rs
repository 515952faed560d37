//! The job's artifacts in S3, reached with the job's own temporary
//! credentials (scoped by CodePipeline to the artifact bucket).

use super::location::{ArtifactCredentials, ArtifactRef, EncryptionKey};
use super::ranged::RangedReader;
use super::read::{self, ArtifactError, Limits};
use super::s3_ranges::{BlockingFetch, RemoteObject};
use aws_config::SdkConfig;
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::types::ServerSideEncryption;
use std::io::{Cursor, Write};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Artifact reads at once in the process. Each holds at most
/// `ranged::CACHED_BLOCKS` blocks (1 MiB), the central directory as the zip
/// crate parses it (≤ `Limits::max_directory_bytes`, 4 MiB, and
/// `Limits::max_entries` entries, both checked from the end records
/// before it is parsed) and the file read (≤ `Limits::max_file_bytes`,
/// 8 MiB): ~15 MiB at worst, ~1 MiB for a typical deploy.json, so eight
/// stay well inside a 512 MB task while a ninth job waits a few requests'
/// time.
pub const MAX_READS: usize = 8;

static READS: Semaphore = Semaphore::const_new(MAX_READS);

/// Why an input file could not be read: S3 (maybe passing: access,
/// throttling, the network) or the artifact itself (never passing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    S3(String),
    Artifact(ArtifactError),
}

/// The name of the file inside the output artifact's zip.
pub const OUTPUT_FILE: &str = "output.json";

pub struct ArtifactStore {
    client: aws_sdk_s3::Client,
}

impl ArtifactStore {
    /// Artifacts read with the worker's own credentials (the task handlers).
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }

    /// An S3 client for one job. Endpoint, region and retry settings come
    /// from the worker's configuration; only the credentials differ.
    pub fn for_job(sdk: &SdkConfig, credentials: &ArtifactCredentials) -> Self {
        let credentials = Credentials::new(
            &credentials.access_key_id,
            &credentials.secret_access_key,
            Some(credentials.session_token.clone()),
            None,
            "codepipeline-artifacts",
        );
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .credentials_provider(credentials)
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(config),
        }
    }

    /// Reads `path` out of the zip `artifact` without holding the zip: a
    /// ranged GET of its tail (which tells its size and holds the end of
    /// central directory record, usually the whole central directory),
    /// then ranged GETs of what else the zip crate asks for, the wanted
    /// entry's local header and data above all (S3 API reference,
    /// GetObject: `Range`, one range per request). At most [`MAX_READS`]
    /// artifacts are read at once in the process, jobs and task handlers
    /// together, so memory stays bounded however many jobs arrive.
    pub async fn read_file(
        &self,
        artifact: &ArtifactRef,
        path: &str,
        limits: &Limits,
    ) -> Result<Vec<u8>, ReadError> {
        let _permit = READS
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let object = RemoteObject {
            client: self.client.clone(),
            bucket: artifact.bucket.clone(),
            key: artifact.key.clone(),
            e_tag: None,
        };
        let (object, size, tail) = object.open(limits.max_archive_bytes).await?;
        let failed = Arc::new(Mutex::new(None));
        let fetch = BlockingFetch {
            object,
            runtime: tokio::runtime::Handle::current(),
            failed: failed.clone(),
        };
        let (path, limits) = (path.to_string(), *limits);
        // The zip crate reads synchronously; each range is awaited on this
        // runtime from a blocking thread.
        let read = tokio::task::spawn_blocking(move || {
            read::read_file(RangedReader::new(fetch, size, tail), &path, &limits)
        })
        .await
        .map_err(|e| ReadError::S3(format!("the artifact read stopped: {e}")))?;
        // A failed GET surfaces from the zip crate as a broken zip; say what
        // it was instead (and let the caller retry).
        read.map_err(|e| match failed.lock().expect("not poisoned").take() {
            Some(message) => ReadError::S3(message),
            None => ReadError::Artifact(e),
        })
    }

    /// Writes the output artifact: a zip holding `output.json`, always with
    /// SSE-KMS. The artifact bucket the CodePipeline console creates denies
    /// any PutObject without `x-amz-server-side-encryption: aws:kms`
    /// (CodePipeline user guide, "Configure server-side encryption for
    /// artifacts stored in Amazon S3"), and AWS's own job worker (the
    /// Jenkins plugin) always sends it. The pipeline's key when the job
    /// names one; else the account's AWS managed key, named by its alias
    /// [`AWS_MANAGED_S3_KEY`] (the header takes "Key ID, Key ARN, or Key
    /// Alias", S3 API reference, PutObject; left out, S3 would pick the same
    /// key, but MiniStack refuses `aws:kms` without a key id:
    /// docs/emulators.md).
    pub async fn upload_output(
        &self,
        artifact: &ArtifactRef,
        output_json: &str,
        key: Option<&EncryptionKey>,
    ) -> Result<(), String> {
        let zip = zip_single(OUTPUT_FILE, output_json.as_bytes())
            .map_err(|e| format!("could not zip the output: {e}"))?;
        let key_id = key
            .filter(|k| k.kind.eq_ignore_ascii_case("KMS"))
            .map_or(AWS_MANAGED_S3_KEY, |k| k.id.as_str());
        let put = self
            .client
            .put_object()
            .bucket(&artifact.bucket)
            .key(&artifact.key)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(key_id)
            .body(zip.into());
        put.send().await.map_err(|e| {
            format!(
                "could not write the output artifact to s3://{}/{}: {}",
                artifact.bucket,
                artifact.key,
                DisplayErrorContext(e)
            )
        })?;
        Ok(())
    }
}

/// The alias of the AWS managed key S3 encrypts with when none is named.
pub const AWS_MANAGED_S3_KEY: &str = "alias/aws/s3";

fn zip_single(name: &str, content: &[u8]) -> zip::result::ZipResult<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer.start_file(name, zip::write::SimpleFileOptions::default())?;
    writer.write_all(content)?;
    Ok(writer.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::read::read_file;

    #[test]
    fn the_output_zip_holds_the_output_json() {
        let zip = zip_single(OUTPUT_FILE, b"{\"a\":1}").unwrap();
        assert_eq!(
            read_file(Cursor::new(&zip), OUTPUT_FILE, &Limits::default()).unwrap(),
            b"{\"a\":1}"
        );
    }
}
