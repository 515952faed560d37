//! The worker's own role on the playground (issue 26). MiniStack with
//! `AUTH=true` evaluates IAM policies as AWS does (design.md, "Measured on
//! 2026-12-06": identity policies, explicit denies, conditions; the `test`
//! keys are the account's root), so the playground installs
//! bootstrap/cpsf.yaml's `WorkerRole` with every policy the template
//! attaches to it, and the worker runs with that role's credentials,
//! assumed through STS: a call the template does not grant fails with
//! AccessDenied here as it would on AWS. People and test fixtures keep the
//! root keys.
//!
//! With it go the template's state machine role and CloudFormation service
//! role (`template.rs`'s `ROLES`), so the names the worker deals with exist.
//!
//! The role is read from the template, never a copy: `worker_role/template.rs`
//! cuts it out of bootstrap/cpsf.yaml. This file installs it and hands out
//! its credentials.
//!
//! What differs from the real stack, each for a reason:
//! - the role also trusts the account (a statement added to its trust
//!   policy): on AWS only ECS assumes it, for the worker's task; here the
//!   tests, `cpsf demo` and a person's `AWS_PROFILE=cpsf-worker` do. (MiniStack
//!   would let the account assume a role that trusts only a service, which
//!   AWS refuses, so the statement is there for AWS's rule, not MiniStack's.)
//! - `TargetRoleArns` lists the role bootstrap/target-account.yaml makes in
//!   each of the playground's other accounts (installed whole, there), and
//!   `ApprovalTopicArns` the playground's topics.
//! - Four answers to MiniStack 1.5.33 where it differs from AWS
//!   (docs/emulators.md): each `AWS::IAM::RolePolicy` becomes the
//!   `AWS::IAM::Policy` that makes the same inline policy, the SQS
//!   batch actions MiniStack asks for go beside the single ones AWS
//!   authorises them by, in the same statements, as `lambda:ListAliases`
//!   beside `lambda:GetAlias` (which MiniStack asks for GetAlias), and a condition on
//!   `cloudformation:ChangeSetName`, a key MiniStack leaves out of the
//!   request, holds only when the key is there (`…IfExists`), in this role
//!   and in bootstrap/target-account.yaml's.
//! - The local CodePipeline service is cpsf's own and checks no IAM (as
//!   no emulator does); the role's `codepipeline:` grants are checked
//!   statically only (`bootstrap/template_tests.rs`).

use crate::names::{ACCOUNT_ID, ARTIFACT_BUCKET, FAR_ACCOUNT, REGION, STACK_PREFIX};
use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_cloudformation::types::Parameter;
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use cpsf_worker::aws::Clients;

mod template;

pub use template::{RoleTemplate, change_set_name_if_exists};

/// The stack the worker's role is installed with.
pub const STACK: &str = "cpsf-playground-worker-role";
/// The stack bootstrap/target-account.yaml is installed as in each of the
/// playground's other accounts.
pub const TARGET_STACK: &str = "cpsf-playground-target";
/// bootstrap/cpsf.yaml's `NamePrefix` on the playground: the role is
/// `cpsf-worker`, the state machine `cpsf-deploy`, the activities `cpsf-…`.
pub const NAME_PREFIX: &str = "cpsf";
/// The AWS config profile that assumes the role (`AWS_PROFILE=cpsf-worker`).
pub const PROFILE: &str = "cpsf-worker";
/// bootstrap/cpsf.yaml's `StateMachineRole` on the playground: the role
/// every state machine there names.
pub const STATES_ROLE: &str = "arn:aws:iam::123456789012:role/cpsf-states";

/// What the playground calls the things bootstrap/cpsf.yaml leaves to its
/// parameters and makes as resources of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    /// `DeployedStackPrefix`: the stacks the role may deploy.
    pub stack_prefix: String,
    /// `ArtifactBucketName`: the pipelines' artifact bucket.
    pub artifact_bucket: String,
    /// Stands in for the template's `JournalBucket`.
    pub journal_bucket: String,
    /// Stands in for the template's `StagingBucket`.
    pub staging_bucket: String,
    /// The accounts a rollout may target: each gets
    /// bootstrap/target-account.yaml, and `TargetRoleArns` lists its role.
    pub target_accounts: Vec<String>,
    /// `ApprovalTopicArns`: the SNS topics approval requests may go to.
    pub approval_topics: Vec<String>,
}

