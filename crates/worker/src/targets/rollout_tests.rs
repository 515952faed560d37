//! The plan PlanRollout makes and how FinishWave moves it on.

use super::*;
use crate::targets::glance::glance;
use crate::targets::spec::parse;

const ROLLOUT: &str = "arn:aws:states:us-east-1:111111111111:execution:deploy:app-1";

fn three_waves() -> Map<String, Value> {
    json!({
        "stackName": "app",
        "parameters": {"Stage": "dev"},
        "pipeline": {"jobId": "job-1", "artifacts": [{"bucket": "b", "key": "k"}]},
        "targets": [
            {"name": "tools", "region": "us-east-1"},
            {"name": "prod-use1", "account": "222222222222", "region": "us-east-1",
             "roleArn": "arn:aws:iam::222222222222:role/t", "parameters": {"Stage": "prod"}},
            {"name": "prod-euw1", "account": "222222222222", "region": "eu-west-1",
             "roleArn": "arn:aws:iam::222222222222:role/t"}
        ],
        "waves": [["tools"], ["prod-use1"], ["prod-euw1"]],
        "bake": {"seconds": 120},
        "failureTolerance": 0
    })
    .as_object()
    .cloned()
    .unwrap()
}

fn planned() -> (Plan, Rollout) {
    let deploy = three_waves();
    let rollout = parse(&Value::Object(deploy.clone())).unwrap().unwrap();
    (plan(&deploy, &rollout, ROLLOUT), rollout)
}

fn ok(name: &str, stack: &str) -> TargetResult {
    succeeded(
        name,
        &json!({"stackId": stack, "stackStatus": "CREATE_COMPLETE",
                "outputs": {"Url": format!("https://{name}")}}),
        &format!("arn:x:{name}"),
    )
}

#[test]
fn a_targets_own_input_merged_over_the_shared_one_is_its_whole_deploy() {
    let (plan, rollout) = planned();
    let prod = &plan.waves[1][0];
    let mut merged = plan.shared.clone();
    merged.extend(prod.input.clone());
    let mut expected = target_deploy(
        &Value::Object(three_waves()),
        rollout.target("prod-use1").unwrap(),
    );
    // The one difference: a target's execution answers no job.
    expected["pipeline"]
        .as_object_mut()
        .unwrap()
        .remove("jobId");
    assert_eq!(Value::Object(merged), expected);
    assert!(!plan.shared.contains_key("targets") && !plan.shared.contains_key("bake"));
    assert_eq!(plan.rollout.len(), 4, "the rollout keys travel as given");
}

#[test]
fn execution_names_are_fixed_per_rollout_and_target_and_valid() {
    let a = execution_name("prod-euw1", ROLLOUT);
    assert_eq!(a, execution_name("prod-euw1", ROLLOUT));
    assert_ne!(a, execution_name("prod-euw1", &format!("{ROLLOUT}x")));
    assert_ne!(a, execution_name("prod-use1", ROLLOUT));
    let longest = execution_name(&"t".repeat(40), ROLLOUT);
    assert!(longest.len() <= 80, "{}", longest.len());
    assert!(
        longest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    );
}

#[test]
fn a_wave_that_holds_bakes_then_moves_on_and_the_last_one_ends_it() {
    let (mut plan, rollout) = planned();
    let first = finish_wave(&plan, &rollout, vec![ok("tools", "arn:s:tools")], 1000.0).unwrap();
    assert_eq!(first.wave, 1);
    assert!(first.bake && !first.done);
    assert_eq!(first.bake_until, Some(1120.0));
    assert_eq!(first.result, None);
    plan.progress = first;
    let second = finish_wave(&plan, &rollout, vec![ok("prod-use1", "arn:s:use1")], 2000.0).unwrap();
    plan.progress = second;
    let last = finish_wave(&plan, &rollout, vec![ok("prod-euw1", "arn:s:euw1")], 3000.0).unwrap();
    assert!(last.done && !last.bake, "no bake after the last wave");
    assert!(last.results.is_empty(), "moved into the output's targets");
    assert_eq!(last.target_results().len(), 3);
    let result = last.result.unwrap();
    assert_eq!(result["targets"].as_array().unwrap().len(), 3);
    assert_eq!(
        result["stackId"], "arn:s:tools",
        "the first target's stack, as a single deploy"
    );
    assert_eq!(result["outputs"]["Url"], "https://tools");
    assert_eq!(result["outputs"]["prod-euw1_StackId"], "arn:s:euw1");
    assert_eq!(result["outputs"]["prod-use1_Status"], "Succeeded");
    assert_eq!(result["targets"][2]["outputs"]["Url"], "https://prod-euw1");
    assert_eq!(
        result["summary"],
        "rollout complete: 3 of 3 targets deployed in 3 waves"
    );
}

