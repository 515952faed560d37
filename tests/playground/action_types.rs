//! Custom action types: create, list, delete, and their limits.

use crate::harness::*;
use aws_sdk_codepipeline::types::{ActionCategory, ActionConfigurationProperty, ActionOwner};

fn property(name: &str, queryable: bool) -> ActionConfigurationProperty {
    ActionConfigurationProperty::builder()
        .name(name)
        .required(true)
        .key(true)
        .secret(false)
        .queryable(queryable)
        .build()
        .unwrap()
}

#[tokio::test]
async fn create_list_and_delete_a_custom_action_type() {
    let h = Harness::start().await;
    h.create_deploy_type().await;
    // Creating the same definition again is accepted (set-up is re-runnable).
    h.create_deploy_type().await;

    let custom =
        h.cp.list_action_types()
            .action_owner_filter(ActionOwner::Custom)
            .send()
            .await
            .unwrap();
    let ids: Vec<_> = custom
        .action_types()
        .iter()
        .map(|t| t.id().unwrap().clone())
        .collect();
    assert_eq!(ids, vec![deploy_type_id()]);
    let listed = &custom.action_types()[0];
    assert_eq!(listed.action_configuration_properties().len(), 4);
    assert_eq!(
        listed.settings().unwrap().execution_url_template(),
        Some("https://console.example/states/{ExternalExecutionId}")
    );
    let aws =
        h.cp.list_action_types()
            .action_owner_filter(ActionOwner::Aws)
            .send()
            .await
            .unwrap();
    assert!(
        aws.action_types()
            .iter()
            .any(|t| t.id().unwrap().provider() == "S3")
    );

    h.cp.delete_custom_action_type()
        .category(ActionCategory::Deploy)
        .provider("StepFunctionsDeploy")
        .version("1")
        .send()
        .await
        .unwrap();
    let custom =
        h.cp.list_action_types()
            .action_owner_filter(ActionOwner::Custom)
            .send()
            .await
            .unwrap();
    assert!(custom.action_types().is_empty());
    // As in AWS, a deleted version cannot be created again.
    let again =
        h.cp.create_custom_action_type()
            .category(ActionCategory::Deploy)
            .provider("StepFunctionsDeploy")
            .version("1")
            .input_artifact_details(artifacts(0, 5))
            .output_artifact_details(artifacts(0, 1))
            .send()
            .await;
    assert_eq!(code(again), "ValidationException");
}

#[tokio::test]
async fn action_type_limits() {
    let h = Harness::start().await;
    let base = || {
        h.cp.create_custom_action_type()
            .category(ActionCategory::Deploy)
            .provider("Limits")
            .input_artifact_details(artifacts(0, 5))
            .output_artifact_details(artifacts(0, 1))
    };
    let mut eleven = base().version("1");
    for i in 0..11 {
        eleven = eleven.configuration_properties(property(&format!("P{i}"), false));
    }
    // ActionConfigurationPropertyList: max 10 in the API model, checked
    // before anything else (a ValidationException, not the quota's
    // LimitExceededException).
    assert_eq!(code(eleven.send().await), "ValidationException");

    let two_queryable = base()
        .version("2")
        .configuration_properties(property("A", true))
        .configuration_properties(property("B", true));
    assert_eq!(code(two_queryable.send().await), "ValidationException");

    let six_inputs = base().version("3").input_artifact_details(artifacts(0, 6));
    assert_eq!(code(six_inputs.send().await), "ValidationException");

    let mut ten = base().version("4");
    for i in 0..10 {
        ten = ten.configuration_properties(property(&format!("P{i}"), i == 0));
    }
    ten.send()
        .await
        .expect("ten properties, one queryable, is allowed");
    // Eleven properties and six input artifacts break the API model: the
    // playground refused them before its CodePipeline service saw them.
    let refused: Vec<String> = h
        .take_refusals()
        .iter()
        .flat_map(|r| r.summary.clone())
        .collect();
    assert_eq!(
        refused,
        [
            "at 'configurationProperties': Member must have length less than or equal to 10",
            "at 'inputArtifactDetails.maximumCount': Member must have value less than or equal to 5",
        ]
    );
}
