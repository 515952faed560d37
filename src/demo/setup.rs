//! The demo's resources: buckets, the action type, the activities and the
//! deploy state machine (from statemachines/, through the same install as
//! everything else), and the pipeline `cpsf-demo`. Re-runnable against a
//! playground that already has them.

use crate::aws::Clients;
use crate::tasks::definition::{DEPLOY_ASL, install};
use crate::worker::TaskOptions;
use anyhow::{Context, bail};
use aws_sdk_codepipeline::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_codepipeline::types::{
    ActionCategory, ActionDeclaration, ActionOwner, ActionTypeId, ArtifactStore, ArtifactStoreType,
    InputArtifact, OutputArtifact, PipelineDeclaration, StageDeclaration,
};
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use std::time::Duration;

pub const PIPELINE: &str = "cpsf-demo";
pub const SOURCE_BUCKET: &str = "cpsf-demo-source";
pub const SOURCE_KEY: &str = "app.zip";
pub const ARTIFACT_BUCKET: &str = "cpsf-demo-artifacts";
pub const STATE_MACHINE: &str = "cpsf-deploy";
/// The playground does not check roles; in AWS, bootstrap/ creates them.
const STATES_ROLE: &str = "arn:aws:iam::123456789012:role/cpsf-demo-states";
const PIPELINE_ROLE: &str = "arn:aws:iam::123456789012:role/cpsf-demo-pipeline";

/// Creates or refreshes everything; returns the state machine's ARN.
pub async fn prepare(clients: &Clients, stack_name: &str) -> anyhow::Result<String> {
    let s3 = clients.s3();
    for bucket in [SOURCE_BUCKET, ARTIFACT_BUCKET] {
        if let Err(error) = s3.create_bucket().bucket(bucket).send().await {
            let code = error.code().unwrap_or_default().to_string();
            if !matches!(
                code.as_str(),
                "BucketAlreadyOwnedByYou" | "BucketAlreadyExists"
            ) {
                bail!(
                    "CreateBucket {bucket}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(error)
                );
            }
        }
    }
    // An S3 source action needs a versioned bucket (as in AWS).
    s3.put_bucket_versioning()
        .bucket(SOURCE_BUCKET)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "PutBucketVersioning: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            )
        })?;
    crate::action_type::create(&clients.codepipeline).await?;
    let machine = install(
        &clients.sfn,
        STATE_MACHINE,
        STATES_ROLE,
        &TaskOptions::activities("cpsf-"),
        DEPLOY_ASL,
    )
    .await?;
    create_or_update_pipeline(clients, &machine).await?;
    remove_stack(clients, stack_name).await?;
    Ok(machine)
}

async fn create_or_update_pipeline(clients: &Clients, machine: &str) -> anyhow::Result<()> {
    let declaration = pipeline(machine);
    let created = clients
        .codepipeline
        .create_pipeline()
        .pipeline(declaration.clone())
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(error) if error.code() == Some("PipelineNameInUseException") => {
            clients
                .codepipeline
                .update_pipeline()
                .pipeline(declaration)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("UpdatePipeline: {}", DisplayErrorContext(e)))?;
            Ok(())
        }
        Err(error) => bail!("CreatePipeline: {}", DisplayErrorContext(error)),
    }
}

/// S3 source of app/ zipped → the cpsf Deploy action.
fn pipeline(machine: &str) -> PipelineDeclaration {
    let source = ActionDeclaration::builder()
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
        .configuration("S3Bucket", SOURCE_BUCKET)
        .configuration("S3ObjectKey", SOURCE_KEY)
        .configuration("PollForSourceChanges", "false")
        .output_artifacts(
            OutputArtifact::builder()
                .name("SourceOutput")
                .build()
                .expect("name set"),
        )
        .build()
        .expect("all fields set");
    let deploy = ActionDeclaration::builder()
        .name("Deploy")
        .action_type_id(crate::action_type::id())
        .configuration("StateMachineArn", machine)
        .configuration("InputType", "FilePath")
        .configuration("Input", "deploy.json")
        .input_artifacts(
            InputArtifact::builder()
                .name("SourceOutput")
                .build()
                .expect("name set"),
        )
        .output_artifacts(
            OutputArtifact::builder()
                .name("DeployOutput")
                .build()
                .expect("name set"),
        )
        .build()
        .expect("all fields set");
    let stage = |name: &str, action: ActionDeclaration| {
        StageDeclaration::builder()
            .name(name)
            .actions(action)
            .build()
            .expect("all fields set")
    };
    PipelineDeclaration::builder()
        .name(PIPELINE)
        .role_arn(PIPELINE_ROLE)
        .artifact_store(
            ArtifactStore::builder()
                .r#type(ArtifactStoreType::S3)
                .location(ARTIFACT_BUCKET)
                .build()
                .expect("all fields set"),
        )
        .stages(stage("Source", source))
        .stages(stage("Deploy", deploy))
        .build()
        .expect("all fields set")
}

/// A stack left by an earlier demo would make run 1 an update: remove it.
async fn remove_stack(clients: &Clients, name: &str) -> anyhow::Result<()> {
    let cfn = clients.cloudformation();
    let exists = |cfn: aws_sdk_cloudformation::Client| async move {
        let found = cfn.describe_stacks().stack_name(name).send().await;
        found.is_ok_and(|f| {
            f.stacks().first().is_some_and(|s| {
                s.stack_status()
                    .is_some_and(|st| st.as_str() != "DELETE_COMPLETE")
            })
        })
    };
    if !exists(cfn.clone()).await {
        return Ok(());
    }
    cfn.delete_stack()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "DeleteStack {name}: {}",
                aws_sdk_cloudformation::error::DisplayErrorContext(e)
            )
        })?;
    for _ in 0..120 {
        if !exists(cfn.clone()).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    None.context(format!(
        "stack {name} from an earlier demo is still being deleted"
    ))
}
