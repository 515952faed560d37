//! A pipeline that updates itself: its Deploy action's stack holds the
//! pipeline, so UpdatePipeline arrives while that action runs. AWS (user
//! guide, "Edit a pipeline in CodePipeline"): "When you update a pipeline,
//! CodePipeline gracefully completes all the running actions and then fails
//! the stages and pipeline executions where the running actions were
//! completed." The local CodePipeline does the same; here the worker
//! follows the running deploy through the update.

use crate::harness::*;
use aws_sdk_codepipeline::types::{ActionExecutionStatus, StageDeclaration, StageExecutionStatus};
use std::time::Duration;

/// `app` (see `create_worker_pipeline`) with a third stage, `Later`, whose
/// action `After` runs the same state machine: the stage an update must keep
/// from running.
async fn pipeline_with_a_later_stage(h: &Harness, machine: &str) {
    h.create_worker_pipeline("app", &[("StateMachineArn", machine)])
        .await;
    let mut declaration = current(h).await;
    let mut after = declaration.stages[1].actions[0].clone();
    after.name = "After".into();
    after.output_artifacts = None;
    declaration.stages.push(
        StageDeclaration::builder()
            .name("Later")
            .actions(after)
            .build()
            .unwrap(),
    );
    update(h, declaration).await;
}

async fn current(h: &Harness) -> aws_sdk_codepipeline::types::PipelineDeclaration {
    h.cp.get_pipeline()
        .name("app")
        .send()
        .await
        .expect("GetPipeline")
        .pipeline
        .unwrap()
}

async fn update(h: &Harness, declaration: aws_sdk_codepipeline::types::PipelineDeclaration) {
    h.cp.update_pipeline()
        .pipeline(declaration)
        .send()
        .await
        .expect("UpdatePipeline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_while_the_deploy_runs_records_its_result_then_fails_the_execution() {
    let h = Harness::start().await;
    h.create_worker_type().await;
    let machine = h.create_slow_machine("self-update", 3).await;
    pipeline_with_a_later_stage(&h, &machine).await;
    let worker = h.start_worker(Duration::from_millis(250));
    let id = h.start_execution("app").await;
    wait_for("the deploy to be running", || async {
        h.deploy_state("app")
            .await
            .and_then(|l| l.summary().map(str::to_string))
            .filter(|s| s.contains("in state 'Deploying'"))
    })
    .await;

    // What the deploy's stack would do to its own pipeline: a new version.
    let mut declaration = current(&h).await;
    declaration.stages[2].actions[0]
        .configuration
        .get_or_insert_default()
        .insert("Input".into(), r#"{"version": 3}"#.into());
    update(&h, declaration).await;
    assert_eq!(
        h.execution_status("app", &id).await.as_str(),
        "InProgress",
        "the running deploy completes first"
    );

    assert_eq!(h.wait_until_done("app", &id).await, "Failed");
    let deploy = h.deploy_detail("app").await;
    assert_eq!(
        deploy.status(),
        Some(&ActionExecutionStatus::Succeeded),
        "the worker's result is recorded: {deploy:?}"
    );
    let variables = deploy.output().unwrap().output_variables().unwrap();
    assert!(
        variables["ExecutionArn"].contains(":execution:self-update:"),
        "{variables:?}"
    );
    assert!(
        h.action_detail("app", "After").await.is_none(),
        "the following stage never ran"
    );
    let state = h.cp.get_pipeline_state().name("app").send().await.unwrap();
    assert_eq!(state.pipeline_version(), Some(3));
    let stage = |name: &str| {
        state
            .stage_states()
            .iter()
            .find(|s| s.stage_name() == Some(name))
            .and_then(|s| s.latest_execution())
            .map(|e| (e.pipeline_execution_id().to_string(), e.status().clone()))
    };
    assert_eq!(
        stage("Deploy"),
        Some((id.clone(), StageExecutionStatus::Failed))
    );
    assert_eq!(stage("Later"), None);
    worker.stop().await;
}
