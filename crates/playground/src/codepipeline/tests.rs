//! Unit tests of the store: the engine and the job lifecycle driven with a
//! synthetic clock, no network. The same rules are tested end to end through
//! the AWS SDK in tests/playground/.

use super::executions::ActionOutcome;
use super::store::{Config, Effect, Store};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

const T0: Duration = Duration::from_secs(1_800_000_000);

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + T0 + Duration::from_secs(secs)
}

fn deploy_type() -> Value {
    json!({"category": "Deploy", "owner": "Custom", "provider": "SF", "version": "1"})
}

/// A store with a pipeline `p`: S3 source, then deploy actions A (runOrder 1)
/// and B (runOrder 2).
fn store(config: Config) -> Store {
    let mut store = Store::new(config);
    store
        .create_custom_action_type(json!({
            "category": "Deploy", "provider": "SF", "version": "1",
            "configurationProperties": [{"name": "Arn", "required": true, "key": true, "secret": false}],
            "inputArtifactDetails": {"minimumCount": 0, "maximumCount": 1},
            "outputArtifactDetails": {"minimumCount": 0, "maximumCount": 1},
        }))
        .unwrap();
    let deploy = |name: &str, order: i64| {
        json!({"name": name, "runOrder": order, "actionTypeId": deploy_type(),
               "configuration": {"Arn": "arn"}, "inputArtifacts": [{"name": "Src"}]})
    };
    store
        .create_pipeline(
            json!({"pipeline": {
            "name": "p", "roleArn": "r",
            "artifactStore": {"type": "S3", "location": "artifacts"},
            "stages": [
                {"name": "Source", "actions": [{"name": "S", "actionTypeId":
                    {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                    "configuration": {"S3Bucket": "b", "S3ObjectKey": "k"},
                    "outputArtifacts": [{"name": "Src"}]}]},
                {"name": "Deploy", "actions": [deploy("B", 2), deploy("A", 1)]},
            ]}}),
            at(0),
        )
        .unwrap();
    store
}

/// Starts an execution and completes its source action.
fn start(store: &mut Store) -> String {
    let id = store
        .start_pipeline_execution(json!({"name": "p"}), at(0))
        .unwrap()["pipelineExecutionId"]
        .as_str()
        .unwrap()
        .to_string();
    let effects = store.take_effects();
    let [
        Effect::CopySource {
            action_execution_id,
            artifact,
            ..
        },
    ] = effects.as_slice()
    else {
        panic!("one source copy expected: {effects:?}");
    };
    assert_eq!(artifact.location.s3_location.bucket_name, "artifacts");
    let revision = Some("v1".to_string());
    store.finish_action(
        &id,
        action_execution_id,
        ActionOutcome::Succeeded {
            revision,
            variables: Default::default(),
        },
        at(1),
    );
    id
}

fn poll(store: &mut Store, now: SystemTime) -> Vec<Value> {
    let polled = store
        .poll_for_jobs(
            json!({"actionTypeId": deploy_type(), "maxBatchSize": 5}),
            now,
        )
        .unwrap();
    polled["jobs"].as_array().unwrap().clone()
}

fn ack(store: &mut Store, job: &Value, now: SystemTime) {
    store
        .acknowledge_job(json!({"jobId": job["id"], "nonce": job["nonce"]}), now)
        .unwrap();
}

fn status(store: &Store, id: &str) -> &'static str {
    store.executions[id].status.as_str()
}

#[test]
fn actions_run_in_run_order_and_the_execution_succeeds() {
    let mut store = store(Config::default());
    let id = start(&mut store);
    let jobs = poll(&mut store, at(2));
    assert_eq!(jobs.len(), 1, "only runOrder 1 is launched");
    assert_eq!(jobs[0]["data"]["pipelineContext"]["action"]["name"], "A");
    assert_eq!(jobs[0]["data"]["inputArtifacts"][0]["revision"], "v1");
    ack(&mut store, &jobs[0], at(2));
    store
        .put_job_success_result(json!({"jobId": jobs[0]["id"]}), at(3))
        .unwrap();

    let jobs = poll(&mut store, at(4));
    assert_eq!(jobs[0]["data"]["pipelineContext"]["action"]["name"], "B");
    assert_eq!(status(&store, &id), "InProgress");
    ack(&mut store, &jobs[0], at(4));
    store
        .put_job_success_result(json!({"jobId": jobs[0]["id"]}), at(5))
        .unwrap();
    assert_eq!(status(&store, &id), "Succeeded");
}

