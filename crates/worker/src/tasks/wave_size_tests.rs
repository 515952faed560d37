//! Issue 26, defect 1: every state a rollout's wave goes through stays
//! within Step Functions' 256 KiB ("Maximum input or output size for a
//! task, state, or execution", developer guide, "Step Functions service
//! quotas"). Past it the execution fails with `States.DataLimitExceeded`,
//! which no Catch handles (developer guide, "Handling errors"): every
//! planned change set would be left behind.
//!
//! The test follows statemachines/deploy.asl.json itself (`asl_eval`):
//! each state's input and output are what its InputPath, Parameters,
//! ItemSelector, ResultSelector, ResultPath and OutputPath make of the
//! state before it, with the real task handlers' pure parts producing the
//! results, and children as large as the input limits allow.

use super::asl_eval::{self, Context};
use crate::approval::ask::Request;
use crate::approval::spec::{Approval, When};
use crate::base::change::Change;
use crate::base::limits::DEFAULT_TIMEOUT_SECONDS;
use crate::bootstrap::definition::{DEPLOY_ASL, with_timeout};
use serde_json::{Value, json};

/// Step Functions' limit for a state's input or output, in bytes.
const STATE_LIMIT: usize = 256 * 1024;

/// The rollout's own execution and state machine (the longest region and
/// a state machine name of 80 characters, Step Functions' longest).
const STATE_MACHINE: &str = "arn:aws:states:ap-southeast-4:123456789012:stateMachine:\
     cpsf-deploy-state-machine-with-the-longest-name-step-functions-allows-xxxxxxxxxx";

fn rollout_arn() -> String {
    format!(
        "{}:{}",
        STATE_MACHINE.replace(":stateMachine:", ":execution:"),
        "x".repeat(80)
    )
}

struct Walk {
    definition: Value,
    ctx: Context,
    /// Each state input or output seen, with its size in bytes.
    sizes: Vec<(String, usize)>,
}

impl Walk {
    fn new() -> Walk {
        let definition =
            serde_json::from_str(&with_timeout(DEPLOY_ASL, DEFAULT_TIMEOUT_SECONDS)).unwrap();
        Walk {
            definition,
            ctx: Context {
                execution_id: rollout_arn(),
                state_machine_id: STATE_MACHINE.into(),
                task_token: "t".repeat(1024),
                item: None,
            },
            sizes: Vec::new(),
        }
    }

    fn state(&self, name: &str) -> Value {
        self.definition["States"][name].clone()
    }

    fn seen(&mut self, label: impl Into<String>, value: &Value) {
        let size = value.to_string().len();
        self.sizes.push((label.into(), size));
    }

    /// A Task state on `raw`, its handler `run` given the task's input.
    fn task(&mut self, name: &str, raw: &Value, run: impl FnOnce(&Value) -> Value) -> Value {
        let state = self.state(name);
        let input = asl_eval::effective_input(&state, raw, &self.ctx);
        self.seen(format!("{name} task input"), &input);
        let result = run(&input);
        self.seen(format!("{name} result"), &result);
        let out = asl_eval::output(&state, raw, result, &self.ctx);
        self.seen(format!("{name} output"), &out);
        out
    }

    fn pass(&mut self, name: &str, raw: &Value) -> Value {
        let state = self.state(name);
        let out = asl_eval::pass(&state, raw, &self.ctx);
        self.seen(format!("{name} output"), &out);
        out
    }

