//! The rollout's rules, each with the exact message a user reads.

use super::*;
use proptest::prelude::*;
use serde_json::json;

const PROD: &str = "arn:aws:iam::222222222222:role/cpsf-target";

/// The issue's example.
fn example() -> Value {
    json!({
        "stackName": "app", "templatePath": "template.yaml", "parameters": {"Stage": "dev"},
        "targets": [
            {"name": "tools-use1", "region": "us-east-1"},
            {"name": "prod-use1", "account": "222222222222", "region": "us-east-1",
             "roleArn": PROD, "cloudFormationRoleArn": "arn:aws:iam::222222222222:role/cpsf-cfn",
             "parameters": {"Stage": "prod"}},
            {"name": "prod-euw1", "account": "222222222222", "region": "eu-west-1", "roleArn": PROD}
        ],
        "waves": [["tools-use1"], ["prod-use1"], ["prod-euw1"]],
        "bake": {"seconds": 300, "alarms": ["app-errors"], "alarmPrefix": "app-"},
        "failureTolerance": 0
    })
}

fn with(changes: Value) -> Value {
    let mut input = example();
    for (key, value) in changes.as_object().unwrap() {
        match value {
            Value::Null => input.as_object_mut().unwrap().remove(key),
            _ => input
                .as_object_mut()
                .unwrap()
                .insert(key.clone(), value.clone()),
        };
    }
    input
}

fn errors(input: Value) -> Vec<String> {
    parse(&input).unwrap_err()
}

fn error(input: Value) -> String {
    let mut all = errors(input);
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}

#[test]
fn the_issues_example_is_read() {
    let rollout = parse(&example()).unwrap().unwrap();
    assert_eq!(rollout.targets.len(), 3);
    assert_eq!(
        rollout.waves,
        vec![vec!["tools-use1"], vec!["prod-use1"], vec!["prod-euw1"]]
    );
    assert_eq!(rollout.failure_tolerance, 0);
    let bake = rollout.bake.as_ref().unwrap();
    assert_eq!(
        (bake.seconds, bake.alarms.clone()),
        (300, vec!["app-errors".to_string()])
    );
    assert_eq!(rollout.wave_regions(2), vec!["eu-west-1"]);
    assert_eq!(
        rollout.target("prod-euw1").unwrap().account.as_deref(),
        Some("222222222222")
    );
}

#[test]
fn without_targets_every_current_key_keeps_working() {
    let today = json!({"stackName": "app", "templatePath": "t.yaml", "parameters": {"A": 1},
        "capabilities": ["CAPABILITY_IAM"], "tags": {"k": "v"}, "roleArn": "arn:aws:iam::1:role/x",
        "allowReplacements": true, "recreateFailedStack": true, "pipeline": {"artifacts": []}});
    assert_eq!(parse(&today), Ok(None));
    assert_eq!(parse(&json!("not an object")), Ok(None));
}

#[test]
fn rollout_keys_without_targets_are_refused() {
    assert_eq!(
        errors(json!({"stackName": "app", "waves": [["a"]], "failureTolerance": 1})),
        vec![
            "waves, failureTolerance given without targets: they shape a rollout over several \
              targets; add targets, or remove them to deploy to the worker's own account and region"
                .to_string()
        ]
    );
}

#[test]
fn the_target_key_is_reserved_for_cpsf() {
    let message = "the deploy input has a 'target' key, which cpsf sets in each target's deploy to \
                   say where it goes: list targets under 'targets', or rename the key";
    assert_eq!(
        errors(json!({"stackName": "app", "target": {"region": "eu-west-1"}})),
        vec![message]
    );
    assert_eq!(error(with(json!({"target": "x"}))), message);
}

#[test]
fn the_rollback_triggers_key_is_reserved_in_a_rollout() {
    assert_eq!(
        error(with(json!({"rollbackTriggers": {"alarms": ["a"]}}))),
        "the deploy input has a 'rollbackTriggers' key, which cpsf sets in each target's deploy \
         from bake.rollback: use bake.rollback, or remove the key"
    );
    // A single deploy may set its own (statemachines/README.md).
    assert_eq!(
        parse(&json!({"stackName": "app", "rollbackTriggers": {"alarms": ["a"]}})),
        Ok(None)
    );
}

#[test]
fn default_waves_are_one_per_region_in_first_seen_order() {
    let input = with(json!({"waves": null, "bake": null, "targets": [
        {"name": "a", "region": "eu-west-1"},
        {"name": "b", "region": "us-east-1"},
        {"name": "c", "region": "eu-west-1", "roleArn": PROD},
        {"name": "d", "region": "ap-southeast-4"},
    ]}));
    let rollout = parse(&input).unwrap().unwrap();
    assert_eq!(rollout.waves, vec![vec!["a", "c"], vec!["b"], vec!["d"]]);
}

