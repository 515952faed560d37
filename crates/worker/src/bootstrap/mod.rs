//! `cpsf bootstrap`: installs bootstrap/cpsf.yaml (action type, activities,
//! the deploy state machine, roles, the worker's ECS service) in an account.
//! The state machine's definition is statemachines/deploy.asl.json, uploaded
//! to S3 under a key derived from its content, so a changed definition
//! changes the stack.

use crate::aws::CallContext;
use crate::aws::Clients;
use crate::tasks::TaskContext;
use anyhow::{Context, bail};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{Capability, Parameter};
use definition::DEPLOY_ASL;
use std::time::Duration;

pub mod definition;
pub mod parameters;
pub mod text;

/// bootstrap/cpsf.yaml, compiled in.
pub const TEMPLATE: &str = include_str!("../../../../bootstrap/cpsf.yaml");
/// What each account a rollout deploys to installs: the role the worker
/// assumes there (issue 17). Not installed by `cpsf bootstrap`, which
/// works in the tools account; it is here for its static checks, and the
/// playground installs it in its other accounts (`local/worker_role.rs`).
pub const TARGET_TEMPLATE: &str = include_str!("../../../../bootstrap/target-account.yaml");
/// What each account and region a rollout stages large templates in
/// installs: the staging bucket. Here for its static checks.
#[cfg(test)]
const TARGET_REGION_TEMPLATE: &str = include_str!("../../../../bootstrap/target-region.yaml");

pub struct BootstrapOptions {
    pub stack_name: String,
    /// Where the state machine definition is uploaded.
    pub definition_bucket: String,
    /// Template parameters, `Key=Value`.
    pub parameters: Vec<(String, String)>,
    /// Parameters to return to their template default on an update (any
    /// other parameter not given keeps the stack's value).
    pub resets: Vec<String>,
}

/// Creates or updates the stack and waits; returns its outputs.
pub async fn run(
    clients: &Clients,
    options: &BootstrapOptions,
) -> anyhow::Result<Vec<(String, String)>> {
    let key = format!(
        "cpsf/deploy-{:016x}.asl.json",
        crate::base::hash::fnv1a(DEPLOY_ASL)
    );
    clients
        .s3()
        .put_object()
        .bucket(&options.definition_bucket)
        .key(&key)
        .body(DEPLOY_ASL.as_bytes().to_vec().into())
        .send()
        .await
        .call_context(format!(
            "uploading the definition to s3://{}/{key}",
            options.definition_bucket
        ))?;
    let template_url = upload_template(clients, &options.definition_bucket).await?;
    let mut given = vec![
        (
            "DefinitionBucket".to_string(),
            options.definition_bucket.clone(),
        ),
        ("DefinitionKey".to_string(), key.clone()),
    ];
    given.extend(options.parameters.iter().cloned());
    let existing: Option<Vec<String>> = live_stack(clients, &options.stack_name).await?.map(|s| {
        s.parameters()
            .iter()
            .filter_map(|p| p.parameter_key().map(str::to_string))
            .collect()
    });
    let exists = existing.is_some();
    let parameters: Vec<Parameter> = parameters::plan(
        &parameters::declared(TEMPLATE),
        &given,
        &options.resets,
        existing.as_deref(),
    )
    .map_err(anyhow::Error::msg)?
    .into_iter()
    .map(|(key, send)| parameter(&key, send))
    .collect();
    let template = Template::Url(&template_url);
    create_or_update(clients, &options.stack_name, template, parameters, exists).await
}

/// Stack `name` unless there is none (or only a deleted one).
pub async fn live_stack(
    clients: &Clients,
    name: &str,
) -> anyhow::Result<Option<aws_sdk_cloudformation::types::Stack>> {
    Ok(
        crate::cloudformation::stack::describe(&clients.cloudformation(), name)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .filter(|s| {
                s.stack_status()
                    .is_some_and(|st| st.as_str() != "DELETE_COMPLETE")
            }),
    )
}