#[test]
fn a_failed_wave_stops_with_the_message_naming_the_target() {
    let (mut plan, rollout) = planned();
    plan.progress.wave = 1;
    let failed = TargetResult {
        status: TargetStatus::Failed,
        state: Some("UpdateStack".into()),
        error: Some("Cpsf.UnsafeChange".into()),
        cause: Some("Queue (AWS::SQS::Queue) would be replaced".into()),
        ..ok("prod-use1", "arn:s:use1")
    };
    let message = finish_wave(&plan, &rollout, vec![failed], 0.0).unwrap_err();
    assert!(
        message.starts_with("wave 2/3 stopped the rollout"),
        "{message}"
    );
    assert!(
        message.contains("prod-use1 failed in UpdateStack: Cpsf.UnsafeChange: Queue"),
        "{message}"
    );
    assert!(message.contains("wave 3 was not started"), "{message}");
}

#[test]
fn an_output_given_as_text_is_read_as_json() {
    let read = succeeded(
        "a",
        &json!("{\"stackId\": \"arn:s\", \"outputs\": {\"K\": \"v\"}}"),
        "arn:x:a",
    );
    assert_eq!(read.stack_id.as_deref(), Some("arn:s"));
    assert_eq!(read.outputs.unwrap()["K"], "v");
}

#[test]
fn past_the_state_budget_the_first_targets_outputs_are_kept_first() {
    let (mut plan, rollout) = planned();
    let big = |name: &str| {
        let mut result = ok(name, "arn:s");
        let outputs = result.outputs.as_mut().unwrap();
        outputs.insert("Blob".into(), json!("x".repeat(budget::OUTPUTS / 2)));
        result
    };
    plan.progress = finish_wave(&plan, &rollout, vec![big("tools")], 0.0).unwrap();
    let kept = |p: &Progress| -> Vec<Option<Vec<String>>> {
        p.target_results()
            .iter()
            .map(|r| r.outputs.as_ref().map(|o| o.keys().cloned().collect()))
            .collect()
    };
    assert_eq!(
        kept(&plan.progress),
        [Some(vec!["Url".into(), "Blob".into()])]
    );
    plan.progress = finish_wave(&plan, &rollout, vec![big("prod-use1")], 0.0).unwrap();
    assert_eq!(
        kept(&plan.progress)[1],
        None,
        "a second half of the budget does not fit beside the first"
    );
    let mut huge = big("prod-euw1");
    huge.cause = Some("c".repeat(100_000));
    let last = finish_wave(&plan, &rollout, vec![huge], 0.0).unwrap();
    let results = last.target_results();
    let outputs: usize = results
        .iter()
        .filter_map(|r| r.outputs.as_ref())
        .map(|o| serde_json::to_string(o).unwrap().len())
        .sum();
    assert!(outputs <= budget::OUTPUTS, "{outputs}");
    assert!(results[2].cause.as_ref().unwrap().len() <= budget::RESULT_CAUSE + 2);
    assert!(results.iter().all(|r| {
        serde_json::to_string(&TargetResult {
            outputs: None,
            ..r.clone()
        })
        .unwrap()
        .len()
            <= budget::RESULT
    }));
    assert_eq!(last.result.unwrap()["outputs"]["Url"], "https://tools");

    // A first target whose outputs alone are over the budget keeps those
    // that fit.
    let (plan, rollout) = planned();
    let mut first = ok("tools", "arn:s");
    let outputs = first.outputs.as_mut().unwrap();
    outputs.insert("A".into(), json!("x".repeat(budget::OUTPUTS)));
    let progress = finish_wave(&plan, &rollout, vec![first], 0.0).unwrap();
    assert_eq!(kept(&progress), [Some(vec!["Url".into()])]);
}

