//! CodePipeline variables in the local CodePipeline service, as a worker
//! and a user see them: pipeline-level variables with defaults and
//! overrides, an earlier action's namespaced output variables, and the
//! references AWS refuses (user guide, "Variables reference"). Driven with
//! the Rust SDK here and with boto3 (`tests/data/pipeline_variables.py`).

use crate::harness::*;
use aws_sdk_codepipeline::types::{
    ActionDeclaration, ActionExecutionStatus, PipelineDeclaration, PipelineExecutionStatus,
    PipelineType, PipelineVariable, PipelineVariableDeclaration,
};

/// The deploy action's `Input`: both kinds of reference, and text around.
const INPUT: &str =
    "#{variables.branch}@#{SourceVariables.ETag} in #{codepipeline.PipelineExecutionId}";

/// `app`, V2: `branch` (default `main`) and `team` (no default); the source
/// action in namespace `SourceVariables`; `deploys` after it.
fn variables_pipeline(deploys: Vec<ActionDeclaration>) -> PipelineDeclaration {
    let mut pipeline = pipeline("app", deploys);
    pipeline.pipeline_type = Some(PipelineType::V2);
    pipeline.variables = Some(vec![
        PipelineVariableDeclaration::builder()
            .name("branch")
            .default_value("main")
            .build()
            .unwrap(),
        PipelineVariableDeclaration::builder()
            .name("team")
            .description("who deploys")
            .build()
            .unwrap(),
    ]);
    pipeline.stages[0].actions[0].namespace = Some("SourceVariables".into());
    pipeline
}

/// A deploy action whose `Team` and `Input` are variable references.
fn deploy_with(name: &str, run_order: i32, team: &str, input: &str) -> ActionDeclaration {
    let mut action = deploy_action(name, run_order, team);
    let config = action.configuration.get_or_insert_default();
    config.insert("Input".into(), input.into());
    action
}

fn variable(name: &str, value: &str) -> PipelineVariable {
    PipelineVariable::builder()
        .name(name)
        .value(value)
        .build()
        .unwrap()
}

async fn create(h: &Harness, pipeline: PipelineDeclaration) {
    h.cp.create_pipeline()
        .pipeline(pipeline)
        .send()
        .await
        .expect("create pipeline");
}

#[tokio::test]
async fn a_job_receives_defaults_overrides_and_the_sources_variables_resolved() {
    let h = Harness::start().await;
    h.create_deploy_type().await;
    let deploy = deploy_with("Deploy", 1, "#{variables.team}", INPUT);
    create(&h, variables_pipeline(vec![deploy])).await;
    let declared = h.cp.get_pipeline().name("app").send().await.unwrap();
    let declared = declared.pipeline().unwrap();
    assert_eq!(declared.pipeline_type(), Some(&PipelineType::V2));
    assert_eq!(declared.variables()[0].default_value(), Some("main"));
    assert_eq!(declared.variables()[1].description(), Some("who deploys"));

    let id = cpsf_worker::pipeline::start(&h.cp, "app", &[("team", "blue")])
        .await
        .unwrap();
    // A worker polling for team blue gets the job: queryParam matches the
    // resolved configuration.
    let job = h.poll_job_where(Some("blue")).await;
    let e_tag =
        h.s3.head_object()
            .bucket(SOURCE_BUCKET)
            .key(SOURCE_KEY)
            .send()
            .await
            .unwrap()
            .e_tag
            .unwrap();
    let configuration = job
        .data()
        .unwrap()
        .action_configuration()
        .unwrap()
        .configuration()
        .unwrap();
    assert_eq!(
        configuration["Input"],
        format!("main@{} in {id}", e_tag.trim_matches('"'))
    );
    assert_eq!(configuration["Team"], "blue");

    let execution =
        h.cp.get_pipeline_execution()
            .pipeline_name("app")
            .pipeline_execution_id(&id)
            .send()
            .await
            .unwrap()
            .pipeline_execution
            .unwrap();
    let resolved: Vec<_> = execution
        .variables()
        .iter()
        .map(|v| (v.name().unwrap(), v.resolved_value().unwrap()))
        .collect();
    assert_eq!(resolved, vec![("branch", "main"), ("team", "blue")]);

    let deploy = h.action_detail("app", "Deploy").await.unwrap();
    let input = deploy.input().unwrap();
    assert_eq!(
        input.configuration().unwrap()["Input"],
        INPUT,
        "as declared"
    );
    assert_eq!(input.resolved_configuration().unwrap()["Team"], "blue");
    let source = h.action_detail("app", "Source").await.unwrap();
    let outputs = source.output().unwrap().output_variables().unwrap();
    assert_eq!(outputs["ETag"], e_tag.trim_matches('"'));
}