    /// DeployWave on `raw`: each item's iteration as the definition runs
    /// it, the child execution answering with `child(index, input)`: its
    /// output, or the error and cause the Catch sees.
    fn deploy_wave(
        &mut self,
        raw: &Value,
        label: &str,
        child: impl Fn(usize, &Value) -> Result<Value, (String, String)>,
    ) -> Value {
        let map = self.state("DeployWave");
        let map_input = asl_eval::effective_input(&json!({}), raw, &self.ctx);
        let items = asl_eval::path(&map_input, &self.ctx, map["ItemsPath"].as_str().unwrap());
        let iteration = &map["ItemProcessor"]["States"];
        let deploy = &iteration["DeployTarget"];
        let mut results = Vec::new();
        let (mut largest, mut largest_input) = (0, 0);
        for (index, item) in items.as_array().unwrap().iter().enumerate() {
            let ctx = Context {
                item: Some(item.clone()),
                ..self.ctx.clone()
            };
            let raw_item = asl_eval::payload(&map["ItemSelector"], &map_input, &ctx);
            let params = asl_eval::effective_input(deploy, &raw_item, &ctx);
            let child_input = &params["Input"];
            largest_input = largest_input.max(child_input.to_string().len());
            let out = match child(index, child_input) {
                Ok(output) => {
                    let name = params["Name"].as_str().unwrap();
                    let sync = json!({
                        "ExecutionArn": format!("{}:{name}", STATE_MACHINE.replace(":stateMachine:", ":execution:")),
                        "Input": child_input.to_string(),
                        "InputDetails": {"Included": true},
                        "Name": name,
                        "Output": output,
                        "OutputDetails": {"Included": true},
                        "StartDate": 1.7e12, "StopDate": 1.7e12,
                        "StateMachineArn": STATE_MACHINE,
                        "Status": "SUCCEEDED",
                    });
                    asl_eval::output(deploy, &raw_item, sync, &ctx)
                }
                Err((error, cause)) => {
                    let catcher = &deploy["Catch"][0];
                    let caught = asl_eval::caught(catcher, &raw_item, &error, &cause);
                    largest = largest.max(caught.to_string().len());
                    let next = catcher["Next"].as_str().unwrap();
                    asl_eval::pass(&iteration[next], &caught, &ctx)
                }
            };
            largest = largest.max(out.to_string().len());
            results.push(out);
        }
        self.sizes
            .push((format!("{label}: largest iteration state"), largest));
        self.sizes.push((
            format!("{label}: largest child execution input"),
            largest_input,
        ));
        let out = asl_eval::output(&map, raw, Value::Array(results), &self.ctx);
        self.seen(format!("{label}: DeployWave output"), &out);
        out
    }

    fn assert_within_limit(&self) {
        let over: Vec<&(String, usize)> = self
            .sizes
            .iter()
            .filter(|(_, size)| *size > STATE_LIMIT)
            .collect();
        assert!(
            over.is_empty(),
            "over Step Functions' {STATE_LIMIT} bytes: {over:#?}"
        );
    }

    fn largest(&self) -> &(String, usize) {
        self.sizes.iter().max_by_key(|(_, size)| *size).unwrap()
    }
}

/// 40 characters, as `targets::limits::MAX_NAME` allows.
fn target_name(index: usize) -> String {
    format!("t{index:03}-{}", "n".repeat(35))
}

fn account(index: usize) -> String {
    format!("{:012}", 100_000_000_000_u64 + index as u64)
}

fn index_of(name: &str) -> usize {
    name[1..4].parse().unwrap()
}

/// A rollout of `targets` targets in waves of `waves` targets each, asking for
/// every change, its input padded with `padding` bytes of a key every
/// target shares (the deploy input may carry keys cpsf does not read).
/// Each target in another account, reached by a role, with a parameter of
/// its own: `maximal` gives each its longest role names and a staging
/// bucket as well (which PlanRollout refuses for 100 targets in one wave
/// that asks: the test below).
fn rollout_input(targets: usize, waves: &[usize], bake: bool, padding: usize) -> Value {
    targets_input(targets, waves, bake, padding, false)
}

