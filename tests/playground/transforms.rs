//! Templates that call macros (a `Transform`): CloudFormation expands them
//! when it makes a change set, so cpsf creates such a stack through a
//! CREATE change set and updates it through an UPDATE one, with
//! CAPABILITY_AUTO_EXPAND (CloudFormation user guide, "AWS SAM" transform
//! and "Perform custom processing … with template macros").

use crate::deploy_harness::*;
use crate::harness::*;
use cpsf_playground::Emulator;

/// A SAM template: one `AWS::Serverless::SimpleTable`, which the transform
/// expands into an `AWS::DynamoDB::Table`.
const SAM_TEMPLATE: &str = "\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting:
    Type: String
    Default: hello
Resources:
  Settings:
    Type: AWS::Serverless::SimpleTable
    Properties:
      PrimaryKey:
        Name: id
        Type: String
      Tags:
        greeting: !Ref Greeting
Outputs:
  TableName:
    Value: !Ref Settings
  Greeting:
    Value: !Ref Greeting
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sam_template_is_created_and_updated_through_change_sets() {
    if !needs(
        Emulator::Ministack,
        "the SAM transform must be expanded; MiniStack expands it with aws-sam-translator \
         (installed by scripts/setup), fakecloud does not",
    ) {
        return;
    }
    let (h, worker) = deploy_setup().await;
    let mut app = App::sample();
    app.template = SAM_TEMPLATE.to_string();
    app.deploy["parameters"] = serde_json::json!({"Greeting": "hello"});
    // The input names no capability: the template's Transform is the
    // acknowledgement, and cpsf adds CAPABILITY_AUTO_EXPAND.
    app.deploy["capabilities"] = serde_json::json!([]);
    let (status, created) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&created));
    assert!(
        summary(&created).ends_with("succeeded: created"),
        "{}",
        summary(&created)
    );
    assert!(output_variable(&created, "TableName").is_some_and(|t| !t.is_empty()));
    let resources = h
        .clients
        .cloudformation()
        .describe_stack_resources()
        .stack_name("cpsf-demo-app")
        .send()
        .await
        .unwrap();
    let types: Vec<_> = resources
        .stack_resources()
        .iter()
        .filter_map(|r| r.resource_type())
        .collect();
    assert_eq!(
        types,
        ["AWS::DynamoDB::Table"],
        "the transform expanded the table"
    );

    app.deploy["parameters"]["Greeting"] = "hello again".into();
    let (status, updated) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&updated));
    assert_eq!(
        output_variable(&updated, "Greeting").as_deref(),
        Some("hello again")
    );
    let (status, unchanged) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&unchanged));
    assert!(
        summary(&unchanged).ends_with("succeeded: no changes"),
        "{}",
        summary(&unchanged)
    );
    worker.stop().await;
}
