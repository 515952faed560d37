//! Pipeline declarations: round trip, versions, masking, and validation
//! against the action types.

use crate::harness::*;
use aws_sdk_codepipeline::types::{ActionDeclaration, InputArtifact, StageDeclaration};

#[tokio::test]
async fn create_get_update_list_delete() {
    let h = Harness::start().await;
    h.create_deploy_type().await;
    h.create_pipeline("app", vec![deploy_action("Deploy", 1, "blue")])
        .await;

    let got = h.cp.get_pipeline().name("app").send().await.unwrap();
    let declared = got.pipeline().unwrap();
    assert_eq!(declared.version(), Some(1));
    let deploy = &declared.stages()[1].actions()[0];
    let config = deploy.configuration().unwrap();
    assert_eq!(config["Team"], "blue");
    assert_eq!(config["Token"], "****", "secret values are masked");
    assert_eq!(
        got.metadata().unwrap().pipeline_arn(),
        Some("arn:aws:codepipeline:us-east-1:123456789012:app")
    );

    let duplicate =
        h.cp.create_pipeline()
            .pipeline(pipeline_declaration("app"))
            .send()
            .await;
    assert_eq!(code(duplicate), "PipelineNameInUseException");

    let updated =
        h.cp.update_pipeline()
            .pipeline(pipeline("app", vec![deploy_action("Deploy", 1, "green")]))
            .send()
            .await
            .unwrap();
    assert_eq!(updated.pipeline().unwrap().version(), Some(2));
    let got = h.cp.get_pipeline().name("app").send().await.unwrap();
    assert_eq!(
        got.pipeline().unwrap().stages()[1].actions()[0]
            .configuration()
            .unwrap()["Team"],
        "green"
    );
    let old = h.cp.get_pipeline().name("app").version(1).send().await;
    assert_eq!(code(old), "PipelineVersionNotFoundException");

    let listed = h.cp.list_pipelines().send().await.unwrap();
    let names: Vec<_> = listed.pipelines().iter().filter_map(|p| p.name()).collect();
    assert_eq!(names, vec!["app"]);

    h.cp.delete_pipeline().name("app").send().await.unwrap();
    assert_eq!(
        code(h.cp.get_pipeline().name("app").send().await),
        "PipelineNotFoundException"
    );
    assert_eq!(
        code(h.cp.get_pipeline_state().name("app").send().await),
        "PipelineNotFoundException"
    );
}

fn pipeline_declaration(name: &str) -> aws_sdk_codepipeline::types::PipelineDeclaration {
    pipeline(name, vec![deploy_action("Deploy", 1, "blue")])
}

/// A deploy action with one configuration key replaced.
fn with_config(key: &str, value: Option<&str>) -> ActionDeclaration {
    let mut action = deploy_action("Deploy", 1, "blue");
    let config = action.configuration.get_or_insert_default();
    match value {
        Some(v) => config.insert(key.into(), v.into()),
        None => config.remove(key),
    };
    action
}

#[tokio::test]
async fn action_configuration_is_checked_against_the_action_type() {
    let h = Harness::start().await;
    h.create_deploy_type().await;
    let create = |action: ActionDeclaration| {
        h.cp.create_pipeline()
            .pipeline(pipeline("app", vec![action]))
            .send()
    };

    let missing = create(with_config("StateMachineArn", None)).await;
    let text = message(missing);
    assert!(
        text.contains("missing required configuration 'StateMachineArn'"),
        "{text}"
    );

    let unknown = create(with_config("Colour", Some("red"))).await;
    let text = message(unknown);
    assert!(text.contains("unknown configuration 'Colour'"), "{text}");

    let long = "x".repeat(1001);
    assert_eq!(
        code(create(with_config("Input", Some(&long))).await),
        "ValidationException"
    );
    create(with_config("Input", Some(&"x".repeat(1000))))
        .await
        .expect("1,000 chars is allowed");
    // The 1,001 characters break the API model (ActionConfigurationValue:
    // max 1000): the playground refused them before its CodePipeline
    // service saw them, as AWS checks its model first.
    let refused: Vec<String> = h
        .take_refusals()
        .iter()
        .flat_map(|r| r.summary.clone())
        .collect();
    assert_eq!(
        refused,
        [
            "at 'pipeline.stages.2.member.actions.1.member.configuration': Map value must satisfy \
          constraint: [Member must have length less than or equal to 1000]"
        ]
    );
}

#[tokio::test]
async fn pipeline_structure_is_checked() {
    let h = Harness::start().await;
    h.create_deploy_type().await;

    let mut one_stage = pipeline_declaration("one");
    one_stage.stages.truncate(1);
    assert_eq!(
        code(h.cp.create_pipeline().pipeline(one_stage).send().await),
        "InvalidStructureException"
    );

    let mut wrong_input = deploy_action("Deploy", 1, "blue");
    wrong_input.input_artifacts = Some(vec![
        InputArtifact::builder().name("Nowhere").build().unwrap(),
    ]);
    let result =
        h.cp.create_pipeline()
            .pipeline(pipeline("bad-input", vec![wrong_input]))
            .send()
            .await;
    assert_eq!(code(result), "InvalidStructureException");

    let mut source_later = pipeline_declaration("late-source");
    source_later.stages.push(
        StageDeclaration::builder()
            .name("Again")
            .actions(source_action())
            .build()
            .unwrap(),
    );
    assert_eq!(
        code(h.cp.create_pipeline().pipeline(source_later).send().await),
        "InvalidStructureException"
    );

    let mut unknown_type = deploy_action("Deploy", 1, "blue");
    unknown_type.action_type_id.as_mut().unwrap().provider = "Nope".into();
    let result =
        h.cp.create_pipeline()
            .pipeline(pipeline("unknown", vec![unknown_type]))
            .send()
            .await;
    assert_eq!(code(result), "InvalidActionDeclarationException");

    let bad_name = pipeline_declaration("has space");
    assert_eq!(
        code(h.cp.create_pipeline().pipeline(bad_name).send().await),
        "ValidationException"
    );

    let none = h.cp.start_pipeline_execution().name("absent").send().await;
    assert_eq!(code(none), "PipelineNotFoundException");
    // The name breaks the API model (PipelineName's pattern): refused by
    // the playground before its CodePipeline service saw it.
    let refused: Vec<String> = h
        .take_refusals()
        .iter()
        .flat_map(|r| r.summary.clone())
        .collect();
    assert_eq!(
        refused,
        [r"at 'pipeline.name': Member must satisfy regular expression pattern: [A-Za-z0-9.@\-_]+"]
    );
}