fn targets_input(
    targets: usize,
    waves: &[usize],
    bake: bool,
    padding: usize,
    maximal: bool,
) -> Value {
    let listed: Vec<Value> = (0..targets)
        .map(|i| {
            let account = account(i);
            let mut target = json!({
                "name": target_name(i),
                "account": account,
                "region": "ap-southeast-4",
                "roleArn": format!("arn:aws:iam::{account}:role/cpsf-target"),
                "parameters": {"Stage": format!("stage-{i}")},
            });
            if maximal {
                target["roleArn"] =
                    json!(format!("arn:aws:iam::{account}:role/{}", "r".repeat(64)));
                target["cloudFormationRoleArn"] =
                    json!(format!("arn:aws:iam::{account}:role/{}", "c".repeat(64)));
                target["stagingBucket"] = json!(format!(
                    "cpsf-staging-{account}-ap-southeast-4-{}",
                    "b".repeat(10)
                ));
            }
            target
        })
        .collect();
    let largest = *waves.iter().max().unwrap();
    let mut first = 0;
    let waves: Vec<Vec<String>> = waves
        .iter()
        .map(|size| {
            first += size;
            (first - size..first).map(target_name).collect()
        })
        .collect();
    let mut input = json!({
        "stackName": "s".repeat(100),
        "templatePath": "template.yaml",
        "parameters": {"Stage": "dev"},
        "notes": "p".repeat(padding),
        "capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        "tags": {"team": "platform"},
        "approval": approval_input(),
        "targets": listed,
        "waves": waves,
        "failureTolerance": largest - 1,
        "pipeline": {
            "pipelineName": "p".repeat(100), "pipelineExecutionId": "0".repeat(36),
            "stage": "Deploy", "action": "Deploy", "jobId": "0".repeat(36),
            "artifacts": [{"name": "Source", "bucket": "b".repeat(63), "key": "k".repeat(200), "revision": "r".repeat(64)}]
        }
    });
    if bake {
        input["bake"] = json!({"seconds": 60, "alarms": ["a".repeat(255), "b".repeat(255)]});
    }
    input
}

/// The rollout with the most padding PlanRollout accepts: the largest
/// input its check lets through.
fn largest_accepted(targets: usize, waves: &[usize], bake: bool) -> Value {
    let accepted = |padding: usize| {
        let input = rollout_input(targets, waves, bake, padding);
        let task = json!({"deploy": input, "executionArn": rollout_arn()});
        super::plan_rollout::run(&task.to_string()).is_ok()
    };
    if !accepted(0) {
        let input = rollout_input(targets, waves, bake, 0);
        let task = json!({"deploy": input, "executionArn": rollout_arn()});
        let refused = super::plan_rollout::run(&task.to_string()).unwrap_err();
        panic!(
            "PlanRollout refuses the rollout unpadded: {}",
            refused.cause
        );
    }
    let (mut low, mut high) = (0, STATE_LIMIT);
    while low + 1 < high {
        let middle = (low + high) / 2;
        if accepted(middle) {
            low = middle;
        } else {
            high = middle;
        }
    }
    eprintln!("PlanRollout accepts up to {low} bytes of padding");
    rollout_input(targets, waves, bake, low)
}

fn approval_input() -> Value {
    json!({
        "when": "always",
        "notify": format!("arn:aws:sns:ap-southeast-4:123456789012:{}", "n".repeat(256)),
        "timeoutMinutes": crate::approval::spec::MAX_TIMEOUT_MINUTES,
        "message": "m".repeat(crate::approval::spec::MAX_MESSAGE_CHARS),
        "reviewUrl": longest_review_url(),
    })
}

/// The longest review URL the input takes.
fn longest_review_url() -> String {
    let head = "https://staging.example/";
    let url = format!(
        "{head}{}",
        "u".repeat(crate::approval::spec::MAX_REVIEW_URL_CHARS - head.len())
    );
    assert_eq!(crate::approval::spec::check_url(&url), Ok(url.clone()));
    url
}

fn approval() -> Approval {
    let input = approval_input();
    Approval {
        when: When::Always,
        notify: input["notify"].as_str().map(str::to_string),
        timeout_minutes: crate::approval::spec::MAX_TIMEOUT_MINUTES,
        message: input["message"].as_str().map(str::to_string),
        review_url: Some(crate::approval::spec::ReviewUrl::Url(longest_review_url())),
    }
}

