//! The stacks an earlier stage of a real pipeline would have deployed,
//! whose outputs the demo's deploys read (issue 29, items 1 and 2):
//!
//! - `--targets`: a layer stack in each target's account and region; each
//!   target's Greeting parameter is `{"fromStack": "cpsf-demo-layer",
//!   "output": "Greeting"}`, read where that target deploys, so every
//!   target shows its own layer's greeting;
//! - `--approval`: the staging site, whose URL the approval links to as
//!   its `reviewUrl`.
//!
//! The demo makes them as the account's root, with CloudFormation itself.

use anyhow::Context;
use aws_config::{Region, SdkConfig};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::Parameter;
use cpsf_worker::aws::{CallContext, Clients};
use cpsf_worker::cloudformation::stack::{self, Progress};
use cpsf_worker::tasks::TaskContext;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// The layer every rollout target reads its greeting from (under the
/// worker role's DeployedStackPrefix `cpsf-demo-`, so the role may read it).
pub const LAYER_STACK: &str = "cpsf-demo-layer";
/// The staging site the approval links to.
pub const STAGING_STACK: &str = "cpsf-demo-staging";
pub const STAGING_URL: &str = "https://staging.cpsf-demo.example/";

/// A stack that holds one value: the parameter `key` kept as an SSM
/// parameter `ssm_name` (a stack needs a resource) and given back as the
/// output `key`.
fn one_value_template(key: &str, ssm_name: &str) -> String {
    format!(
        "AWSTemplateFormatVersion: \"2010-09-09\"\n\
         Description: cpsf demo, a stack deployed before the app, whose {key} output it reads.\n\
         Parameters:\n  {key}:\n    Type: String\n\
         Resources:\n  Setting:\n    Type: AWS::SSM::Parameter\n    Properties:\n      \
         Name: {ssm_name}\n      Type: String\n      Value: !Ref {key}\n\
         Outputs:\n  {key}:\n    Value: !Ref {key}\n"
    )
}

/// `{"fromStack": stack, "output": output}`: a value the deploy reads
/// from another stack's outputs where it deploys.
pub fn from_stack(stack: &str, output: &str) -> Value {
    json!({"fromStack": stack, "output": output})
}

/// The greeting the layer in `account`/`region` gives.
pub fn layer_greeting(account: &str, region: &str) -> String {
    format!("hello from the layer in {account}/{region}")
}

/// Deploys the layer in `account`/`region` (`sdk`: the playground's root
/// configuration).
pub async fn deploy_layer(sdk: &SdkConfig, account: &str, region: &str) -> anyhow::Result<()> {
    let place = in_place(sdk, account, region);
    let greeting = layer_greeting(account, region);
    let template = one_value_template("Greeting", "/cpsf-demo/layer/greeting");
    deploy(&place, LAYER_STACK, &template, &[("Greeting", &greeting)]).await
}

/// Deploys the staging site in the playground's own account and region.
pub async fn deploy_staging(sdk: &SdkConfig) -> anyhow::Result<()> {
    let template = one_value_template("SiteUrl", "/cpsf-demo/staging/site-url");
    deploy(sdk, STAGING_STACK, &template, &[("SiteUrl", STAGING_URL)]).await
}

/// `sdk` acting in `account` (MiniStack takes a 12-digit access key id as
/// the account: docs/emulators.md) and `region`.
pub fn in_place(sdk: &SdkConfig, account: &str, region: &str) -> SdkConfig {
    let sdk = match account {
        cpsf_playground::names::ACCOUNT_ID => sdk.clone(),
        other => cpsf_playground::worker_role::in_account(sdk, other),
    };
    sdk.to_builder()
        .region(Region::new(region.to_string()))
        .build()
}

/// Stack `name`'s outputs in `sdk`'s account and region (key → value);
/// empty when there is no such stack.
pub async fn outputs(sdk: &SdkConfig, name: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let found = stack::describe(&cfn, name).await?;
    Ok(found
        .iter()
        .flat_map(|s| s.outputs())
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect())
}

/// Creates stack `name`, or updates it when it is there (no changes is
/// fine), and waits until CloudFormation is done with it.
async fn deploy(
    sdk: &SdkConfig,
    name: &str,
    template: &str,
    parameters: &[(&str, &str)],
) -> anyhow::Result<()> {
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let parameters: Vec<Parameter> = parameters
        .iter()
        .map(|(key, value)| {
            Parameter::builder()
                .parameter_key(*key)
                .parameter_value(*value)
                .build()
        })
        .collect();
    let created = cfn
        .create_stack()
        .stack_name(name)
        .template_body(template)
        .set_parameters(Some(parameters.clone()))
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(error) if error.code() == Some("AlreadyExistsException") => {
            let updated = cfn
                .update_stack()
                .stack_name(name)
                .template_body(template)
                .set_parameters(Some(parameters))
                .send()
                .await;
            match updated {
                Ok(_) => {}
                // "No updates are to be performed." (a ValidationError:
                // CloudFormation API reference, UpdateStack).
                Err(error)
                    if error
                        .message()
                        .is_some_and(|m| m.contains("No updates are to be performed")) => {}
                Err(error) => Err(error).call_context(format!("UpdateStack {name}"))?,
            }
        }
        Err(error) => Err(error).call_context(format!("CreateStack {name}"))?,
    }
    let ctx = TaskContext::new(&Clients::new(sdk), None, Duration::from_secs(120));
    let status = ctx
        .watch(name, |found| {
            let status = found?.stack_status()?.as_str().to_string();
            (stack::progress(&status) != Progress::Running).then_some(status)
        })
        .await?
        .with_context(|| format!("stack {name} did not settle within 2 minutes"))?;
    anyhow::ensure!(
        matches!(status.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE"),
        "stack {name} ended {status}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_one_value_template_gives_its_parameter_back_as_the_output() {
        assert_eq!(
            super::one_value_template("SiteUrl", "/cpsf-demo/staging/site-url"),
            "AWSTemplateFormatVersion: \"2010-09-09\"\n\
             Description: cpsf demo, a stack deployed before the app, whose SiteUrl output it reads.\n\
             Parameters:\n  SiteUrl:\n    Type: String\n\
             Resources:\n  Setting:\n    Type: AWS::SSM::Parameter\n    Properties:\n      \
             Name: /cpsf-demo/staging/site-url\n      Type: String\n      Value: !Ref SiteUrl\n\
             Outputs:\n  SiteUrl:\n    Value: !Ref SiteUrl\n"
        );
    }
}
