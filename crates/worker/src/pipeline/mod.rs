//! The pipeline shape cpsf deploys with: an S3 source action, then one
//! Deploy action of cpsf's type. The demo and the benchmark declare their
//! pipelines through it.

pub mod wire;

use aws_sdk_codepipeline::types::{
    ActionCategory, ActionDeclaration, ActionOwner, ActionTypeId, ArtifactStore, ArtifactStoreType,
    ExecutionMode, InputArtifact, OutputArtifact, PipelineDeclaration, PipelineType,
    PipelineVariableDeclaration, StageDeclaration,
};

pub struct PipelineSpec<'a> {
    pub name: &'a str,
    pub role_arn: &'a str,
    pub artifact_bucket: &'a str,
    pub source_bucket: &'a str,
    pub source_key: &'a str,
    /// The Deploy action's type; usually [`crate::action_type::id`].
    pub action_type: ActionTypeId,
    /// The Deploy action's configuration (StateMachineArn, InputType, …).
    pub configuration: &'a [(&'a str, &'a str)],
}

/// Source (S3, change detection off) → Deploy, with `SourceOutput` passed
/// along and a `DeployOutput` artifact.
pub fn declare(spec: &PipelineSpec) -> PipelineDeclaration {
    let source = s3_source(spec.source_bucket, spec.source_key);
    let mut deploy = ActionDeclaration::builder()
        .name("Deploy")
        .action_type_id(spec.action_type.clone())
        .input_artifacts(
            InputArtifact::builder()
                .name("SourceOutput")
                .build()
                .expect("name set"),
        )
        .output_artifacts(artifact_out("DeployOutput"));
    for (key, value) in spec.configuration {
        deploy = deploy.configuration(*key, *value);
    }
    let stage = |name: &str, action: ActionDeclaration| {
        StageDeclaration::builder()
            .name(name)
            .actions(action)
            .build()
            .expect("all fields set")
    };
    PipelineDeclaration::builder()
        .name(spec.name)
        .role_arn(spec.role_arn)
        .artifact_store(
            ArtifactStore::builder()
                .r#type(ArtifactStoreType::S3)
                .location(spec.artifact_bucket)
                .build()
                .expect("all fields set"),
        )
        .stages(stage("Source", source))
        .stages(stage("Deploy", deploy.build().expect("all fields set")))
        .build()
        .expect("all fields set")
}

/// One pipeline for every branch (issue 19): a V2 pipeline in PARALLEL
/// execution mode with the variables `branch` (which environment; default
/// `main`) and `operation` (`deploy`, or `delete` to tear the environment
/// down), which StartPipelineExecution overrides (CodePipeline user guide, "Variables
/// reference": pipeline-level variables). The Deploy action's `Input`
/// must refer to them, e.g. [`branch_input`].
pub fn per_branch(mut pipeline: PipelineDeclaration) -> PipelineDeclaration {
    let variable = |name: &str, default: &str, description: &str| {
        PipelineVariableDeclaration::builder()
            .name(name)
            .default_value(default)
            .description(description)
            .build()
            .expect("name set")
    };
    pipeline.pipeline_type = Some(PipelineType::V2);
    // Branches are independent: in the default SUPERSEDED mode a newer
    // branch's run would replace an older one waiting between stages
    // (CodePipeline user guide, "Set or change the pipeline execution
    // mode"; PARALLEL needs a V2 pipeline).
    pipeline.execution_mode = Some(ExecutionMode::Parallel);
    pipeline.variables = Some(vec![
        variable("branch", "main", "the environment to deploy or tear down"),
        variable(
            "operation",
            "deploy",
            "deploy, or delete to tear the environment down",
        ),
    ]);
    pipeline
}

/// A Literal `Input` reading `file` from the source and naming the
/// environment and operation from the pipeline's variables
/// (`job::config::InputSource::FileWithOverrides`).
pub fn branch_input(file: &str) -> String {
    serde_json::json!({
        "inputFile": file,
        "environment": "#{variables.branch}",
        "operation": "#{variables.operation}",
    })
    .to_string()
}

/// Starts `pipeline` with these values of its variables; returns the
/// pipeline execution's id.
pub async fn start(
    codepipeline: &aws_sdk_codepipeline::Client,
    pipeline: &str,
    variables: &[(&str, &str)],
) -> anyhow::Result<String> {
    use crate::aws::CallContext;
    let variables = variables
        .iter()
        .map(|(name, value)| {
            aws_sdk_codepipeline::types::PipelineVariable::builder()
                .name(*name)
                .value(*value)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(codepipeline
        .start_pipeline_execution()
        .name(pipeline)
        .set_variables((!variables.is_empty()).then_some(variables))
        .send()
        .await
        .call_context(format!("StartPipelineExecution {pipeline}"))?
        .pipeline_execution_id
        .unwrap_or_default())
}

/// The S3 source action (change detection off) reading `bucket`/`key` into
/// the `SourceOutput` artifact.
pub fn s3_source(bucket: &str, key: &str) -> ActionDeclaration {
    ActionDeclaration::builder()
        .name("Source")
        .action_type_id(
            ActionTypeId::builder()
                .category(ActionCategory::Source)
                .owner(ActionOwner::Aws)
                .provider("S3")
                .version("1")
                .build()
                .expect("all fields set"),
        )
        .configuration("S3Bucket", bucket)
        .configuration("S3ObjectKey", key)
        .configuration("PollForSourceChanges", "false")
        .output_artifacts(artifact_out("SourceOutput"))
        .build()
        .expect("all fields set")
}

fn artifact_out(name: &str) -> OutputArtifact {
    OutputArtifact::builder()
        .name(name)
        .build()
        .expect("name set")
}