/// The most resources a stack has (500, CloudFormation user guide,
/// "CloudFormation quotas").
const MOST_RESOURCES: usize = 500;

/// A change set of `count` resources, each with a long logical id and its
/// causes, every other one replacing its resource.
fn changes(target: usize, count: usize) -> Vec<Change> {
    (0..count)
        .map(|i| Change {
            action: "Modify".into(),
            logical_id: format!("Resource{i:03}{}", "L".repeat(50)),
            resource_type: "AWS::SQS::Queue".into(),
            replacement: Some(if i % 2 == 0 { "True" } else { "False" }.into()),
            causes: vec![
                format!(
                    "Properties.QueueName (requires replacement), from parameter Stage{target}"
                ),
                "Properties.VisibilityTimeout".into(),
            ],
            // AWS names what happens to the old resource (the longest word).
            policy_action: Some("ReplaceAndSnapshot".into()),
        })
        .collect()
}

fn stack_id(index: usize) -> String {
    format!(
        "arn:aws:cloudformation:ap-southeast-4:{}:stack/{}/{}",
        account(index),
        "s".repeat(100),
        "0".repeat(36)
    )
}

/// A stack's outputs: CloudFormation's most (200, "CloudFormation
/// quotas"), each with a long value.
fn stack_outputs() -> Value {
    let outputs: serde_json::Map<String, Value> = (0..200)
        .map(|i| (format!("Output{i:03}"), json!("v".repeat(500))))
        .collect();
    Value::Object(outputs)
}

/// How a target's child execution ends in its planning stage.
#[derive(Clone, Copy)]
enum End {
    /// It made a change set of this many resources, waiting on the wave.
    Planned(usize),
    NoChanges,
    Failed,
}

/// A child's output through the child's own final state `state`
/// (Planned, NoChanges, Deployed: each a Pass that picks the task's result
/// with its InputPath).
fn through(walk: &Walk, state: &str, child_state: &Value) -> Value {
    asl_eval::pass(&walk.state(state), child_state, &walk.ctx)
}

/// What a target's planning child execution outputs: UpdateStack's result
/// with its plan (`asking::planned_output`), through its Planned state; or
/// its unchanged stack through NoChanges.
fn planning_child(walk: &Walk, index: usize, end: End) -> Value {
    let resources = match end {
        End::Planned(resources) => resources,
        End::NoChanges => {
            let result = json!({"changed": false, "stackId": stack_id(index),
                                "stackStatus": "UPDATE_COMPLETE", "outputs": stack_outputs()});
            return through(
                walk,
                "NoChanges",
                &json!({"stackOperation": {"result": result}}),
            );
        }
        End::Failed => unreachable!("a failed child has no output"),
    };
    let changes = changes(index, resources);
    let mut request = Request::new(
        &approval(),
        &"s".repeat(100),
        &format!("cpsf-changes-{}", "c".repeat(100)),
        format!(
            "{} (ap-southeast-4, account {})",
            target_name(index),
            account(index)
        ),
        Some("p".repeat(100)),
        &changes,
    );
    request.template_diff = Some("d".repeat(crate::approval::diff::MAX_DIFF_BYTES));
    let operation = json!({
        "changed": true, "changes": changes, "stackId": stack_id(index), "startedAt": 1.7e9,
        "planned": super::asking::planned_output(&request, true),
    });
    through(walk, "Planned", &json!({"stackOperation": operation}))
}

/// What a target's applying child execution outputs: WaitForStack's
/// result through Deployed.
fn applying_child(walk: &Walk, index: usize) -> Value {
    let result = json!({
        "stackId": stack_id(index), "stackStatus": "UPDATE_COMPLETE",
        "outputs": stack_outputs(), "changes": changes(index, MOST_RESOURCES),
        "summary": "s".repeat(2000), "approval": decision(),
    });
    through(walk, "Deployed", &json!({"wait": {"result": result}}))
}