impl Grants {
    /// What the worker's role may reach on a playground `cpsf demo` or
    /// `cpsf local up` starts: the demo's stacks and artifact bucket, and
    /// the account `--targets` rolls out to, and README's approval topic
    /// (`names::APPROVAL_TOPIC`).
    pub fn playground() -> Grants {
        Grants {
            stack_prefix: STACK_PREFIX.into(),
            artifact_bucket: ARTIFACT_BUCKET.into(),
            journal_bucket: "cpsf-demo-journal".into(),
            staging_bucket: "cpsf-demo-staging".into(),
            target_accounts: vec![FAR_ACCOUNT.into()],
            approval_topics: vec![crate::names::approval_topic_arn()],
        }
    }
}

/// The role as installed: what a worker needs to run as it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRole {
    pub arn: String,
    /// The stacks it may deploy (the worker's `--stack-prefix`).
    pub stack_prefix: String,
}

/// The playground's resource standing in for the template's `name`, as
/// the value `!Ref name` (or `!GetAtt` read as one) has in the real stack.
fn stand_in(name: &str, grants: &Grants) -> Option<String> {
    let states = |kind: &str, id: &str| format!("arn:aws:states:{REGION}:{ACCOUNT_ID}:{kind}:{id}");
    let queue = |queue: &str| format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}");
    let bucket = |bucket: &str| format!("arn:aws:s3:::{bucket}");
    if let Some(handler) = cpsf_worker::tasks::Handler::ALL
        .iter()
        .find(|h| h.placeholder() == format!("{name}Arn"))
    {
        let activity = handler.default_activity().trim_start_matches("cpsf-");
        return Some(states("activity", &format!("{NAME_PREFIX}-{activity}")));
    }
    Some(match name {
        "DeployStateMachine" => states("stateMachine", &format!("{NAME_PREFIX}-deploy")),
        "JournalBucketArn" => bucket(&grants.journal_bucket),
        "StagingBucketArn" => bucket(&grants.staging_bucket),
        "ApprovalStoreBucketArn" => bucket(super::approvals::BUCKET),
        "ApprovalsQueueArn" => queue(super::approvals::QUEUE),
        "EventsQueueArn" => queue(crate::events_queue::NAME),
        _ => return None,
    })
}

/// The role of target account `account` (bootstrap/target-account.yaml's
/// `TargetRole`, under the playground's `NamePrefix`).
pub fn target_role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/{NAME_PREFIX}-target")
}

