//! Which state machines a worker started with no `--recover-from` sweeps
//! for jobs a stopped worker left unanswered: those named by the pipelines
//! that use its action type (ListPipelines, then GetPipeline for each; the
//! action's `StateMachineArn` configuration). Read once at start, bounded
//! to [`MAX_PIPELINES`] pipelines so a start's cost does not grow with the
//! account; past that the worker says to set `--recover-from`.

use crate::aws::CallContext;
use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::types::{ActionTypeId, PipelineDeclaration};
use std::collections::BTreeSet;

/// Pipelines read at most at one start (one GetPipeline each).
pub const MAX_PIPELINES: usize = 200;

/// What discovery found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub state_machines: BTreeSet<String>,
    pub pipelines_read: usize,
    /// More pipelines than [`MAX_PIPELINES`]: some were not read.
    pub truncated: bool,
}

/// The state machines `pipeline`'s actions of `action_type` run. A value
/// CodePipeline resolves at run time (`#{…}`) names no machine here.
pub fn state_machines_in(
    pipeline: &PipelineDeclaration,
    action_type: &ActionTypeId,
) -> Vec<String> {
    pipeline
        .stages()
        .iter()
        .flat_map(|stage| stage.actions())
        .filter(|action| action.action_type_id() == Some(action_type))
        .filter_map(|action| action.configuration()?.get("StateMachineArn"))
        .filter(|arn| arn.starts_with("arn:"))
        .cloned()
        .collect()
}

/// Reads the account's pipelines (up to [`MAX_PIPELINES`]) for the state
/// machines its actions of `action_type` run.
pub async fn discover(cp: &Client, action_type: &ActionTypeId) -> anyhow::Result<Discovered> {
    let mut found = Discovered::default();
    let mut pages = cp.list_pipelines().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.call_context("ListPipelines")?;
        for summary in page.pipelines() {
            if found.pipelines_read == MAX_PIPELINES {
                found.truncated = true;
                return Ok(found);
            }
            let Some(name) = summary.name() else { continue };
            let got = cp
                .get_pipeline()
                .name(name)
                .send()
                .await
                .call_context(format!("GetPipeline {name}"))?;
            found.pipelines_read += 1;
            if let Some(pipeline) = got.pipeline() {
                found
                    .state_machines
                    .extend(state_machines_in(pipeline, action_type));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_codepipeline::types::{
        ActionCategory, ActionDeclaration, ActionOwner, ArtifactStore, ArtifactStoreType,
        StageDeclaration,
    };

    fn action(provider: &str, machine: &str) -> ActionDeclaration {
        ActionDeclaration::builder()
            .name(format!("{provider}-{machine}"))
            .action_type_id(crate::action_type::id_for(provider))
            .configuration("StateMachineArn", machine)
            .build()
            .unwrap()
    }

    #[test]
    fn the_state_machines_of_this_action_type_with_a_fixed_arn() {
        let ours = crate::action_type::id();
        let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:cpsf-deploy";
        let build = ActionDeclaration::builder()
            .name("Build")
            .action_type_id(
                ActionTypeId::builder()
                    .category(ActionCategory::Build)
                    .owner(ActionOwner::Aws)
                    .provider("CodeBuild")
                    .version("1")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let pipeline = PipelineDeclaration::builder()
            .name("app")
            .role_arn("arn:aws:iam::123456789012:role/p")
            .artifact_store(
                ArtifactStore::builder()
                    .r#type(ArtifactStoreType::S3)
                    .location("artifacts")
                    .build()
                    .unwrap(),
            )
            .stages(
                StageDeclaration::builder()
                    .name("Deploy")
                    .actions(build)
                    .actions(action(crate::action_type::PROVIDER, machine))
                    .actions(action(
                        "SomeoneElses",
                        "arn:aws:states:us-east-1:1:stateMachine:x",
                    ))
                    .actions(action(crate::action_type::PROVIDER, "#{variables.machine}"))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        assert_eq!(
            state_machines_in(&pipeline, &ours),
            vec![machine.to_string()]
        );
    }
}