#[test]
fn targets_must_be_a_non_empty_list() {
    assert_eq!(
        error(with(
            json!({"targets": {"name": "a"}, "waves": null, "bake": null})
        )),
        "targets must be a list of targets like [{\"name\": \"prod-use1\", \"region\": \
         \"us-east-1\"}]; it is an object"
    );
    assert_eq!(
        error(with(json!({"targets": [], "waves": null, "bake": null}))),
        "targets is empty: list at least one target, or remove targets to deploy to the worker's \
         own account and region"
    );
}

#[test]
fn more_targets_than_one_action_reports_are_refused_saying_why() {
    let targets: Vec<Value> = (0..=MAX_TARGETS)
        .map(|i| {
            json!({"name": format!("t{i}"), "region": "us-east-1", "account": format!("{:012}", i),
                        "roleArn": format!("arn:aws:iam::{:012}:role/r", i)})
        })
        .collect();
    assert_eq!(
        error(with(
            json!({"targets": targets, "waves": null, "bake": null})
        )),
        "targets lists 101 targets; one Deploy action deploys at most 100: a failed wave's \
         message names each failed target within the 5,000 characters CodePipeline shows, and \
         each target adds two output variables to the action's, which CodePipeline caps at \
         122,880 characters; split the targets over several Deploy actions"
    );
    let hundred = &targets[..MAX_TARGETS];
    assert!(
        parse(&with(
            json!({"targets": hundred, "waves": null, "bake": null})
        ))
        .is_ok()
    );
}

#[test]
fn a_name_given_twice_is_refused() {
    let input = with(json!({"waves": null, "bake": null, "targets": [
        {"name": "a", "region": "us-east-1"}, {"name": "b", "region": "eu-west-1"},
        {"name": "a", "region": "eu-west-2"},
    ]}));
    assert_eq!(
        error(input),
        "target name 'a' is given to targets[0] and targets[2]: each target needs a name of its \
         own, which names its output variables"
    );
}

#[test]
fn a_wave_naming_an_unknown_target_suggests_the_likely_one() {
    assert_eq!(
        errors(with(
            json!({"waves": [["tools-use1"], ["prod-use2"], ["prod-euw1"]]})
        )),
        vec![
            "waves[1] names 'prod-use2', which is not a target (did you mean 'prod-use1'?): a \
             wave lists names from targets"
                .to_string(),
            "target 'prod-use1' is in no wave: when waves are given, each target is in exactly \
             one; add it to a wave, or remove waves for one wave per region"
                .to_string(),
        ]
    );
}

#[test]
fn a_target_in_two_waves_or_twice_in_one_is_refused() {
    assert_eq!(
        error(with(
            json!({"waves": [["tools-use1", "prod-use1"], ["prod-use1", "prod-euw1"]]})
        )),
        "target 'prod-use1' is in waves[0] and waves[1]: each target deploys once, in one wave; \
         remove it from all but one"
    );
    assert_eq!(
        error(with(
            json!({"waves": [["tools-use1", "tools-use1"], ["prod-use1", "prod-euw1"]]})
        )),
        "target 'tools-use1' is named twice in waves[0]: each target deploys once; remove one"
    );
}

#[test]
fn targets_in_no_wave_are_named() {
    assert_eq!(
        error(with(json!({"waves": [["tools-use1"]], "bake": null}))),
        "targets 'prod-use1', 'prod-euw1' are in no wave: when waves are given, each target is in \
         exactly one; add it to a wave, or remove waves for one wave per region"
    );
}

#[test]
fn empty_and_malformed_waves_are_refused() {
    assert_eq!(
        error(with(
            json!({"waves": [["tools-use1"], [], ["prod-use1", "prod-euw1"]]})
        )),
        "waves[1] is empty: a wave deploys at least one target; remove it"
    );
    assert_eq!(
        error(with(json!({"waves": []}))),
        "waves is empty: put each target in one wave, or remove waves for one wave per region"
    );
    assert_eq!(
        errors(with(json!({"waves": ["tools-use1", "prod-use1"]})))[0],
        "waves[0] must be a list of target names, e.g. [[\"tools-use1\"], [\"prod-use1\", \"prod-euw1\"]]; it is a string"
    );
    assert_eq!(
        error(with(
            json!({"waves": [["tools-use1", 2], ["prod-use1", "prod-euw1"]]})
        )),
        "waves[0][1] must be a target's name (a string); it is a number"
    );
}