#[test]
fn the_pipeline_shows_the_wave_deploying_then_the_bake() {
    let (mut plan, rollout) = planned();
    let at_start = serde_json::to_string(&plan).unwrap();
    assert_eq!(
        glance(&at_start).map(|g| g.summary()).as_deref(),
        Some("wave 1/3: tools deploying")
    );
    plan.progress = finish_wave(&plan, &rollout, vec![ok("tools", "arn:s")], 0.0).unwrap();
    let baking = serde_json::to_string(&plan.progress).unwrap();
    assert_eq!(
        glance(&baking).map(|g| g.summary()).as_deref(),
        Some("wave 1/3 deployed; baking before wave 2")
    );
    plan.progress.bake = false;
    let next = serde_json::to_string(&plan.progress).unwrap();
    assert_eq!(
        glance(&next).map(|g| g.summary()).as_deref(),
        Some("wave 2/3: prod-use1 deploying")
    );
    // A target's own output, or anything else, is no progress.
    assert_eq!(glance(r#"{"stackId": "arn:s", "outputs": {}}"#), None);
    assert_eq!(glance("not json"), None);
}

#[test]
fn with_rollback_each_target_carries_its_triggers_and_the_bake_only_reads_the_alarms() {
    let mut deploy = three_waves();
    deploy["bake"] = json!({"seconds": 150, "alarms": ["app-errors"], "rollback": true});
    let rollout = parse(&Value::Object(deploy.clone())).unwrap().unwrap();
    let mut plan = plan(&deploy, &rollout, ROLLOUT);
    let minutes =
        |wave: usize| plan.waves[wave][0].input["rollbackTriggers"]["monitoringMinutes"].clone();
    assert_eq!(minutes(0), json!(3), "the bake, rounded up to minutes");
    assert_eq!(minutes(1), json!(3));
    assert_eq!(minutes(2), json!(0), "no bake follows the last wave");
    assert_eq!(
        plan.waves[0][0].input["rollbackTriggers"]["alarms"],
        json!(["app-errors"])
    );
    assert!(!plan.shared.contains_key("rollbackTriggers"));
    // The wave baked inside its stack operations: Bake reads the alarms
    // once, at once.
    plan.progress = finish_wave(&plan, &rollout, vec![ok("tools", "arn:s")], 1000.0).unwrap();
    assert!(plan.progress.bake);
    assert_eq!(plan.progress.bake_until, Some(1000.0));
    // Without rollback there is no key, and the bake waits its seconds.
    let (plain, rollout) = planned();
    assert!(!plain.waves[0][0].input.contains_key("rollbackTriggers"));
    let after = finish_wave(&plain, &rollout, vec![ok("tools", "arn:s")], 1000.0).unwrap();
    assert_eq!(after.bake_until, Some(1120.0));
}

#[test]
fn a_rollout_that_asks_plans_each_wave_first_and_keeps_the_decision() {
    let mut deploy = three_waves();
    deploy.insert("approval".into(), json!({"when": "risky"}));
    let rollout = parse(&Value::Object(deploy.clone())).unwrap().unwrap();
    let plan = plan(&deploy, &rollout, ROLLOUT);
    assert_eq!(plan.first_stage, PLAN_STAGE);
    assert!(
        plan.waves
            .iter()
            .flatten()
            .all(|t| t.input[STAGE_KEY] == PLAN_STAGE)
    );
    assert_ne!(
        apply_name("tools", ROLLOUT),
        execution_name("tools", ROLLOUT)
    );
    let (plain, _) = planned();
    assert_eq!(plain.first_stage, "deploy");
    assert!(!plain.waves[0][0].input.contains_key(STAGE_KEY));

    // The decision of the last wave that asked ends in the output.
    let mut progress = Progress {
        done: true,
        result: Some(json!({"summary": "rollout complete: 3 of 3 targets deployed in 3 waves"})),
        ..Progress::default()
    };
    progress = with_decision(
        progress,
        Some(json!({"approved": true, "by": "Ann", "comment": "go"})),
    );
    let result = progress.result.unwrap();
    assert_eq!(result["approval"]["by"], "Ann");
    assert_eq!(
        result["summary"],
        "rollout complete: 3 of 3 targets deployed in 3 waves; approved by Ann: go"
    );
}

#[test]
fn finish_wave_hands_on_the_plan_and_once_done_only_the_output() {
    let (mut plan, rollout) = planned();
    let first = finish_wave(&plan, &rollout, vec![ok("tools", "arn:s")], 0.0).unwrap();
    let next = advanced(plan.clone(), first.clone());
    assert_eq!(next.progress, first);
    assert_eq!(
        (next.shared.clone(), next.waves.clone()),
        (plan.shared.clone(), plan.waves.clone())
    );
    let text = serde_json::to_string(&next).unwrap();
    assert_eq!(
        glance(&text).map(|g| g.summary()).as_deref(),
        Some("wave 1/3 deployed; baking before wave 2"),
        "the pipeline reads the plan FinishWave returns"
    );
    plan.progress.wave = 2;
    let last = finish_wave(&plan, &rollout, vec![ok("prod-euw1", "arn:s")], 0.0).unwrap();
    let done = advanced(plan, last);
    assert!(done.shared.is_empty() && done.waves.is_empty() && done.rollout.is_empty());
    assert!(done.progress.result.is_some());
    assert_eq!(
        progress_in(&serde_json::to_value(&done).unwrap()),
        Some(done.progress)
    );
}

#[test]
fn the_rollout_keys_keep_only_where_each_target_is() {
    let (plan, _) = planned();
    assert_eq!(
        plan.rollout["targets"][1],
        json!({"name": "prod-use1", "account": "222222222222", "region": "us-east-1",
               "roleArn": "arn:aws:iam::222222222222:role/t"}),
        "its parameters are in its own input"
    );
    assert_eq!(plan.waves[1][0].input["parameters"]["Stage"], "prod");
    let again = parse(&Value::Object(plan.rollout.clone()))
        .unwrap()
        .unwrap();
    assert_eq!(again.waves.len(), 3);
}

/// An apply execution names the plan execution that made its change set,
/// and nothing else is taken for an apply.
#[test]
fn an_apply_execution_knows_its_plan_execution() {
    for target in ["tools", "prod-a", "a"] {
        assert_eq!(
            plan_of_apply(&apply_name(target, ROLLOUT)),
            Some(execution_name(target, ROLLOUT)),
            "{target}"
        );
        assert_eq!(
            plan_of_apply(&execution_name(target, ROLLOUT)),
            None,
            "{target}"
        );
    }
    for other in [
        "run-1",
        "-a0123456789abcdef",
        "x-a0123456789abcdeg",
        "x-a0123",
    ] {
        assert_eq!(plan_of_apply(other), None, "{other}");
    }
}
