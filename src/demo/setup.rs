//! The demo's resources: buckets, everything bootstrap/cpsf.yaml installs
//! (deployed by `cpsf bootstrap`'s own code onto the playground's
//! CloudFormation: activities, the deploy state machine, roles, the worker's
//! service), the action type in the local CodePipeline service, and the
//! pipeline `cpsf-demo`. Re-runnable against a playground that has them.

use anyhow::Context;
use aws_sdk_cloudformation::types::{Stack, StackStatus};
use aws_sdk_codepipeline::error::ProvideErrorMetadata;
use aws_sdk_codepipeline::types::PipelineDeclaration;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use cpsf_playground::names::{ARTIFACT_BUCKET, STACK_PREFIX};
use cpsf_worker::aws::CallContext;
use cpsf_worker::aws::Clients;
use cpsf_worker::cloudformation::stack;
use cpsf_worker::tasks::TaskContext;
use std::time::Duration;

pub const PIPELINE: &str = "cpsf-demo";
pub const SOURCE_BUCKET: &str = "cpsf-demo-source";
pub const SOURCE_KEY: &str = "app.zip";
/// The stack bootstrap/cpsf.yaml is deployed as.
pub const BOOTSTRAP_STACK: &str = "cpsf";
/// The state machine bootstrap/cpsf.yaml names `<NamePrefix>-deploy`.
const STATE_MACHINE: &str = "cpsf-deploy";
/// bootstrap/cpsf.yaml's state machine role, which the playground installs.
const STATES_ROLE: &str = cpsf_playground::worker_role::STATES_ROLE;
/// The playground does not check the pipeline's role.
const PIPELINE_ROLE: &str = "arn:aws:iam::123456789012:role/cpsf-demo-pipeline";

/// bootstrap/cpsf.yaml's parameters on the playground. The VPC and subnet
/// are placeholders: fakecloud runs ECS metadata-only.
fn bootstrap_options() -> cpsf_worker::bootstrap::BootstrapOptions {
    let parameter = |k: &str, v: &str| (k.to_string(), v.to_string());
    cpsf_worker::bootstrap::BootstrapOptions {
        stack_name: BOOTSTRAP_STACK.into(),
        definition_bucket: ARTIFACT_BUCKET.into(),
        parameters: vec![
            parameter("WorkerImage", "cpsf:demo"),
            parameter("VpcId", "vpc-0123456789abcdef0"),
            parameter("Subnets", "subnet-0123456789abcdef0"),
            parameter("DesiredCount", "0"),
            parameter("ArtifactBucketName", ARTIFACT_BUCKET),
            parameter("DeployedStackPrefix", STACK_PREFIX),
        ],
        resets: Vec::new(),
    }
}

/// What [`prepare`] installed.
pub struct Prepared {
    /// The deploy state machine's ARN.
    pub state_machine: String,
    /// The queue its RequestApproval sends requests to, which the demo's
    /// worker takes: the one `prepare` was given (installed through Step
    /// Functions), or bootstrap/cpsf.yaml's own ApprovalsQueue (its output,
    /// which "a worker run outside this stack takes as --approvals-queue").
    /// None: installed with no queue, so a deploy with `approval` fails
    /// saying so.
    pub approvals_queue: Option<String>,
}

