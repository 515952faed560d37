//! The stack template: read from the revision artifact named in the input's
//! `pipeline` key, with the worker's own credentials. CloudFormation takes a
//! body of at most 51,200 bytes; larger templates go through a staging
//! bucket and a TemplateURL.

use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::artifact::read::Limits;
use crate::artifact::s3::{ArtifactStore, ReadError};

/// CloudFormation's limit on TemplateBody.
pub const MAX_BODY_BYTES: usize = 51_200;

/// Whether the template calls macros: a top-level `Transform` (SAM,
/// `AWS::Include`, `AWS::LanguageExtensions`, a macro of the account) or an
/// embedded `Fn::Transform`. CloudFormation expands these when it makes the
/// stack's change set, so the result is only known from a change set
/// ("Perform custom processing on CloudFormation templates with template
/// macros", user guide). Textual, in YAML or JSON: a false positive costs
/// only a change set on create.
pub fn calls_macros(template: &str) -> bool {
    // A JSON template may be one line (a generated or minified one): read
    // its top-level keys rather than its lines.
    if let Ok(serde_json::Value::Object(top)) = serde_json::from_str(template) {
        return top.contains_key("Transform") || template.contains("Fn::Transform");
    }
    template.lines().any(|line| {
        let line = line.trim_start_matches('\u{feff}');
        let top_level_yaml = line.starts_with("Transform:");
        let json_key = line.trim_start().starts_with("\"Transform\"");
        top_level_yaml || json_key
    }) || template.contains("Fn::Transform")
        || template.contains("!Transform")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    Body(String),
    Url(String),
}

pub struct Templates {
    /// Reads the revision, with the worker's own credentials.
    pub s3: aws_sdk_s3::Client,
    /// Where a template over 51,200 bytes is staged, or why nowhere.
    pub staging: Result<Staging, String>,
}

/// A bucket templates are staged in, the region it is in, and a client
/// with the credentials that write it and that CloudFormation reads the
/// TemplateURL with (the caller's permissions: "TemplateURL must reference
/// a valid S3 object to which you have access").
#[derive(Clone)]
pub struct Staging {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub region: String,
}

impl Staging {
    /// The worker's own `--staging-bucket`, in its region.
    pub fn of_worker(
        s3: aws_sdk_s3::Client,
        bucket: Option<String>,
        region: String,
    ) -> Result<Staging, String> {
        let bucket = bucket
            .ok_or("Start the worker with --staging-bucket so larger templates go through S3")?;
        Ok(Staging { s3, bucket, region })
    }

    /// Where a rollout target's large template goes: the target's own
    /// `stagingBucket`, written with `target_s3` (the target's credentials,
    /// in its region); else the worker's, only for a target in the worker's
    /// account and region (`stages_for`).
    pub fn for_target(
        worker: &Result<Staging, String>,
        target: &crate::targets::key::TargetKey,
        target_s3: aws_sdk_s3::Client,
        worker_region: &str,
    ) -> Result<Staging, String> {
        if let Some(bucket) = &target.staging_bucket {
            return Ok(Staging {
                s3: target_s3,
                bucket: bucket.clone(),
                region: target.region.clone(),
            });
        }
        if stages_for(Some(target), worker_region) {
            return worker.clone();
        }
        Err(format!(
            "Target '{}' is in another account or region than the worker's staging bucket, \
             which cannot serve it: CloudFormation reads a TemplateURL with the caller's \
             permissions (the target's role) and wants the bucket in the stack's region. Give \
             the target a stagingBucket in its own account and region \
             (bootstrap/target-region.yaml makes one)",
            target.name
        ))
    }
}

impl Templates {
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
        let reference = crate::artifact::location::ArtifactRef {
            name: artifact.name.clone().unwrap_or_default(),
            bucket: artifact.bucket.clone(),
            key: artifact.key.clone(),
            revision: None,
        };
        let bytes = ArtifactStore::new(self.s3.clone())
            .read_file(&reference, path, &limits)
            .await
            .map_err(|e| match e {
                // Retrying cannot fix a missing permission.
                ReadError::S3(e) if e.contains("AccessDenied") => TaskError::new("Cpsf.Denied", e),
                ReadError::S3(e) => TaskError::unavailable(e),
                ReadError::Artifact(e) => TaskError::template(format!("templatePath: {e}")),
            })?;
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
        let staging = self.staging.as_ref().map_err(|why| {
            TaskError::new(
                "Cpsf.TemplateTooLarge",
                format!(
                    "{path} is {} bytes; CloudFormation takes at most {MAX_BODY_BYTES} inline. {why}",
                    body.len()
                ),
            )
        })?;
        let key = format!("cpsf/templates/{}.template", input.token("template"));
        staging
            .s3
            .put_object()
            .bucket(&staging.bucket)
            .key(&key)
            .body(body.into_bytes().into())
            .send()
            .await
            .map_err(|e| TaskError::from_sdk("PutObject (staging bucket)", e))?;
        Ok(TemplateSource::Url(
            template_url(&staging.region, &staging.bucket, &key).await?,
        ))
    }
}

