//! `cpsf bootstrap`: installs bootstrap/cpsf.yaml (action type, activities,
//! the deploy state machine, roles, the worker's ECS service) in an account.
//! The state machine's definition is statemachines/deploy.asl.json, uploaded
//! to S3 under a key derived from its content, so a changed definition
//! changes the stack.

use crate::aws::CallContext;
use crate::aws::Clients;
use crate::tasks::TaskContext;
use crate::tasks::definition::DEPLOY_ASL;
use anyhow::{Context, bail};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{Capability, Parameter};
use std::time::Duration;

/// bootstrap/cpsf.yaml, compiled in.
pub const TEMPLATE: &str = include_str!("../bootstrap/cpsf.yaml");

pub struct BootstrapOptions {
    pub stack_name: String,
    /// Where the state machine definition is uploaded.
    pub definition_bucket: String,
    /// Template parameters, `Key=Value`.
    pub parameters: Vec<(String, String)>,
}

/// Creates or updates the stack and waits; returns its outputs.
pub async fn run(
    clients: &Clients,
    options: &BootstrapOptions,
) -> anyhow::Result<Vec<(String, String)>> {
    let key = format!(
        "cpsf/deploy-{:016x}.asl.json",
        crate::tasks::input::fnv1a(DEPLOY_ASL)
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
    let mut parameters = vec![
        parameter("DefinitionBucket", &options.definition_bucket),
        parameter("DefinitionKey", &key),
    ];
    parameters.extend(options.parameters.iter().map(|(k, v)| parameter(k, v)));
    let cfn = clients.cloudformation();
    let exists = crate::tasks::stack::describe(&cfn, &options.stack_name)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .is_some_and(|s| {
            s.stack_status()
                .is_some_and(|st| st.as_str() != "DELETE_COMPLETE")
        });
    let started = crate::tasks::epoch_now();
    if exists {
        let updated = cfn
            .update_stack()
            .stack_name(&options.stack_name)
            .template_body(TEMPLATE)
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
                return outputs(clients, &options.stack_name).await;
            }
            Err(e) => Err(e).call_context(format!("UpdateStack {}", options.stack_name))?,
        }
    } else {
        let created = cfn
            .create_stack()
            .stack_name(&options.stack_name)
            .template_body(TEMPLATE)
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
        created.call_context(format!("CreateStack {}", options.stack_name))?;
    }
    wait(clients, &options.stack_name, started).await?;
    outputs(clients, &options.stack_name).await
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

fn parameter(key: &str, value: &str) -> Parameter {
    Parameter::builder()
        .parameter_key(key)
        .parameter_value(value)
        .build()
}

/// Waits until the stack is stable, as the wait-stack task does; a failure
/// names the first failed resource.
async fn wait(clients: &Clients, name: &str, started: f64) -> anyhow::Result<()> {
    let ctx = TaskContext::new(clients, None, Duration::from_secs(3600));
    match crate::tasks::wait_stack::settle(&ctx, name, started).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => bail!("stack {name} was still in progress after an hour"),
        Err(error) => bail!("{}", error.cause),
    }
}

async fn outputs(clients: &Clients, name: &str) -> anyhow::Result<Vec<(String, String)>> {
    let stack = crate::tasks::stack::describe(&clients.cloudformation(), name)
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
mod tests {
    use super::{TEMPLATE, UnsupportedResourceTypes};

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

    /// The lines of one resource of the template.
    fn resource(name: &str) -> Vec<&'static str> {
        let lines: Vec<&str> = TEMPLATE.lines().collect();
        let start = lines
            .iter()
            .position(|l| l.trim_end() == format!("  {name}:"))
            .expect("resource exists");
        lines[start + 1..]
            .iter()
            .take_while(|l| {
                l.is_empty() || l.starts_with("    ") || l.trim_start().starts_with('#')
            })
            .copied()
            .collect()
    }

    #[test]
    fn no_action_is_a_wildcard() {
        for line in TEMPLATE.lines() {
            let action = line
                .trim()
                .trim_start_matches("- ")
                .trim_start_matches("Action: ");
            let is_action = line.contains("Action:")
                || (line.trim().starts_with("- ") && action.contains(':') && !action.contains(' '));
            if is_action {
                assert!(!action.contains('*'), "wildcard action: {line}");
            }
        }
    }

    #[test]
    fn every_wildcard_resource_is_justified_in_a_comment() {
        let lines: Vec<&str> = TEMPLATE.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.contains("Resource: \"*\"") {
                let statement_start = lines[..i]
                    .iter()
                    .rposition(|l| {
                        l.trim_start().starts_with("- Effect:")
                            || l.trim_start().starts_with("- Sid:")
                    })
                    .unwrap_or(0);
                let justified = lines[statement_start.saturating_sub(3)..i]
                    .iter()
                    .any(|l| l.trim_start().starts_with('#'));
                assert!(
                    justified,
                    "line {}: Resource \"*\" without a comment saying why",
                    i + 1
                );
            }
        }
    }

    /// Each action the worker role grants is an API call the worker's code
    /// makes (its snake_case SDK method appears in src/job, src/tasks or
    /// src/sfn.rs); PassRole is implied by handing CloudFormation a roleArn.
    #[test]
    fn the_worker_role_grants_only_what_the_worker_calls() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        fn read_all(path: &std::path::Path, code: &mut String) {
            if path.is_dir() {
                for entry in std::fs::read_dir(path).unwrap() {
                    read_all(&entry.unwrap().path(), code);
                }
            } else {
                code.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
        let mut code = String::new();
        for part in ["sfn.rs", "job", "tasks"] {
            read_all(&root.join(part), &mut code);
        }
        let actions: Vec<String> = resource("WorkerRole")
            .iter()
            .filter_map(|l| {
                let item = l
                    .trim()
                    .trim_start_matches("- ")
                    .trim_start_matches("Action: ");
                let (service, action) = item.split_once(':')?;
                let is_action = !action.contains(' ')
                    && ["codepipeline", "states", "cloudformation", "s3", "iam"].contains(&service);
                is_action.then(|| action.to_string())
            })
            .collect();
        assert!(actions.len() >= 20, "{actions:?}");
        for action in actions {
            if action == "PassRole" {
                assert!(
                    code.contains(".set_role_arn("),
                    "PassRole without a roleArn handed to CloudFormation"
                );
                continue;
            }
            // IAM names ListObjectsV2 after the bucket it lists.
            let action = if action == "ListBucket" {
                "ListObjectsV2".to_string()
            } else {
                action
            };
            let snake: String = action
                .chars()
                .enumerate()
                .flat_map(|(i, c)| {
                    let lower = c.to_ascii_lowercase();
                    if c.is_ascii_uppercase() && i > 0 {
                        vec!['_', lower]
                    } else {
                        vec![lower]
                    }
                })
                .collect();
            assert!(
                code.contains(&format!(".{snake}()")),
                "the worker role grants {action}, which the worker never calls"
            );
        }
    }
}
