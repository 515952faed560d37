//! PlanRollout, the first state of a rollout (an input with `targets`,
//! statemachines/README.md): checks the rollout keys, every problem at
//! once (`targets::spec`), and each target's own deploy input as the
//! single-target path will read it, before anything deploys; then plans
//! each target's child execution (`targets::rollout`). No AWS call.

use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::targets::{rollout, spec};
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Input {
    deploy: Map<String, Value>,
    execution_arn: String,
    #[serde(flatten)]
    clock: crate::approval::deadline::ExecutionClock,
}

pub fn run(input: &str) -> Result<Value, TaskError> {
    let Input {
        deploy,
        execution_arn,
        clock,
    } = serde_json::from_str(input).map_err(|e| {
        TaskError::input(format!(
            "the PlanRollout task input is not as expected: {e}"
        ))
    })?;
    // Every target shares the input's `approval`: its problems are the
    // rollout's, reported with the others.
    let whole = Value::Object(deploy.clone());
    let approval_problems = crate::approval::spec::parse(&whole, clock.timeout_seconds())
        .err()
        .unwrap_or_default();
    let rollout = match spec::parse(&whole) {
        Err(mut problems) => {
            problems.extend(approval_problems);
            return Err(TaskError::input(refused(&problems)));
        }
        Ok(_) if !approval_problems.is_empty() => {
            return Err(TaskError::input(refused(&approval_problems)));
        }
        Ok(rollout) => rollout,
    }
    .ok_or_else(|| {
        TaskError::input("PlanRollout plans an input with targets; this one has none")
    })?;
    let plan = rollout::plan(&deploy, &rollout, &execution_arn);
    for target in plan.waves.iter().flatten() {
        let mut own = plan.shared.clone();
        own.extend(target.input.clone());
        let task = json!({"deploy": own, "executionArn": execution_arn,
                          "executionTimeoutSeconds": clock.execution_timeout_seconds})
        .to_string();
        TaskInput::parse(&task)
            .map_err(|e| TaskError::input(format!("target '{}': {}", target.name, e.cause)))?;
    }
    // The plan is the rollout's state from here on, and each wave adds to
    // it (NextWave's copy of the wave, the targets' results, the request
    // and decision): all of it must fit the 256 KiB Step Functions carries
    // between states, or the execution fails mid-rollout with
    // States.DataLimitExceeded, which no Catch handles (`targets::budget`).
    crate::targets::budget::check(&plan).map_err(TaskError::input)?;
    serde_json::to_value(&plan)
        .map_err(|e| TaskError::input(format!("the rollout's plan cannot be written: {e}")))
}

/// Every problem, numbered when there are several.
fn refused(problems: &[String]) -> String {
    match problems {
        [one] => format!("the rollout input is refused: {one}"),
        many => {
            let listed: Vec<String> = many
                .iter()
                .enumerate()
                .map(|(i, p)| format!("({}) {p}", i + 1))
                .collect();
            format!(
                "the rollout input is refused, {} problems: {}",
                many.len(),
                listed.join("; ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_on(deploy: Value) -> Result<Value, TaskError> {
        run(&json!({"deploy": deploy, "executionArn": "arn:aws:states:us-east-1:111111111111:execution:deploy:p-1"}).to_string())
    }

    #[test]
    fn every_problem_is_named_and_nothing_is_planned() {
        let refused = run_on(json!({
            "stackName": "app",
            "targets": [
                {"name": "a", "region": "us-east-1"},
                {"name": "a", "region": "eu-west-1"},
                {"name": "b", "account": "12345", "region": "us-east-1"}
            ],
            "waves": [["a"], ["zz"]]
        }))
        .unwrap_err();
        assert_eq!(refused.name, "Cpsf.InputInvalid");
        assert!(refused.cause.contains("problems: (1)"), "{}", refused.cause);
        for named in ["'a'", "12345", "'zz'"] {
            assert!(refused.cause.contains(named), "{named}: {}", refused.cause);
        }
    }

    #[test]
    fn the_shared_approvals_problems_are_the_rollouts() {
        let targets = json!([{"name": "a", "region": "us-east-1"}]);
        let alone = run_on(json!({"stackName": "app", "targets": targets,
                                  "approval": {"when": "sometimes"}}))
        .unwrap_err();
        assert!(
            alone.cause.contains("approval.when is \"sometimes\""),
            "{}",
            alone.cause
        );
        let with_others = run_on(
            json!({"stackName": "app", "targets": targets, "waves": [["zz"]],
                                        "approval": {"when": "sometimes"}}),
        )
        .unwrap_err();
        assert!(with_others.cause.contains("'zz'"), "{}", with_others.cause);
        assert!(
            with_others.cause.contains("approval.when"),
            "{}",
            with_others.cause
        );
    }

    #[test]
    fn a_target_whose_own_input_the_deploy_path_refuses_stops_the_plan() {
        let refused = run_on(json!({
            "stackName": " ",
            "targets": [{"name": "a", "region": "us-east-1"}]
        }))
        .unwrap_err();
        assert_eq!(refused.cause, "target 'a': stackName must not be empty");
    }

    #[test]
    fn each_target_gets_its_own_keys_and_the_rest_is_shared() {
        let plan = run_on(json!({
            "stackName": "app",
            "templatePath": "t.yaml",
            "parameters": {"Stage": "dev", "Size": "1"},
            "pipeline": {"jobId": "job-1", "artifacts": []},
            "targets": [
                {"name": "dev", "region": "us-east-1"},
                {"name": "prod", "account": "222222222222", "region": "eu-west-1",
                 "roleArn": "arn:aws:iam::222222222222:role/cpsf-target",
                 "parameters": {"Stage": "prod"}}
            ]
        }))
        .unwrap();
        assert_eq!(
            plan["shared"],
            json!({"stackName": "app", "templatePath": "t.yaml",
                   "parameters": {"Stage": "dev", "Size": "1"},
                   "pipeline": {"artifacts": []}})
        );
        let waves = plan["waves"].as_array().unwrap();
        assert_eq!(waves.len(), 2, "one wave per region by default");
        assert_eq!(
            waves[1][0]["input"],
            json!({"parameters": {"Stage": "prod", "Size": "1"},
                   "target": {"name": "prod", "account": "222222222222", "region": "eu-west-1",
                              "roleArn": "arn:aws:iam::222222222222:role/cpsf-target"}})
        );
        assert_eq!(
            waves[0][0]["input"],
            json!({"target": {"name": "dev", "region": "us-east-1"}})
        );
        assert!(
            waves[1][0]["execution"]
                .as_str()
                .unwrap()
                .starts_with("prod-")
        );
        assert_eq!(plan["progress"]["wave"], 0);
        assert_eq!(plan["progress"]["done"], false);
    }
}