/// What FinishWave and GatherWave read of a failed child: the runner cuts
/// a task's cause to 32,000 characters (`activity::runner`).
fn failed_child(name: &str, arn: &str) -> crate::targets::plan::TargetResult {
    crate::targets::plan::TargetResult {
        name: name.to_string(),
        status: crate::targets::plan::TargetStatus::Failed,
        stack_id: None,
        stack_status: None,
        state: Some("UpdateStack".into()),
        error: Some("Cpsf.UnsafeChange".into()),
        cause: Some("\"c\"".repeat(32_000 / 3)),
        outputs: None,
        execution_arn: Some(arn.to_string()),
    }
}

/// The longest decision a person can make (`approval::decision`: a name
/// of 100 characters, a comment of 1,000).
fn decision() -> Value {
    json!({"approved": true, "by": "\u{1}".repeat(100), "comment": "\u{1}".repeat(1000),
           "at": 1_700_000_000_u64, "via": "cpsf approve"})
}

fn child_arn(name: &str) -> String {
    format!(
        "{}:{name}",
        STATE_MACHINE.replace(":stateMachine:", ":execution:")
    )
}

/// Runs the rollout `input` through the definition, each target's
/// planning child ending as `end` says, and returns every size seen.
fn run_rollout(input: &Value, end: impl Fn(usize) -> End) -> Walk {
    use super::finish_wave::{WaveInput, finish};
    use super::gather_wave::{Child, gather};
    let mut walk = Walk::new();
    let probe = Walk::new();
    walk.seen("execution input", input);
    let mut state = walk.task("PlanRollout", input, |task| {
        super::plan_rollout::run(&task.to_string()).unwrap()
    });
    for wave in 1.. {
        state = walk.pass("NextWave", &state);
        let label = format!("wave {wave}");
        state = walk.deploy_wave(&state, &format!("{label} plan"), |index, _| {
            match end(index) {
                End::Failed => Err(("States.TaskFailed".into(), "x".repeat(32_768))),
                other => Ok(planning_child(&probe, index, other)),
            }
        });
        assert_eq!(
            state["current"]["stage"], "plan",
            "WaveDeployed: GatherWave"
        );
        state = walk.task("GatherWave", &state, |task| {
            let (read, rollout) = WaveInput::parse(&task.to_string(), "GatherWave").unwrap();
            let reads = read
                .current
                .targets
                .iter()
                .zip(&read.current.results)
                .map(|(target, result)| {
                    let index = index_of(&target.name);
                    let child = match end(index) {
                        End::Failed => {
                            Child::Failed(failed_child(&target.name, &child_arn(&target.execution)))
                        }
                        other => Child::Succeeded(planning_child(&probe, index, other)),
                    };
                    (target.clone(), result.clone(), child)
                })
                .collect();
            gather(&read.plan, &rollout, &read.execution_arn, reads, None)
                .unwrap_or_else(|stopped| panic!("{}", stopped.message))
        });
        assert_eq!(
            state["current"]["asks"], true,
            "WaveAsks: RequestWaveApproval"
        );
        // A refusal (its Catch) instead of the decision: DiscardWave's input.
        let ask = walk.state("RequestWaveApproval");
        let refused = asl_eval::caught(
            &ask["Catch"][0],
            &state,
            "Cpsf.Rejected",
            &format!("rejected by {}", "\u{1}".repeat(1101)),
        );
        walk.seen("RequestWaveApproval caught (refusal)", &refused);
        walk.task("DiscardWave", &refused, |_| json!({}));
        state = walk.task("RequestWaveApproval", &state, |_| decision());
        state = walk.deploy_wave(&state, &format!("{label} apply"), |index, _| {
            Ok(applying_child(&probe, index))
        });
        assert_eq!(
            state["current"]["stage"], "apply",
            "WaveDeployed: FinishWave"
        );
        state = walk.task("FinishWave", &state, |task| {
            let (read, rollout) = WaveInput::parse(&task.to_string(), "FinishWave").unwrap();
            let mut results: Vec<_> = read
                .current
                .targets
                .iter()
                .map(|t| {
                    crate::targets::rollout::succeeded(
                        &t.name,
                        &applying_child(&probe, index_of(&t.name)),
                        &child_arn(&t.execution),
                    )
                })
                .collect();
            for settled in &read.current.settled {
                let index = index_of(&settled.name);
                let arn = child_arn(&settled.execution);
                results.push(match end(index) {
                    End::Failed => failed_child(&settled.name, &arn),
                    other => crate::targets::rollout::succeeded(
                        &settled.name,
                        &planning_child(&probe, index, other),
                        &arn,
                    ),
                });
            }
            let plan = finish(read.plan, &rollout, results, read.current.decision, 1.7e9).unwrap();
            serde_json::to_value(plan).unwrap()
        });
        let progress = state["plan"]["progress"].clone();
        if progress["bake"] == true {
            state = walk.task("Bake", &state, |_| json!({"done": true}));
            continue;
        }
        if progress["done"] == true {
            let done = walk.state("RolloutDone");
            let output = asl_eval::effective_input(&done, &state, &walk.ctx);
            walk.seen("RolloutDone output (the execution's)", &output);
            return walk;
        }
    }
    unreachable!()
}

