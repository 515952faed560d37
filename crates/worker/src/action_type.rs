//! The custom action type cpsf serves: `Deploy / Custom / StepFunctionsDeploy
//! / 1`, with configuration keys mirroring AWS's built-in Step Functions
//! action (shared/design.md, "The custom action contract").

use crate::aws::CallContext;
use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::types::{
    ActionCategory, ActionConfigurationProperty, ActionConfigurationPropertyType, ActionOwner,
    ActionTypeId, ActionTypeSettings, ArtifactDetails,
};

pub const PROVIDER: &str = "StepFunctionsDeploy";
pub const VERSION: &str = "1";
/// Links an action execution to its Step Functions execution in the console.
pub const EXECUTION_URL: &str =
    "https://console.aws.amazon.com/states/home#/v2/executions/details/{ExternalExecutionId}";
pub const ENTITY_URL: &str =
    "https://console.aws.amazon.com/states/home#/statemachines/view/{Config:StateMachineArn}";

pub fn id() -> ActionTypeId {
    id_for(PROVIDER)
}

/// The same action type under another provider name: a benchmark or a test
/// registers its own so its jobs never reach another worker.
pub fn id_for(provider: &str) -> ActionTypeId {
    ActionTypeId::builder()
        .category(ActionCategory::Deploy)
        .owner(ActionOwner::Custom)
        .provider(provider)
        .version(VERSION)
        .build()
        .expect("all fields set")
}

/// Registers the action type (harmless if it already exists as defined).
pub async fn create(cp: &Client) -> anyhow::Result<()> {
    create_for(cp, PROVIDER).await
}

/// Registers the action type under `provider` (see [`id_for`]).
pub async fn create_for(cp: &Client, provider: &str) -> anyhow::Result<()> {
    let property = |name: &str, required: bool, description: &str| {
        ActionConfigurationProperty::builder()
            .name(name)
            .required(required)
            .key(required)
            .secret(false)
            .queryable(false)
            .description(description)
            .r#type(ActionConfigurationPropertyType::String)
            .build()
            .expect("all fields set")
    };
    let details = |max| {
        ArtifactDetails::builder()
            .minimum_count(0)
            .maximum_count(max)
            .build()
    };
    cp.create_custom_action_type()
        .category(ActionCategory::Deploy)
        .provider(provider)
        .version(VERSION)
        .settings(
            ActionTypeSettings::builder()
                .execution_url_template(EXECUTION_URL)
                .entity_url_template(ENTITY_URL)
                .build(),
        )
        .configuration_properties(property(
            "StateMachineArn",
            true,
            "The state machine to run",
        ))
        .configuration_properties(property(
            "ExecutionNamePrefix",
            false,
            "Prefix of the execution name",
        ))
        .configuration_properties(property(
            "InputType",
            false,
            "Literal (default) or FilePath",
        ))
        .configuration_properties(property(
            "Input",
            false,
            "Literal JSON, or a path in the first input artifact",
        ))
        .input_artifact_details(details(5))
        .output_artifact_details(details(1))
        .send()
        .await
        .call_context("CreateCustomActionType")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The local CodePipeline service gets the action type from here, AWS
    /// from bootstrap/cpsf.yaml: the two must say the same.
    #[test]
    fn the_bootstrap_template_declares_the_same_action_type() {
        let template = crate::bootstrap::TEMPLATE;
        let start = template
            .find("  DeployActionType:")
            .expect("the template declares the action type");
        let end = template[start..]
            .find("\n  # ")
            .map_or(template.len(), |e| start + e);
        let declared = &template[start..end];
        for line in [
            "Category: Deploy".to_string(),
            format!("Provider: {PROVIDER}"),
            format!("Version: \"{VERSION}\""),
            "MinimumCount: 0\n        MaximumCount: 5".to_string(),
            "MinimumCount: 0\n        MaximumCount: 1".to_string(),
        ] {
            assert!(declared.contains(&line), "the template lacks `{line}`");
        }
        for (name, required) in [
            ("StateMachineArn", true),
            ("ExecutionNamePrefix", false),
            ("InputType", false),
            ("Input", false),
        ] {
            let property = format!(
                "- Name: {name}\n          Description: {}\n          Required: {required}\n          Key: {required}\n          Secret: false\n          Queryable: false",
                declared
                    .split(&format!("- Name: {name}\n          Description: "))
                    .nth(1)
                    .and_then(|d| d.lines().next())
                    .unwrap_or("?")
            );
            assert!(
                declared.contains(&property),
                "the template's {name} differs:\n{declared}"
            );
        }
        let properties = declared.matches("- Name: ").count();
        assert_eq!(
            properties, 4,
            "the template declares {properties} configuration properties, src/action_type.rs 4"
        );
        assert!(
            declared.contains("v2/executions/details/{ExternalExecutionId}")
                && EXECUTION_URL.ends_with("v2/executions/details/{ExternalExecutionId}")
        );
        assert!(
            declared.contains("statemachines/view/{Config:StateMachineArn}")
                && ENTITY_URL.ends_with("statemachines/view/{Config:StateMachineArn}")
        );
    }
}