/// A template as CreateStack and UpdateStack take it.
pub enum Template<'a> {
    /// Inline (TemplateBody), up to 51,200 bytes.
    Body(&'a str),
    /// By URL (TemplateURL), for a larger one (see [`upload_template`]).
    Url(&'a str),
}

/// Creates stack `name` from `template`, or updates it if it `exists`,
/// waits until it is stable and returns its outputs. An update with
/// nothing to change is no error: the stack is as asked, and stable (an
/// update is refused while another is in progress). A CreateStack refused
/// for resource types CloudFormation does not know is an
/// [`UnsupportedResourceTypes`].
pub async fn create_or_update(
    clients: &Clients,
    name: &str,
    template: Template<'_>,
    parameters: Vec<Parameter>,
    exists: bool,
) -> anyhow::Result<Vec<(String, String)>> {
    let cfn = clients.cloudformation();
    let (body, url) = match template {
        Template::Body(body) => (Some(body.to_string()), None),
        Template::Url(url) => (None, Some(url.to_string())),
    };
    let started = crate::base::clock::epoch_now();
    if exists {
        let updated = cfn
            .update_stack()
            .stack_name(name)
            .set_template_body(body)
            .set_template_url(url)
            .set_parameters(Some(parameters))
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await;
        match updated {
            Ok(_) => {}
            Err(e)
                if e.message()
                    .is_some_and(|m| m.contains("No updates are to be performed")) =>
            {
                return outputs(clients, name).await;
            }
            Err(e) => Err(e).call_context(format!("UpdateStack {name}"))?,
        }
    } else {
        let created = cfn
            .create_stack()
            .stack_name(name)
            .set_template_body(body)
            .set_template_url(url)
            .set_parameters(Some(parameters))
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await;
        if let Err(error) = &created
            && let Some(message) = error
                .message()
                .and_then(UnsupportedResourceTypes::from_message)
        {
            return Err(message.into());
        }
        created.call_context(format!("CreateStack {name}"))?;
    }
    wait(clients, name, started).await?;
    outputs(clients, name).await
}

/// Uploads bootstrap/cpsf.yaml next to the definition, under a key derived
/// from its content, and returns its URL. The template is sent by URL
/// because it is over the 51,200 bytes CreateStack and UpdateStack take
/// inline as TemplateBody (CloudFormation API reference, CreateStack:
/// TemplateBody "Maximum length of 51,200"; by TemplateURL a template may
/// be 1 MB); CloudFormation reads it with the caller's permissions, which
/// just wrote it.
async fn upload_template(clients: &Clients, bucket: &str) -> anyhow::Result<String> {
    let key = format!("cpsf/cpsf-{:016x}.yaml", crate::base::hash::fnv1a(TEMPLATE));
    clients
        .s3()
        .put_object()
        .bucket(bucket)
        .key(&key)
        .body(TEMPLATE.as_bytes().to_vec().into())
        .send()
        .await
        .call_context(format!("uploading the template to s3://{bucket}/{key}"))?;
    crate::cloudformation::template::template_url(&clients.region(), bucket, &key)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// CloudFormation does not know some of the template's resource types.
/// On AWS every type the template uses is public in every commercial
/// region; the playground's MiniStack 1.5.33 lacks
/// `AWS::StepFunctions::Activity` and `AWS::CodePipeline::CustomActionType`
/// (docs/emulators.md), and the demo copes with that.
#[derive(Debug, thiserror::Error)]
#[error("CloudFormation does not know these resource types of bootstrap/cpsf.yaml: {types}")]
pub struct UnsupportedResourceTypes {
    pub types: String,
}

impl UnsupportedResourceTypes {
    /// From CreateStack's ValidationError, which AWS words as
    /// "Template format error: Unrecognized resource types: [A, B]".
    fn from_message(message: &str) -> Option<Self> {
        let types = message
            .strip_prefix("Template format error: Unrecognized resource types: ")?
            .trim_matches(|c| c == '[' || c == ']');
        Some(Self {
            types: types.to_string(),
        })
    }
}

fn parameter(key: &str, send: parameters::Send) -> Parameter {
    let builder = Parameter::builder().parameter_key(key);
    match send {
        parameters::Send::Value(value) => builder.parameter_value(value),
        parameters::Send::UsePreviousValue => builder.use_previous_value(true),
    }
    .build()
}

/// Waits until the stack is stable, as the wait-stack task does; a failure
/// names the first failed resource.
pub async fn wait(clients: &Clients, name: &str, started: f64) -> anyhow::Result<()> {
    let ctx = TaskContext::new(clients, None, Duration::from_secs(3600));
    match crate::tasks::wait_stack::settle(&ctx, name, started).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => bail!("stack {name} was still in progress after an hour"),
        Err(error) => bail!("{}", error.cause),
    }
}

/// Stack `name`'s outputs, as key and value.
pub async fn outputs(clients: &Clients, name: &str) -> anyhow::Result<Vec<(String, String)>> {
    let stack = crate::cloudformation::stack::describe(&clients.cloudformation(), name)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .context("the stack is gone")?;
    Ok(stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect())
}

#[cfg(test)]
mod calls_scan;
#[cfg(test)]
mod schedule_tests;
#[cfg(test)]
mod template_tests;
#[cfg(test)]
mod template_wiring_tests;

#[cfg(test)]
mod tests {
    use super::UnsupportedResourceTypes;

    #[test]
    fn unrecognized_resource_types_are_read_from_cloudformations_message() {
        let message = "Template format error: Unrecognized resource types: \
                       [AWS::CodePipeline::CustomActionType, AWS::StepFunctions::Activity]";
        let found = UnsupportedResourceTypes::from_message(message).unwrap();
        assert_eq!(
            found.types,
            "AWS::CodePipeline::CustomActionType, AWS::StepFunctions::Activity"
        );
        assert!(
            UnsupportedResourceTypes::from_message("Template format error: YAML not well-formed")
                .is_none()
        );
    }
}