#[test]
fn a_failed_action_fails_the_execution_and_skips_the_rest() {
    let mut store = store(Config::default());
    let id = start(&mut store);
    let jobs = poll(&mut store, at(2));
    ack(&mut store, &jobs[0], at(2));
    store
        .put_job_failure_result(
            json!({"jobId": jobs[0]["id"], "failureDetails": {"type": "JobFailed", "message": "boom"}}),
            at(3),
        )
        .unwrap();
    assert_eq!(status(&store, &id), "Failed");
    assert_eq!(
        store.executions[&id].status_summary.as_deref(),
        Some("Action A failed: boom")
    );
    assert!(poll(&mut store, at(4)).is_empty(), "B never runs");
}

#[test]
fn the_dispatch_timeout_requeues_exactly_at_its_limit() {
    let mut store = store(Config {
        dispatch_timeout: Duration::from_secs(30),
        ..Config::default()
    });
    start(&mut store);
    let first = poll(&mut store, at(10)).remove(0);
    store.sweep(at(39));
    assert!(
        poll(&mut store, at(39)).is_empty(),
        "29 s after dispatch: still dispatched"
    );
    store.sweep(at(40));
    let again = poll(&mut store, at(40)).remove(0);
    assert_eq!(again["id"], first["id"]);
    assert_ne!(again["nonce"], first["nonce"]);
    let stale = store.acknowledge_job(
        json!({"jobId": first["id"], "nonce": first["nonce"]}),
        at(41),
    );
    assert_eq!(stale.unwrap_err().code, "InvalidNonceException");
}

#[test]
fn the_job_timeout_fails_the_action_and_each_continuation_gets_a_fresh_clock() {
    let mut store = store(Config {
        job_timeout: Duration::from_secs(100),
        ..Config::default()
    });
    let id = start(&mut store);
    let job = poll(&mut store, at(2)).remove(0);
    ack(&mut store, &job, at(2));
    store
        .put_job_success_result(
            json!({"jobId": job["id"], "continuationToken": "t"}),
            at(90),
        )
        .unwrap();
    store.sweep(at(150));
    assert_eq!(
        status(&store, &id),
        "InProgress",
        "the continuation job was queued at 90 s"
    );
    store.sweep(at(190));
    assert_eq!(status(&store, &id), "Failed");
    let run = &store.executions[&id].actions[1];
    assert_eq!(run.error.as_ref().unwrap().code, "TimedOut");
}

/// Pipeline `p` declared again without action B.
fn update_without_b(store: &mut Store, now: SystemTime) {
    let mut declaration = store.pipelines["p"].declaration.clone();
    declaration.stages[1].actions.retain(|a| a.name == "A");
    store
        .update_pipeline(json!({"pipeline": declaration}), now)
        .unwrap();
}

/// User guide, "Edit a pipeline in CodePipeline": "When you update a
/// pipeline, CodePipeline gracefully completes all the running actions and
/// then fails the stages and pipeline executions where the running actions
/// were completed."
#[test]
fn an_update_lets_the_running_action_complete_then_fails_its_stage_and_execution() {
    let mut store = store(Config::default());
    let id = start(&mut store);
    update_without_b(&mut store, at(2));
    assert_eq!(status(&store, &id), "InProgress", "A is still running");

    // A's job, queued before the update, is still handed out and answered,
    // through a continuation too.
    let job = poll(&mut store, at(3)).remove(0);
    assert_eq!(job["data"]["pipelineContext"]["action"]["name"], "A");
    ack(&mut store, &job, at(3));
    store
        .put_job_success_result(json!({"jobId": job["id"], "continuationToken": "t"}), at(4))
        .unwrap();
    let next = poll(&mut store, at(5)).remove(0);
    assert_eq!(next["data"]["continuationToken"], "t");
    ack(&mut store, &next, at(5));
    store
        .put_job_success_result(
            json!({"jobId": next["id"], "outputVariables": {"Done": "yes"}}),
            at(6),
        )
        .unwrap();

    let exec = &store.executions[&id];
    let a = exec.actions.iter().find(|a| a.action_name == "A").unwrap();
    assert_eq!(a.status.as_str(), "Succeeded", "A's result is recorded");
    assert_eq!(a.output_variables["Done"], "yes");
    assert_eq!(status(&store, &id), "Failed");
    let stages: Vec<_> = exec.stage_status.iter().map(|s| s.as_str()).collect();
    assert_eq!(stages, ["Succeeded", "Failed"]);
    assert!(
        exec.status_summary
            .as_deref()
            .unwrap()
            .contains("updated (version 2)"),
        "{:?}",
        exec.status_summary
    );
    assert!(!exec.actions.iter().any(|a| a.action_name == "B"));
    assert!(poll(&mut store, at(7)).is_empty(), "B never runs");
}