#[test]
fn a_tolerance_no_wave_can_exceed_is_refused() {
    let waves = json!([["tools-use1"], ["prod-use1", "prod-euw1"]]);
    let ok = parse(&with(json!({"waves": waves, "failureTolerance": 1})))
        .unwrap()
        .unwrap();
    assert_eq!(ok.failure_tolerance, 1);
    assert_eq!(
        error(with(json!({"waves": waves, "failureTolerance": 2}))),
        "failureTolerance 2 would let every target of a wave fail without stopping the rollout \
         (the largest wave has 2), so no failure could ever stop it: use at most 1"
    );
    assert_eq!(
        error(with(json!({"failureTolerance": -1}))),
        "failureTolerance is -1; it must be a whole number: how many targets of a wave may fail \
         without stopping the rollout (0, the default, stops at the first failure)"
    );
}

#[test]
fn targets_across_partitions_are_refused() {
    let input = with(json!({"waves": null, "bake": null, "targets": [
        {"name": "a", "region": "us-east-1"}, {"name": "b", "region": "cn-north-1"}]}));
    assert_eq!(
        error(input),
        "target 'b' (cn-north-1) is in partition aws-cn, but target 'a' (us-east-1) is in aws: a \
         worker's credentials, and the roles it assumes, reach one partition only; deploy each \
         partition from its own action and worker"
    );
}

#[test]
fn two_targets_deploying_the_same_stack_are_refused() {
    let input = with(json!({"waves": null, "bake": null, "targets": [
        {"name": "a", "region": "us-east-1"}, {"name": "b", "region": "us-east-1"},
        {"name": "c", "region": "us-east-1", "roleArn": PROD},
        {"name": "d", "region": "us-east-1", "account": "222222222222", "roleArn": PROD}]}));
    assert_eq!(
        errors(input),
        vec![
            "targets 'a' and 'b' both deploy stack 'app' to us-east-1 in the worker's own \
             account: a stack takes one deploy at a time; remove one, or give it another account \
             or region"
                .to_string(),
            "targets 'c' and 'd' both deploy stack 'app' to us-east-1 in account 222222222222: a \
             stack takes one deploy at a time; remove one, or give it another account or region"
                .to_string(),
        ]
    );
}

#[test]
fn the_top_level_service_role_must_be_usable_in_each_targets_account() {
    let input = with(json!({"roleArn": "arn:aws:iam::111111111111:role/cfn"}));
    assert_eq!(
        error(input),
        "target 'prod-euw1' deploys in account 222222222222 and would use the top-level roleArn, \
         a role of account 111111111111: CloudFormation takes a service role only from the \
         stack's own account (iam:PassRole); give the target a cloudFormationRoleArn"
    );
}

#[test]
fn a_bake_over_one_default_wave_is_refused() {
    let input = with(json!({"waves": null, "targets": [
        {"name": "a", "region": "us-east-1"}, {"name": "b", "region": "us-east-1", "roleArn": PROD}]}));
    assert_eq!(
        error(input),
        "bake is given but the rollout has one wave: a bake runs between waves, after each wave \
         but the last; split the targets into waves, or remove bake"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let input = with(
        json!({"failureTolerance": "none", "bake": {"seconds": 1, "alarm": []},
        "targets": [{"name": "tools-use1", "region": "us-east"},
                    {"name": "prod-use1", "account": "2", "region": "us-east-1"},
                    {"name": "prod-euw1", "region": "eu-west-1"}]}),
    );
    let all = errors(input);
    assert_eq!(all.len(), 4, "{all:#?}");
    for (problem, says) in all.iter().zip([
        "region 'us-east'",
        "account '2'",
        "failureTolerance",
        "'alarm'",
    ]) {
        assert!(problem.contains(says), "{problem}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn default_waves_place_each_target_once_grouped_by_region(
        regions in prop::collection::vec(prop::sample::select(vec!["us-east-1", "eu-west-1", "ap-southeast-4"]), 1..30),
    ) {
        let targets: Vec<Value> = regions.iter().enumerate()
            .map(|(i, r)| json!({"name": format!("t{i}"), "region": r, "roleArn": format!("arn:aws:iam::{:012}:role/r", i)}))
            .collect();
        let rollout = parse(&with(json!({"targets": targets, "waves": null, "bake": null}))).unwrap().unwrap();
        let mut seen: Vec<&str> = rollout.waves.iter().flatten().map(String::as_str).collect();
        prop_assert_eq!(seen.len(), regions.len());
        seen.sort_unstable();
        seen.dedup();
        prop_assert_eq!(seen.len(), regions.len());
        let mut first_seen: Vec<&str> = Vec::new();
        for r in &regions { if !first_seen.contains(r) { first_seen.push(r); } }
        for (wave, region) in rollout.waves.iter().zip(&first_seen) {
            prop_assert!(wave.iter().all(|n| rollout.target(n).unwrap().region == *region));
        }
        prop_assert_eq!(rollout.waves.len(), first_seen.len());
    }
}