/// Installs `template`'s role with the playground's `grants` (or updates
/// it to them), then bootstrap/target-account.yaml in each target account.
/// `sdk`: the account's root.
pub async fn install(
    sdk: &SdkConfig,
    template: &RoleTemplate,
    grants: &Grants,
) -> Result<WorkerRole> {
    let targets: Vec<String> = grants
        .target_accounts
        .iter()
        .map(|a| target_role(a))
        .collect();
    let mut parameters = vec![
        ("NamePrefix".to_string(), NAME_PREFIX.to_string()),
        ("DeployedStackPrefix".into(), grants.stack_prefix.clone()),
        ("ArtifactBucketName".into(), grants.artifact_bucket.clone()),
        ("TargetRoleArns".into(), targets.join(",")),
        ("ApprovalTopicArns".into(), grants.approval_topics.join(",")),
        // Required, and named by no policy of the role.
        ("WorkerImage".into(), "cpsf:playground".into()),
        ("VpcId".into(), "vpc-0123456789abcdef0".into()),
        ("Subnets".into(), "subnet-0123456789abcdef0".into()),
        ("DefinitionBucket".into(), grants.artifact_bucket.clone()),
        ("DefinitionKey".into(), "none".into()),
    ];
    for name in template.stand_ins() {
        let value = stand_in(&name, grants).with_context(|| {
            format!(
                "bootstrap/cpsf.yaml's worker role refers to {name}, which the playground has \
                 no stand-in for: add one to src/worker_role.rs"
            )
        })?;
        parameters.push((name, value));
    }
    let outputs = create_or_update(sdk, STACK, template.body(), &parameters).await?;
    let arn = outputs
        .into_iter()
        .find(|(key, _)| key == "WorkerRoleArn")
        .map(|(_, arn)| arn)
        .context("the worker role's stack has no WorkerRoleArn output")?;
    for account in &grants.target_accounts {
        let parameters = [
            ("WorkerRoleArn".to_string(), arn.clone()),
            ("NamePrefix".into(), NAME_PREFIX.into()),
            ("DeployedStackPrefix".into(), grants.stack_prefix.clone()),
        ];
        create_or_update(
            &in_account(sdk, account),
            TARGET_STACK,
            &change_set_name_if_exists(&template::with_list_aliases(
                cpsf_worker::bootstrap::TARGET_TEMPLATE,
            )),
            &parameters,
        )
        .await
        .with_context(|| format!("bootstrap/target-account.yaml in account {account}"))?;
    }
    Ok(WorkerRole {
        arn,
        stack_prefix: grants.stack_prefix.clone(),
    })
}

/// `sdk` as the root of `account` (a 12-digit access key is that account's
/// root on MiniStack).
pub fn in_account(sdk: &SdkConfig, account: &str) -> SdkConfig {
    sdk.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            account,
            "test",
            None,
            None,
            "cpsf-playground",
        )))
        .build()
}

/// `admin`'s configuration with the role's credentials instead, assumed
/// through STS (and renewed before they expire), as the profile
/// `cpsf-worker` gets them.
pub async fn assume(admin: &SdkConfig, role: &WorkerRole) -> SdkConfig {
    let provider = AssumeRoleProvider::builder(&role.arn)
        .session_name(PROFILE)
        .configure(admin)
        .build()
        .await;
    admin
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

/// Creates stack `name` from `body`, or updates it; returns its outputs.
async fn create_or_update(
    sdk: &SdkConfig,
    name: &str,
    body: &str,
    parameters: &[(String, String)],
) -> Result<Vec<(String, String)>> {
    let clients = Clients::new(sdk);
    let parameters: Vec<Parameter> = parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect();
    let exists = cpsf_worker::bootstrap::live_stack(&clients, name)
        .await?
        .is_some();
    let template = cpsf_worker::bootstrap::Template::Body(body);
    cpsf_worker::bootstrap::create_or_update(&clients, name, template, parameters, exists).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants() -> Grants {
        Grants {
            stack_prefix: "cpsf-".into(),
            artifact_bucket: "artifacts".into(),
            journal_bucket: "journal".into(),
            staging_bucket: "staging".into(),
            target_accounts: vec!["222222222222".into()],
            approval_topics: Vec::new(),
        }
    }

    #[test]
    fn every_resource_the_role_names_has_a_stand_in() {
        let role = RoleTemplate::from_bootstrap().unwrap();
        let stand_ins = role.stand_ins();
        for expected in [
            "DeployStateMachine",
            "CheckStackActivity",
            "JournalBucketArn",
            "EventsQueueArn",
            "ApprovalsQueueArn",
        ] {
            assert!(
                stand_ins.iter().any(|s| s == expected),
                "{expected}: {stand_ins:?}"
            );
        }
        for name in stand_ins {
            assert!(stand_in(&name, &grants()).is_some(), "{name}");
        }
        assert_eq!(
            stand_in("WaitTeardownActivity", &grants()).unwrap(),
            "arn:aws:states:us-east-1:123456789012:activity:cpsf-wait-teardown"
        );
        assert_eq!(stand_in("SomethingNew", &grants()), None);
    }
}
