//! A rollout's decisions: each target's input, a wave's outcome, progress
//! and output variables, within CodePipeline's limits.

use super::*;
use crate::targets::limits::{MAX_NAME, MAX_TARGETS, VARIABLE_CHARS_PER_TARGET};
use crate::targets::spec::parse;
use proptest::prelude::*;

fn example() -> Value {
    json!({
        "stackName": "app", "templatePath": "template.yaml",
        "parameters": {"Stage": "dev", "Size": 1},
        "roleArn": "arn:aws:iam::111111111111:role/cfn",
        "pipeline": {"artifacts": [{"bucket": "b", "key": "k"}]},
        "targets": [
            {"name": "tools-use1", "region": "us-east-1"},
            {"name": "prod-use1", "account": "222222222222", "region": "us-east-1",
             "roleArn": "arn:aws:iam::222222222222:role/cpsf-target",
             "cloudFormationRoleArn": "arn:aws:iam::222222222222:role/cpsf-cfn",
             "parameters": {"Stage": "prod", "Extra": true}}
        ],
        "waves": [["tools-use1"], ["prod-use1"]],
        "bake": {"seconds": 60},
        "failureTolerance": 0
    })
}

#[test]
fn a_targets_deploy_input_overrides_parameters_and_says_where_to_go() {
    let input = example();
    let rollout = parse(&input).unwrap().unwrap();
    let prod = target_deploy(&input, rollout.target("prod-use1").unwrap());
    assert_eq!(
        prod,
        json!({
            "stackName": "app", "templatePath": "template.yaml",
            "parameters": {"Stage": "prod", "Size": 1, "Extra": true},
            "roleArn": "arn:aws:iam::222222222222:role/cpsf-cfn",
            "pipeline": {"artifacts": [{"bucket": "b", "key": "k"}]},
            "target": {"name": "prod-use1", "account": "222222222222", "region": "us-east-1",
                       "roleArn": "arn:aws:iam::222222222222:role/cpsf-target"}
        })
    );
    // The worker's own account: the top-level input, and only where to go.
    let tools = target_deploy(&input, rollout.target("tools-use1").unwrap());
    assert_eq!(tools["parameters"], json!({"Stage": "dev", "Size": 1}));
    assert_eq!(tools["roleArn"], input["roleArn"]);
    assert_eq!(
        tools["target"],
        json!({"name": "tools-use1", "region": "us-east-1"})
    );
    // What the task handlers read today still reads it.
    let task = json!({"deploy": prod, "executionArn": "arn:aws:states:us-east-1:1:execution:d:e"});
    let parsed = crate::activity::input::TaskInput::parse(&task.to_string()).unwrap();
    assert_eq!(parsed.deploy.stack_name, "app");
    assert_eq!(parsed.parameters().unwrap().len(), 3);
}

#[test]
fn no_parameters_key_appears_from_nowhere() {
    let input = json!({"stackName": "app", "targets": [{"name": "a", "region": "eu-west-1"}]});
    let rollout = parse(&input).unwrap().unwrap();
    let deploy = target_deploy(&input, &rollout.targets[0]);
    assert_eq!(
        deploy,
        json!({"stackName": "app", "target": {"name": "a", "region": "eu-west-1"}})
    );
}

fn result(name: &str, status: TargetStatus, cause: &str) -> TargetResult {
    TargetResult {
        name: name.into(),
        status,
        stack_id: Some(format!(
            "arn:aws:cloudformation:us-east-1:1:stack/app/{name}"
        )),
        state: (status == TargetStatus::Failed).then(|| "UpdateStack".into()),
        error: (status == TargetStatus::Failed).then(|| "Cpsf.UnsafeChange".into()),
        cause: (status == TargetStatus::Failed).then(|| cause.into()),
        stack_status: None,
        outputs: None,
        execution_arn: None,
    }
}

#[test]
fn failures_up_to_the_tolerance_let_the_rollout_go_on() {
    let wave = [
        result("a", TargetStatus::Succeeded, ""),
        result("b", TargetStatus::Failed, "replaces Queue"),
        result("c", TargetStatus::Succeeded, ""),
    ];
    assert_eq!(wave_outcome(1, 3, &wave, 1), WaveOutcome::Continue);
    assert_eq!(wave_outcome(1, 3, &wave[..1], 0), WaveOutcome::Continue);
}

#[test]
fn more_failures_stop_the_rollout_naming_each_failed_target() {
    let wave = [
        result(
            "prod-use1",
            TargetStatus::Failed,
            "the change set replaces Queue (Replacement: True)",
        ),
        result("prod-euw1", TargetStatus::Succeeded, ""),
        TargetResult {
            name: "prod-apse4".into(),
            status: TargetStatus::Failed,
            stack_id: None,
            state: Some("CheckStack".into()),
            error: Some("Cpsf.Denied".into()),
            cause: None,
            stack_status: None,
            outputs: None,
            execution_arn: None,
        },
    ];
    assert_eq!(
        wave_outcome(2, 3, &wave, 1),
        WaveOutcome::Stop {
            message: "wave 2/3 stopped the rollout: 2 of 3 targets failed, more than \
                      failureTolerance 1 allows; wave 3 was not started: prod-use1 failed in \
                      UpdateStack: Cpsf.UnsafeChange: the change set replaces Queue (Replacement: \
                      True); prod-apse4 failed in CheckStack: Cpsf.Denied"
                .into()
        }
    );
    let WaveOutcome::Stop { message } = wave_outcome(3, 3, &wave, 0) else {
        panic!("must stop");
    };
    assert!(message.starts_with("wave 3/3 stopped the rollout: 2 of 3 targets failed, more than failureTolerance 0 allows: prod-use1"), "{message}");
}