/// Creates or refreshes everything, the state machine sending approval
/// requests to `approvals_queue` when it is installed through Step
/// Functions.
pub async fn prepare(
    clients: &Clients,
    stack_name: &str,
    approvals_queue: Option<&str>,
) -> anyhow::Result<Prepared> {
    let s3 = clients.s3();
    for bucket in [SOURCE_BUCKET, ARTIFACT_BUCKET] {
        if let Err(error) = s3.create_bucket().bucket(bucket).send().await {
            let code = error.code().unwrap_or_default().to_string();
            if !matches!(
                code.as_str(),
                "BucketAlreadyOwnedByYou" | "BucketAlreadyExists"
            ) {
                Err(error).call_context(format!("CreateBucket {bucket}"))?;
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
        .call_context("PutBucketVersioning")?;
    // The local CodePipeline service is ours, not fakecloud's: the template's
    // action type lands in fakecloud, so register it here as well.
    cpsf_worker::action_type::create(&clients.codepipeline).await?;
    let prepared = match cpsf_worker::bootstrap::run(clients, &bootstrap_options()).await {
        Ok(outputs) => {
            let output = |name: &str| {
                outputs
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.clone())
                    .with_context(|| format!("the bootstrap stack has no {name} output"))
            };
            Prepared {
                state_machine: output("StateMachineArn")?,
                approvals_queue: Some(output("ApprovalsQueue")?),
            }
        }
        Err(error) => {
            match error.downcast_ref::<cpsf_worker::bootstrap::UnsupportedResourceTypes>() {
                Some(unsupported) => {
                    println!(
                        "This playground's CloudFormation lacks {}: the activities and the deploy \
                     state machine are installed through Step Functions instead \
                     (`--emulator fakecloud` installs bootstrap/cpsf.yaml).",
                        unsupported.types
                    );
                    Prepared {
                        state_machine: install_directly(clients, approvals_queue).await?,
                        approvals_queue: approvals_queue.map(str::to_string),
                    }
                }
                None => return Err(error),
            }
        }
    };
    let deploy = [
        ("StateMachineArn", prepared.state_machine.as_str()),
        ("InputType", "FilePath"),
        ("Input", "deploy.json"),
    ];
    create_or_update_pipeline(clients, pipeline(PIPELINE, &deploy)).await?;
    remove_stack(clients, stack_name).await?;
    Ok(prepared)
}

/// What bootstrap/cpsf.yaml installs for a deploy: the activities
/// and the state machine, under the same names, through the API, its
/// approval requests sent to `approvals_queue`.
async fn install_directly(
    clients: &Clients,
    approvals_queue: Option<&str>,
) -> anyhow::Result<String> {
    cpsf_worker::bootstrap::definition::install(
        &clients.sfn,
        STATE_MACHINE,
        STATES_ROLE,
        &cpsf_worker::worker::TaskOptions::activities("cpsf-"),
        cpsf_worker::bootstrap::definition::DEPLOY_ASL,
        approvals_queue,
    )
    .await
}

pub async fn create_or_update_pipeline(
    clients: &Clients,
    declaration: PipelineDeclaration,
) -> anyhow::Result<()> {
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
                .call_context("UpdatePipeline")?;
            Ok(())
        }
        Err(error) => Err(error).call_context("CreatePipeline"),
    }
}

/// Pipeline `name`: S3 source of app/ zipped → the cpsf Deploy action
/// configured with `deploy`.
pub fn pipeline(name: &str, deploy: &[(&str, &str)]) -> PipelineDeclaration {
    cpsf_worker::pipeline::declare(&cpsf_worker::pipeline::PipelineSpec {
        name,
        role_arn: PIPELINE_ROLE,
        artifact_bucket: ARTIFACT_BUCKET,
        source_bucket: SOURCE_BUCKET,
        source_key: SOURCE_KEY,
        action_type: cpsf_worker::action_type::id(),
        configuration: deploy,
    })
}

/// A stack left by an earlier demo would make run 1 an update: remove it
/// (turning off the termination protection `--environments` leaves on one).
pub async fn remove_stack(clients: &Clients, name: &str) -> anyhow::Result<()> {
    let ctx = TaskContext::new(clients, None, Duration::from_secs(60));
    let gone = |found: Option<&Stack>| {
        found
            .is_none_or(|s| s.stack_status() == Some(&StackStatus::DeleteComplete))
            .then_some(())
    };
    let found = stack::describe(&ctx.cfn, name).await?;
    if gone(found.as_ref()).is_some() {
        return Ok(());
    }
    if found.is_some_and(|s| s.enable_termination_protection() == Some(true)) {
        protect(clients, name, false).await?;
    }
    ctx.cfn
        .delete_stack()
        .stack_name(name)
        .send()
        .await
        .call_context(format!("DeleteStack {name}"))?;
    ctx.watch(name, gone).await?.context(format!(
        "stack {name} from an earlier demo is still being deleted"
    ))
}

/// Turns stack `name`'s termination protection on or off.
pub async fn protect(clients: &Clients, name: &str, on: bool) -> anyhow::Result<()> {
    clients
        .cloudformation()
        .update_termination_protection()
        .stack_name(name)
        .enable_termination_protection(on)
        .send()
        .await
        .call_context(format!("UpdateTerminationProtection {name}"))?;
    Ok(())
}