/// Whether a template staged in the worker's bucket (in `region`, the
/// worker's) can serve the deploy: CloudFormation reads a TemplateURL with
/// the caller's permissions, so a target reached through another account's
/// role could not read it, and the staging bucket is in one region.
fn stages_for(target: Option<&crate::targets::key::TargetKey>, region: &str) -> bool {
    target.is_none_or(|t| t.role_arn.is_none() && t.region == region)
}

/// The S3 URL of a staged template, in the region's partition
/// (`amazonaws.com.cn` in aws-cn, …), from the S3 SDK's own endpoint rules
/// rather than a hard-coded domain. Path style, which every partition's S3
/// serves and CloudFormation's TemplateURL accepts.
pub async fn template_url(region: &str, bucket: &str, key: &str) -> Result<String, TaskError> {
    use aws_sdk_s3::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
    let params = Params::builder()
        .region(region)
        .bucket(bucket)
        .force_path_style(true)
        .build()
        .map_err(|e| TaskError::input(format!("staging bucket {bucket} in {region}: {e}")))?;
    let endpoint = DefaultResolver::new()
        .resolve_endpoint(&params)
        .await
        .map_err(|e| TaskError::input(format!("staging bucket {bucket} in {region}: {e}")))?;
    Ok(format!("{}/{key}", endpoint.url().trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::{calls_macros, stages_for, template_url};
    use crate::targets::key::TargetKey;

    fn target(region: &str, role: Option<&str>) -> TargetKey {
        TargetKey {
            name: "t".into(),
            account: role.map(|_| "222222222222".into()),
            region: region.into(),
            role_arn: role.map(str::to_string),
            staging_bucket: None,
        }
    }

    #[test]
    fn only_a_deploy_in_the_workers_account_and_region_goes_through_its_staging_bucket() {
        assert!(stages_for(None, "us-east-1"));
        assert!(stages_for(Some(&target("us-east-1", None)), "us-east-1"));
        assert!(!stages_for(Some(&target("eu-west-1", None)), "us-east-1"));
        assert!(!stages_for(
            Some(&target(
                "us-east-1",
                Some("arn:aws:iam::222222222222:role/t")
            )),
            "us-east-1"
        ));
    }

    /// Each partition's own S3 domain (AWS General Reference, "Amazon S3
    /// endpoints"; aws-us-gov shares amazonaws.com).
    #[tokio::test]
    async fn a_staged_template_is_addressed_in_its_regions_partition() {
        let url = |region| async move {
            template_url(region, "staging", "cpsf/templates/t.template")
                .await
                .unwrap()
        };
        assert_eq!(
            url("us-east-1").await,
            "https://s3.us-east-1.amazonaws.com/staging/cpsf/templates/t.template"
        );
        assert_eq!(
            url("cn-north-1").await,
            "https://s3.cn-north-1.amazonaws.com.cn/staging/cpsf/templates/t.template"
        );
        assert_eq!(
            url("us-gov-west-1").await,
            "https://s3.us-gov-west-1.amazonaws.com/staging/cpsf/templates/t.template"
        );
    }

    #[test]
    fn a_transform_in_yaml_or_json_or_embedded_calls_macros() {
        assert!(calls_macros(
            "Transform: AWS::Serverless-2016-10-31\nResources: {}\n"
        ));
        assert!(calls_macros("Transform:\n  - AWS::LanguageExtensions\n"));
        assert!(calls_macros(
            "{\n  \"Transform\": \"AWS::Serverless-2016-10-31\",\n  \"Resources\": {}\n}"
        ));
        assert!(calls_macros(
            "Resources:\n  A:\n    Fn::Transform:\n      Name: AWS::Include\n"
        ));
        // Minified JSON, as generators write it: one line.
        assert!(calls_macros(
            r#"{"AWSTemplateFormatVersion":"2010-09-09","Transform":"AWS::Serverless-2016-10-31","Resources":{}}"#
        ));
        assert!(calls_macros(
            r#"{"Resources":{"A":{"Fn::Transform":{"Name":"AWS::Include"}}}}"#
        ));
        assert!(!calls_macros(
            r#"{"Description":"Transform data nightly","Resources":{}}"#
        ));
        assert!(!calls_macros(
            "Description: Transform data nightly\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n"
        ));
    }
}