#[test]
fn a_cut_message_still_names_every_failed_target_of_the_largest_wave() {
    // The worst case the limits allow: every target in one wave, every one
    // failed, names at their longest, causes far past the message's limit.
    let wave: Vec<TargetResult> = (0..MAX_TARGETS)
        .map(|i| {
            let name = format!("t{i:03}{}", "x".repeat(MAX_NAME - 4));
            result(
                &name,
                TargetStatus::Failed,
                &"a long cause 😀 ".repeat(2000),
            )
        })
        .collect();
    let WaveOutcome::Stop { message } = wave_outcome(1, 2, &wave, 0) else {
        panic!("must stop");
    };
    assert!(message.encode_utf16().count() <= MAX_FAILURE_MESSAGE);
    for r in &wave {
        assert!(message.contains(&r.name), "{} is not named", r.name);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn any_stopping_wave_names_each_failed_target_within_5000(
        failed in prop::collection::vec(("[a-z][a-z0-9-]{0,36}", ".{0,800}"), 1..MAX_TARGETS),
    ) {
        let wave: Vec<TargetResult> = failed
            .iter()
            .enumerate()
            .map(|(i, (name, cause))| result(&format!("{name}{i}"), TargetStatus::Failed, cause))
            .collect();
        let WaveOutcome::Stop { message } = wave_outcome(1, 1, &wave, 0) else {
            panic!("must stop");
        };
        prop_assert!(message.encode_utf16().count() <= MAX_FAILURE_MESSAGE);
        for r in &wave {
            prop_assert!(message.contains(&r.name));
        }
    }
}

#[test]
fn progress_names_each_target_while_it_fits() {
    let targets = [
        ("prod-use1".to_string(), "UPDATE_IN_PROGRESS".to_string()),
        ("prod-euw1".to_string(), "UPDATE_COMPLETE".to_string()),
    ];
    assert_eq!(
        progress_summary(2, 3, &targets),
        "wave 2/3: prod-use1 UPDATE_IN_PROGRESS, prod-euw1 UPDATE_COMPLETE"
    );
    assert_eq!(
        progress_summary(2, 3, &targets[..1]),
        "wave 2/3: prod-use1 UPDATE_IN_PROGRESS"
    );
}

#[test]
fn progress_of_a_large_wave_groups_then_counts_within_2048() {
    let status = |i: usize| {
        if i.is_multiple_of(3) {
            "UPDATE_COMPLETE"
        } else {
            "UPDATE_IN_PROGRESS"
        }
    };
    let short: Vec<(String, String)> = (0..MAX_TARGETS)
        .map(|i| (format!("t{i}"), status(i).to_string()))
        .collect();
    let grouped = progress_summary(1, 2, &short);
    assert!(
        grouped.starts_with("wave 1/2: UPDATE_COMPLETE t0, t3, t6"),
        "{grouped}"
    );
    assert!(
        grouped.contains("; UPDATE_IN_PROGRESS t1, t2, t4"),
        "{grouped}"
    );
    let long: Vec<(String, String)> = (0..MAX_TARGETS)
        .map(|i| {
            (
                format!("t{i:03}{}", "x".repeat(MAX_NAME - 4)),
                status(i).to_string(),
            )
        })
        .collect();
    assert_eq!(
        progress_summary(1, 2, &long),
        "wave 1/2: 34 UPDATE_COMPLETE, 66 UPDATE_IN_PROGRESS"
    );
}

#[test]
fn output_variables_name_each_targets_stack_and_status() {
    let mut failed = result("b", TargetStatus::Failed, "x");
    failed.stack_id = None;
    let variables = output_variables(&[result("a", TargetStatus::Succeeded, ""), failed]);
    assert_eq!(
        variables,
        BTreeMap::from([
            (
                "a_StackId".to_string(),
                "arn:aws:cloudformation:us-east-1:1:stack/app/a".to_string()
            ),
            ("a_Status".to_string(), "Succeeded".to_string()),
            ("b_Status".to_string(), "Failed".to_string()),
        ])
    );
}

#[test]
fn the_most_targets_variables_fit_what_codepipeline_accepts() {
    let results: Vec<TargetResult> = (0..MAX_TARGETS)
        .map(|i| TargetResult {
            name: format!("t{i:03}{}", "x".repeat(MAX_NAME - 4)),
            status: TargetStatus::Succeeded,
            stack_id: Some(format!(
                "arn:aws-us-gov:cloudformation:ap-southeast-4:123456789012:stack/{}/{}",
                "s".repeat(128),
                "0".repeat(36)
            )),
            state: None,
            error: None,
            cause: None,
            stack_status: None,
            outputs: None,
            execution_arn: None,
        })
        .collect();
    let variables = output_variables(&results);
    let size: usize = variables.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(size <= MAX_TARGETS * VARIABLE_CHARS_PER_TARGET, "{size}");
    // job/outputs.rs, which checks what CodePipeline accepts, keeps them all.
    let outputs: Map<String, Value> = variables
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut exported = BTreeMap::new();
    assert_eq!(crate::job::outputs::export(&mut exported, &outputs), vec![]);
    assert_eq!(exported, variables);
}