#[tokio::test]
async fn starts_without_a_required_value_or_with_an_undeclared_one_are_refused() {
    let h = Harness::start().await;
    h.create_deploy_type().await;
    let deploy = deploy_with("Deploy", 1, "#{variables.team}", INPUT);
    create(&h, variables_pipeline(vec![deploy])).await;
    let missing = h.cp.start_pipeline_execution().name("app").send().await;
    assert_eq!(code(missing), "ValidationException");
    let missing = h.cp.start_pipeline_execution().name("app").send().await;
    assert_eq!(
        message(missing),
        "Values for required variables haven't been provided: team"
    );
    let unknown =
        h.cp.start_pipeline_execution()
            .name("app")
            .variables(variable("team", "blue"))
            .variables(variable("colour", "red"))
            .send()
            .await;
    assert_eq!(code(unknown), "ValidationException");
    let listed =
        h.cp.list_pipeline_executions()
            .pipeline_name("app")
            .send()
            .await
            .unwrap();
    assert!(
        listed.pipeline_execution_summaries().is_empty(),
        "nothing started"
    );
}

#[tokio::test]
async fn references_aws_refuses_are_refused_at_create_with_its_messages() {
    let h = Harness::start().await;
    h.create_deploy_type().await;
    let unknown_namespace = deploy_with("Deploy", 1, "blue", "#{Nowhere.Key}");
    let result =
        h.cp.create_pipeline()
            .pipeline(variables_pipeline(vec![unknown_namespace]))
            .send()
            .await;
    let failure = result.unwrap_err();
    let failure = failure.as_service_error().unwrap();
    assert!(failure.is_invalid_action_declaration_exception());
    assert_eq!(
        aws_sdk_codepipeline::error::ProvideErrorMetadata::message(failure).unwrap(),
        "Valid format for a pipeline execution variable reference is a namespace and a key \
         separated by a period (.). The following pipeline execution variables are referencing \
         a namespace that does not exist.\nStageName=[Deploy], ActionName=[Deploy], \
         ActionConfigurationKey=[Input], VariableReferenceText=[Nowhere.Key]"
    );

    // A V1 pipeline has no pipeline-level variables to refer to.
    let v1 = pipeline(
        "v1",
        vec![deploy_with("Deploy", 1, "blue", "#{variables.team}")],
    );
    let result = h.cp.create_pipeline().pipeline(v1).send().await;
    assert_eq!(code(result), "InvalidActionDeclarationException");

    let undeclared = deploy_with("Deploy", 1, "blue", "#{variables.colour}");
    let result =
        h.cp.create_pipeline()
            .pipeline(variables_pipeline(vec![undeclared]))
            .send()
            .await;
    assert!(
        message(result).starts_with("The referenced variables haven't been declared."),
        "refused"
    );

    let twice = variables_pipeline(vec![{
        let mut a = deploy_action("Deploy", 1, "blue");
        a.namespace = Some("SourceVariables".into());
        a
    }]);
    let result = h.cp.create_pipeline().pipeline(twice).send().await;
    assert!(message(result).starts_with("Namespaces must be unique across the pipeline"));
}

/// An earlier deploy's output variables reach a later one through its
/// namespace; a key it did not output fails the later action as AWS
/// fails it, and no job is created for it.
#[tokio::test]
async fn a_later_action_gets_an_earlier_ones_outputs_and_fails_on_a_key_it_lacks() {
    let h = Harness::start().await;
    h.create_deploy_type().await;
    let mut first = deploy_action("First", 1, "blue");
    first.namespace = Some("FirstOut".into());
    let second = deploy_with("Second", 2, "#{FirstOut.team}", "#{FirstOut.missing}");
    create(&h, variables_pipeline(vec![first, second])).await;
    let id = cpsf_worker::pipeline::start(&h.cp, "app", &[("team", "blue")])
        .await
        .unwrap();
    let job = h.poll_job().await;
    assert_eq!(action_of(&job).name(), Some("First"));
    h.acknowledge(&job).await;
    h.cp.put_job_success_result()
        .job_id(job.id().unwrap())
        .output_variables("team", "green")
        .send()
        .await
        .unwrap();
    h.wait_for_status("app", &id, PipelineExecutionStatus::Failed)
        .await;
    assert!(h.poll_once(None).await.is_none(), "no job for Second");
    let second = h.action_detail("app", "Second").await.unwrap();
    assert_eq!(second.status(), Some(&ActionExecutionStatus::Failed));
    let error = second
        .output()
        .unwrap()
        .execution_result()
        .unwrap()
        .error_details()
        .unwrap();
    assert_eq!(
        error.message(),
        Some(
            "An action in this pipeline failed because one or more variables could not be \
             resolved: Action name=Second. This can result when a variable is referenced that \
             does not exist. Validate the configuration for this action."
        )
    );
}

/// The same behaviour through boto3 (MiniStack's venv has it), configured by
/// nothing but the playground's variables.
#[tokio::test]
async fn boto3_sees_the_same_variables() {
    let h = Harness::start().await;
    let vars = [
        ("SOURCE_BUCKET", SOURCE_BUCKET),
        ("SOURCE_KEY", SOURCE_KEY),
        ("ARTIFACT_BUCKET", ARTIFACT_BUCKET),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    python_says_ok(
        "pipeline_variables.py",
        vars.into_iter()
            .chain(h.env.vars().into_iter().map(|(k, v)| (k.to_string(), v))),
    )
    .await;
}
