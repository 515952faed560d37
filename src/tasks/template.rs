//! The stack template: read from the revision artifact named in the input's
//! `pipeline` key, with the worker's own credentials. CloudFormation takes a
//! body of at most 51,200 bytes; larger templates go through a staging
//! bucket and a TemplateURL.

use super::error::TaskError;
use super::input::TaskInput;
use crate::job::artifact::{self, Limits};
use crate::job::s3::ArtifactStore;

/// CloudFormation's limit on TemplateBody.
pub const MAX_BODY_BYTES: usize = 51_200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    Body(String),
    Url(String),
}

pub struct Templates {
    pub s3: aws_sdk_s3::Client,
    /// Where templates over 51,200 bytes are staged.
    pub staging_bucket: Option<String>,
    pub region: String,
}

impl Templates {
    pub async fn load(&self, input: &TaskInput) -> Result<TemplateSource, TaskError> {
        let body = self.read_body(input).await?;
        self.source(input, body).await
    }

    /// The template's text from the revision artifact.
    pub async fn read_body(&self, input: &TaskInput) -> Result<String, TaskError> {
        let deploy = &input.deploy;
        let path = deploy.template_path.as_deref().ok_or_else(|| {
            TaskError::input("templatePath is required: the template's path inside the revision")
        })?;
        let artifact = deploy
            .pipeline
            .as_ref()
            .and_then(|p| p.artifacts.first())
            .ok_or_else(|| {
                TaskError::input("the input has no pipeline.artifacts: the template is read from the pipeline's revision")
            })?;
        let limits = Limits::default();
        let reference = crate::job::data::ArtifactRef {
            name: artifact.name.clone().unwrap_or_default(),
            bucket: artifact.bucket.clone(),
            key: artifact.key.clone(),
            revision: None,
        };
        let zip = ArtifactStore::new(self.s3.clone())
            .download(&reference, limits.max_archive_bytes)
            .await
            .map_err(|e| {
                // Retrying cannot fix a missing permission.
                if e.contains("AccessDenied") {
                    TaskError::new("Cpsf.Denied", e)
                } else {
                    TaskError::unavailable(e)
                }
            })?;
        let bytes = artifact::read_file(&zip, path, &limits)
            .map_err(|e| TaskError::template(format!("templatePath: {e}")))?;
        String::from_utf8(bytes)
            .map_err(|_| TaskError::template(format!("{path} is not UTF-8 text")))
    }

    /// The body inline, or staged in S3 when it is too large for that.
    pub async fn source(
        &self,
        input: &TaskInput,
        body: String,
    ) -> Result<TemplateSource, TaskError> {
        let path = input
            .deploy
            .template_path
            .as_deref()
            .unwrap_or("the template");
        if body.len() <= MAX_BODY_BYTES {
            return Ok(TemplateSource::Body(body));
        }
        let bucket = self.staging_bucket.as_deref().ok_or_else(|| {
            TaskError::new(
                "Cpsf.TemplateTooLarge",
                format!(
                    "{path} is {} bytes; CloudFormation takes at most {MAX_BODY_BYTES} inline. \
                     Start the worker with --staging-bucket so larger templates go through S3",
                    body.len()
                ),
            )
        })?;
        let key = format!("cpsf/templates/{}.template", input.token("template"));
        self.s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .body(body.into_bytes().into())
            .send()
            .await
            .map_err(|e| TaskError::from_sdk("PutObject (staging bucket)", e))?;
        Ok(TemplateSource::Url(format!(
            "https://s3.{}.amazonaws.com/{bucket}/{key}",
            self.region
        )))
    }
}