fn report(walk: &Walk) {
    for (label, size) in &walk.sizes {
        eprintln!("{size:>9}  {label}");
    }
    eprintln!("largest: {:?}", walk.largest());
}

/// The largest wave the input limits allow: every target in one, each
/// planning a change set of a stack's most resources, with the largest
/// input PlanRollout accepts.
#[test]
fn the_largest_wave_asking_for_approval_stays_within_step_functions_limits() {
    let targets = crate::targets::MAX_TARGETS;
    let input = largest_accepted(targets, &[targets], false);
    let walk = run_rollout(&input, |_| End::Planned(MOST_RESOURCES));
    report(&walk);
    walk.assert_within_limit();
}

/// Two waves of 50 with a bake between; the first with failed targets and
/// targets without changes (settled before the decision) beside the
/// planned ones, so the second wave runs with the first's results kept.
#[test]
fn two_waves_with_failures_and_unchanged_stacks_stay_within_step_functions_limits() {
    let targets = crate::targets::MAX_TARGETS;
    let input = largest_accepted(targets, &[50, targets - 50], true);
    let walk = run_rollout(&input, |index| match (index < 50, index % 5) {
        (true, 0 | 1) => End::Failed,
        (true, 2) => End::NoChanges,
        _ => End::Planned(MOST_RESOURCES),
    });
    report(&walk);
    walk.assert_within_limit();
}

/// The wave issue 26 measured: 8 targets (8 regions) × 200 resources with
/// `approval: {when: always}`.
#[test]
fn the_issues_wave_of_eight_targets_stays_within_step_functions_limits() {
    let input = rollout_input(8, &[8], false, 0);
    let walk = run_rollout(&input, |_| End::Planned(200));
    report(&walk);
    walk.assert_within_limit();
}

/// What PlanRollout cannot let through, it refuses before anything
/// deploys, saying how large the plan is and what would fit: 100 targets
/// with every key at its longest, in a rollout that asks. Half of them
/// fit.
#[test]
fn a_rollout_too_large_for_the_state_is_refused_before_it_starts() {
    let targets = crate::targets::MAX_TARGETS;
    let input = targets_input(targets, &[targets], false, 0, true);
    let task = json!({"deploy": input, "executionArn": rollout_arn()});
    let refused = super::plan_rollout::run(&task.to_string()).unwrap_err();
    assert_eq!(refused.name, "Cpsf.InputInvalid");
    assert!(
        refused.cause.contains("100 targets in one wave")
            && refused.cause.contains("fewer targets"),
        "{}",
        refused.cause
    );
    let input = targets_input(50, &[50], false, 0, true);
    let walk = run_rollout(&input, |_| End::Planned(MOST_RESOURCES));
    walk.assert_within_limit();
}