#[test]
fn an_update_leaves_ended_and_stopping_executions_alone_and_new_ones_run_the_new_version() {
    let mut store = store(Config::default());
    let stopping = start(&mut store);
    store
        .stop_pipeline_execution(
            json!({"pipelineName": "p", "pipelineExecutionId": stopping}),
            at(2),
        )
        .unwrap();
    let stopped_job = poll(&mut store, at(2)).remove(0);
    update_without_b(&mut store, at(3));
    ack(&mut store, &stopped_job, at(3));
    store
        .put_job_success_result(json!({"jobId": stopped_job["id"]}), at(4))
        .unwrap();
    assert_eq!(status(&store, &stopping), "Stopped", "the stop's own end");

    let after = start(&mut store);
    let job = poll(&mut store, at(5)).remove(0);
    ack(&mut store, &job, at(5));
    store
        .put_job_success_result(json!({"jobId": job["id"]}), at(6))
        .unwrap();
    assert_eq!(status(&store, &after), "Succeeded", "version 2 has no B");
    update_without_b(&mut store, at(7));
    assert_eq!(
        status(&store, &after),
        "Succeeded",
        "an ended execution stays"
    );
    assert_eq!(status(&store, &stopping), "Stopped");
}

#[test]
fn a_retried_start_with_the_same_token_is_the_same_execution() {
    let mut store = store(Config::default());
    let start = |store: &mut Store, token: Option<&str>| {
        let input = match token {
            Some(t) => json!({"name": "p", "clientRequestToken": t}),
            None => json!({"name": "p"}),
        };
        store.start_pipeline_execution(input, at(0)).unwrap()["pipelineExecutionId"].clone()
    };
    let first = start(&mut store, Some("t-1"));
    assert_eq!(start(&mut store, Some("t-1")), first);
    assert_ne!(start(&mut store, Some("t-2")), first);
    assert_ne!(start(&mut store, None), start(&mut store, None));
    assert_eq!(store.executions.len(), 4);
}

