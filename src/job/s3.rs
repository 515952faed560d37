//! The job's artifacts in S3, reached with the job's own temporary
//! credentials (scoped by CodePipeline to the artifact bucket).

use super::data::{ArtifactCredentials, ArtifactRef, EncryptionKey};
use aws_config::SdkConfig;
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::types::ServerSideEncryption;
use std::io::{Cursor, Write};

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

    /// Downloads an artifact, refusing more than `max_bytes`.
    pub async fn download(
        &self,
        artifact: &ArtifactRef,
        max_bytes: u64,
    ) -> Result<Vec<u8>, String> {
        let location = format!("s3://{}/{}", artifact.bucket, artifact.key);
        let object = self
            .client
            .get_object()
            .bucket(&artifact.bucket)
            .key(&artifact.key)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "could not read the input artifact {location}: {}",
                    DisplayErrorContext(e)
                )
            })?;
        let too_large = |size: u64| {
            format!("the input artifact {location} is {size} bytes; at most {max_bytes} are read")
        };
        let declared = object.content_length().unwrap_or(0).max(0) as u64;
        if declared > max_bytes {
            return Err(too_large(declared));
        }
        let mut body = object.body;
        let mut bytes = Vec::with_capacity(declared as usize);
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| format!("could not read the input artifact {location}: {e}"))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > max_bytes {
                return Err(too_large(bytes.len() as u64));
            }
        }
        Ok(bytes)
    }

    /// Writes the output artifact: a zip holding `output.json`. Artifact
    /// buckets usually require SSE-KMS with the pipeline's key.
    pub async fn upload_output(
        &self,
        artifact: &ArtifactRef,
        output_json: &str,
        key: Option<&EncryptionKey>,
    ) -> Result<(), String> {
        let zip = zip_single(OUTPUT_FILE, output_json.as_bytes())
            .map_err(|e| format!("could not zip the output: {e}"))?;
        let mut put = self
            .client
            .put_object()
            .bucket(&artifact.bucket)
            .key(&artifact.key)
            .body(zip.into());
        if let Some(key) = key.filter(|k| k.kind.eq_ignore_ascii_case("KMS")) {
            put = put
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(&key.id);
        }
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

fn zip_single(name: &str, content: &[u8]) -> zip::result::ZipResult<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer.start_file(name, zip::write::SimpleFileOptions::default())?;
    writer.write_all(content)?;
    Ok(writer.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::artifact::{Limits, read_file};

    #[test]
    fn the_output_zip_holds_the_output_json() {
        let zip = zip_single(OUTPUT_FILE, b"{\"a\":1}").unwrap();
        assert_eq!(
            read_file(&zip, OUTPUT_FILE, &Limits::default()).unwrap(),
            b"{\"a\":1}"
        );
    }
}