#[test]
fn job_timings_show_each_job_queued_dispatched_acknowledged_and_answered() {
    let mut store = store(Config::default());
    start(&mut store);
    let job = poll(&mut store, at(2)).remove(0);
    store
        .acknowledge_job(json!({"jobId": job["id"], "nonce": job["nonce"]}), at(3))
        .unwrap();
    store
        .put_job_success_result(json!({"jobId": job["id"], "continuationToken": "t"}), at(5))
        .unwrap();
    let timings = store.job_timings();
    assert_eq!(timings.len(), 2, "the job and its continuation");
    let seconds = |t: u64| {
        at(t)
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let first = &timings[0];
    assert_eq!(first.job_id, job["id"].as_str().unwrap());
    assert!(!first.continuation);
    assert_eq!(first.status, "Succeeded");
    assert_eq!(first.dispatched, Some(seconds(2)));
    assert_eq!(first.acknowledged, Some(seconds(3)));
    assert_eq!(first.answered, Some(seconds(5)));
    let next = &timings[1];
    assert!(next.continuation);
    assert_eq!(next.queued, seconds(5));
    assert_eq!((next.dispatched, next.answered), (None, None));
}

/// Pipeline `v` (V2, variable `env` defaulting to `dev`): an S3 source in
/// namespace `SourceVariables`, then one deploy action (B) whose `Arn` is `arn`.
fn variables_store(arn: &str) -> Store {
    let mut store = store(Config::default());
    let mut declaration = store.pipelines["p"].declaration.clone();
    declaration.name = "v".into();
    declaration.stages[0].actions[0].namespace = Some("SourceVariables".into());
    declaration.stages[1].actions.truncate(1);
    declaration.stages[1].actions[0]
        .configuration
        .insert("Arn".into(), arn.into());
    declaration.variables =
        vec![serde_json::from_value(json!({"name": "env", "defaultValue": "dev"})).unwrap()];
    store
        .create_pipeline(json!({ "pipeline": declaration }), at(0))
        .unwrap();
    store
}

/// Starts `v` and completes its source with the S3 source's variables.
fn start_v(store: &mut Store, input: Value) -> String {
    let id = store.start_pipeline_execution(input, at(0)).unwrap()["pipelineExecutionId"]
        .as_str()
        .unwrap()
        .to_string();
    let Some(Effect::CopySource {
        action_execution_id,
        ..
    }) = store.take_effects().pop()
    else {
        panic!("a source copy");
    };
    let variables = [("ETag".to_string(), "e1".to_string())].into();
    store.finish_action(
        &id,
        &action_execution_id,
        ActionOutcome::Succeeded {
            revision: Some("e1".into()),
            variables,
        },
        at(1),
    );
    id
}

#[test]
fn a_job_gets_its_configuration_with_variables_resolved() {
    let mut store = variables_store(
        "#{SourceVariables.ETag}/#{variables.env}/#{codepipeline.PipelineExecutionId}",
    );
    let id = start_v(
        &mut store,
        json!({"name": "v", "variables": [{"name": "env", "value": "prod"}]}),
    );
    let job = poll(&mut store, at(2)).remove(0);
    assert_eq!(
        job["data"]["actionConfiguration"]["configuration"]["Arn"],
        format!("e1/prod/{id}")
    );
    let run = &store.executions[&id].actions[1];
    assert_eq!(
        run.configuration["Arn"],
        "#{SourceVariables.ETag}/#{variables.env}/#{codepipeline.PipelineExecutionId}"
    );
}

#[test]
fn a_key_the_namespace_did_not_output_fails_the_action_without_a_job() {
    let mut store = variables_store("#{SourceVariables.VersionId}");
    let id = start_v(&mut store, json!({"name": "v"}));
    assert!(poll(&mut store, at(2)).is_empty(), "no job");
    assert_eq!(status(&store, &id), "Failed");
    let run = &store.executions[&id].actions[1];
    assert_eq!(run.status.as_str(), "Failed");
    assert!(run.resolved_configuration.is_none());
    assert!(
        run.error
            .as_ref()
            .unwrap()
            .message
            .contains("Action name=B.")
    );
}

/// Each action's start, success and failure is an event in the shape the
/// CodePipeline user guide documents, and a custom action's start comes
/// once its job can be polled (issue 31).
#[test]
fn actions_emit_their_state_changes_in_order_with_the_documented_detail() {
    let mut store = store(Config::default());
    let id = start(&mut store);
    let events = store.take_events();
    let states: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e.detail["action"].as_str().unwrap(),
                e.detail["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [("S", "STARTED"), ("S", "SUCCEEDED"), ("A", "STARTED")]
    );
    let started = &events[2];
    assert_eq!(started.detail["execution-id"], id.as_str());
    assert_eq!(started.detail["pipeline"], "p");
    assert_eq!(started.detail["type"], deploy_type());
    assert_eq!(started.detail["region"], "us-east-1");
    assert_eq!(
        started.resources,
        ["arn:aws:codepipeline:us-east-1:123456789012:p"]
    );
    // The job the start announces is there to be polled.
    let jobs = poll(&mut store, at(2));
    assert_eq!(jobs[0]["data"]["pipelineContext"]["action"]["name"], "A");
    assert_eq!(
        jobs[0]["data"]["pipelineContext"]["stage"]["name"],
        started.detail["stage"]
    );
}
