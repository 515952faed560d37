//! `cpsf bootstrap` as a user runs it, against the playground's
//! CloudFormation: the template deploys, its parameters flow through, and
//! the state machine is the one in statemachines/ with its placeholders filled.

use crate::harness::*;
use cpsf_playground::Emulator;
use std::collections::BTreeMap;

/// Runs `cpsf bootstrap` into the stack `team-cpsf` with `args` after the
/// definition bucket; returns its stdout and fails the test if it fails.
async fn bootstrap(h: &Harness, args: &[&str]) -> String {
    let env = h.env.clone();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let output = tokio::task::spawn_blocking(move || {
        let mut command = cpsf(&env);
        command.args([
            "bootstrap",
            "--definition-bucket",
            "cpsf-install",
            "--stack-name",
            "team-cpsf",
        ]);
        command.args(args);
        command.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The parameters the stack `team-cpsf` runs with.
async fn stack_parameters(h: &Harness) -> BTreeMap<String, String> {
    let stacks = h
        .clients
        .cloudformation()
        .describe_stacks()
        .stack_name("team-cpsf")
        .send()
        .await
        .unwrap();
    stacks.stacks()[0]
        .parameters()
        .iter()
        .map(|p| {
            (
                p.parameter_key().unwrap_or_default().to_string(),
                p.parameter_value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The state machine ARNs the events rule `<prefix>-execution-events`
/// matches (its pattern's `detail.stateMachineArn`), and the ARNs of its
/// targets.
async fn events_rule(h: &Harness, prefix: &str) -> (Vec<String>, Vec<String>) {
    let events = aws_sdk_eventbridge::Client::new(&h.env.sdk_config().await);
    let name = format!("{prefix}-execution-events");
    let rule = events.describe_rule().name(&name).send().await.unwrap();
    let pattern: serde_json::Value =
        serde_json::from_str(rule.event_pattern().unwrap_or_default()).unwrap();
    assert_eq!(pattern["source"], serde_json::json!(["aws.states"]));
    assert_eq!(
        pattern["detail-type"],
        serde_json::json!(["Step Functions Execution Status Change"])
    );
    let machines = pattern["detail"]["stateMachineArn"]
        .as_array()
        .unwrap_or_else(|| panic!("{pattern}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let targets = events
        .list_targets_by_rule()
        .rule(&name)
        .send()
        .await
        .unwrap()
        .targets()
        .iter()
        .map(|t| t.arn().to_string())
        .collect();
    (machines, targets)
}

/// A playground the bootstrap can install on, with the bucket it installs
/// from; None (the test skipped) on an emulator that cannot.
async fn bootstrap_playground() -> Option<Harness> {
    if !needs(
        Emulator::Fakecloud,
        "bootstrap/cpsf.yaml declares AWS::StepFunctions::Activity and \
         AWS::CodePipeline::CustomActionType, which MiniStack 1.5.33's CloudFormation \
         does not know (AWS and fakecloud do)",
    ) {
        return None;
    }
    let h = Harness::start().await;
    h.s3.create_bucket()
        .bucket("cpsf-install")
        .send()
        .await
        .unwrap();
    Some(h)
}

/// A second bootstrap given only a new image keeps every other parameter
/// (UsePreviousValue) — before, it reset DeployedStackPolicyArn to empty,
/// stripping the service role's policy — and `--reset` returns one to its
/// default on purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_bootstrap_keeps_the_parameters_it_is_not_given() {
    let Some(h) = bootstrap_playground().await else {
        return;
    };
    let policy = "arn:aws:iam::123456789012:policy/app-resources";
    let first = [
        "NamePrefix=team",
        "WorkerImage=cpsf:1",
        "VpcId=vpc-0123456789abcdef0",
        "Subnets=subnet-0123456789abcdef0",
        "ArtifactBucketName=cpsf-artifacts",
        "DesiredCount=0",
        "DeployTimeoutSeconds=7200",
        "EventsStateMachineArns=arn:aws:states:us-east-1:123456789012:stateMachine:other",
    ];
    let mut args = vec![format!("--parameter=DeployedStackPolicyArn={policy}")];
    args.extend(first.iter().map(|p| format!("--parameter={p}")));
    bootstrap(&h, &args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let machine = h
        .sfn
        .describe_state_machine()
        .state_machine_arn("arn:aws:states:us-east-1:123456789012:stateMachine:team-deploy")
        .send()
        .await
        .unwrap();
    let definition: serde_json::Value = serde_json::from_str(machine.definition()).unwrap();
    assert_eq!(definition["TimeoutSeconds"], 7200);
    let before = stack_parameters(&h).await;
    assert_eq!(before["DeployedStackPolicyArn"], policy, "{before:?}");
    // The events rule follows the extra state machine as well.
    let (machines, _) = events_rule(&h, "team").await;
    assert_eq!(
        machines,
        [
            "arn:aws:states:us-east-1:123456789012:stateMachine:team-deploy",
            "arn:aws:states:us-east-1:123456789012:stateMachine:other"
        ]
    );

    bootstrap(&h, &["--parameter", "WorkerImage=cpsf:2"]).await;
    let after = stack_parameters(&h).await;
    assert_eq!(after["WorkerImage"], "cpsf:2");
    for key in before
        .keys()
        .filter(|k| !["WorkerImage", "DefinitionKey"].contains(&k.as_str()))
    {
        assert_eq!(after.get(key), before.get(key), "{key} changed: {after:?}");
    }

    bootstrap(&h, &["--reset", "DeployedStackPolicyArn"]).await;
    let reset = stack_parameters(&h).await;
    assert_eq!(reset["DeployedStackPolicyArn"], "", "{reset:?}");
    assert_eq!(reset["WorkerImage"], "cpsf:2");
    assert_eq!(reset["NamePrefix"], "team");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_installs_the_template_on_the_playground() {
    let Some(h) = bootstrap_playground().await else {
        return;
    };
    let stdout = bootstrap(
        &h,
        &[
            "--parameter",
            "NamePrefix=team",
            "--parameter",
            "WorkerImage=cpsf:test",
            "--parameter",
            "VpcId=vpc-0123456789abcdef0",
            "--parameter",
            "Subnets=subnet-0123456789abcdef0",
            "--parameter",
            "ArtifactBucketName=cpsf-artifacts",
        ],
    )
    .await;
    assert!(stdout.contains("stack team-cpsf is ready"), "{stdout}");
    assert!(
        stdout.contains("arn:aws:states:us-east-1:123456789012:stateMachine:team-deploy"),
        "{stdout}"
    );

    let activities = h.sfn.list_activities().send().await.unwrap();
    let mut names: Vec<&str> = activities.activities().iter().map(|a| a.name()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "team-bake",
            "team-canary-bake",
            "team-canary-step",
            "team-check-stack",
            "team-check-teardown",
            "team-create-stack",
            "team-delete-environment",
            "team-delete-stack",
            "team-discard-change-set",
            "team-discard-wave",
            "team-execute-change-set",
            "team-finish-wave",
            "team-gather-wave",
            "team-plan-rollout",
            "team-update-stack",
            "team-wait-stack",
            "team-wait-teardown"
        ]
    );
    let machine = h
        .sfn
        .describe_state_machine()
        .state_machine_arn("arn:aws:states:us-east-1:123456789012:stateMachine:team-deploy")
        .send()
        .await
        .unwrap();
    let definition: serde_json::Value = serde_json::from_str(machine.definition()).unwrap();
    assert_eq!(
        definition["States"]["CheckStack"]["Resource"],
        "arn:aws:states:us-east-1:123456789012:activity:team-check-stack"
    );
    assert!(
        !machine.definition().contains("${"),
        "every placeholder is filled"
    );
    // The timeout placeholder stands where a number goes; CloudFormation
    // fills it with the parameter's default.
    assert_eq!(
        definition["TimeoutSeconds"],
        cpsf_worker::base::limits::DEFAULT_TIMEOUT_SECONDS
    );

    // The execution events: the queue the stack names in its outputs, fed
    // by a rule for the deploy state machine only (EventsStateMachineArns
    // empty: no empty ARN in the pattern), written only by that rule.
    let queue = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("EventsQueue"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no EventsQueue output: {stdout}"))
        .to_string();
    let sqs = aws_sdk_sqs::Client::new(&h.env.sdk_config().await);
    let attributes = queue_attributes(&sqs, &queue).await;
    let attribute = |name: &str| {
        attributes
            .get(&aws_sdk_sqs::types::QueueAttributeName::from(name))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(attribute("SqsManagedSseEnabled"), "true", "{attributes:?}");
    assert_eq!(
        attribute("MessageRetentionPeriod"),
        "3600",
        "{attributes:?}"
    );
    let queue_arn = attribute("QueueArn");
    assert!(queue_arn.ends_with(":team-execution-events"), "{queue_arn}");
    let (machines, targets) = events_rule(&h, "team").await;
    assert_eq!(
        machines,
        ["arn:aws:states:us-east-1:123456789012:stateMachine:team-deploy"]
    );
    assert_eq!(targets, [queue_arn.as_str()]);
    // The action starts' rule (issue 31) feeds the same queue.
    let events = aws_sdk_eventbridge::Client::new(&h.env.sdk_config().await);
    let starts = events
        .list_targets_by_rule()
        .rule("team-action-starts")
        .send()
        .await
        .unwrap();
    let starts: Vec<&str> = starts.targets().iter().map(|t| t.arn()).collect();
    assert_eq!(starts, [queue_arn.as_str()]);
    let policy: serde_json::Value = serde_json::from_str(&attribute("Policy")).unwrap();
    // Both rules, and only they, send: the execution ends' and the
    // action starts' (issue 31).
    let rule_arns = serde_json::json!([
        "arn:aws:events:us-east-1:123456789012:rule/team-execution-events",
        "arn:aws:events:us-east-1:123456789012:rule/team-action-starts"
    ]);
    let statements = policy["Statement"].as_array().unwrap();
    let sid = |sid: &str| {
        statements
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("{sid}: {policy}"))
    };
    assert_eq!(
        sid("OnlyTheRulesSend")["Condition"]["ArnEquals"]["aws:SourceArn"],
        rule_arns
    );
    assert_eq!(
        sid("NobodyElseSends")["Condition"]["ArnNotEquals"]["aws:SourceArn"],
        rule_arns
    );
    assert_eq!(sid("NobodyElseSends")["Effect"], "Deny");

    // The approvals (issue 27): the queue's policy, as CloudFormation
    // resolved it, lets only the state machine's role send and the
    // worker's receive; a request that cannot be taken goes to the
    // dead-letter queue; the store's records are the worker's alone
    // (ApproverRoleArns empty).
    let output = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {key} output: {stdout}"))
    };
    let approvals = queue_attributes(&sqs, &output("ApprovalsQueue")).await;
    let approvals_attribute = |name: &str| -> serde_json::Value {
        let text = approvals
            .get(&aws_sdk_sqs::types::QueueAttributeName::from(name))
            .unwrap_or_else(|| panic!("{name}: {approvals:?}"));
        serde_json::from_str(text).unwrap()
    };
    let redrive = approvals_attribute("RedrivePolicy");
    assert!(
        redrive["deadLetterTargetArn"]
            .as_str()
            .is_some_and(|arn| arn.ends_with(":team-approvals-dead")),
        "{redrive}"
    );
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "30"
    );
    let policy = approvals_attribute("Policy");
    let role = |name: &str| format!("arn:aws:iam::123456789012:role/team-{name}");
    let statement = |sid: &str| {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .cloned()
            .unwrap_or_else(|| panic!("{sid}: {policy}"))
    };
    assert_eq!(
        statement("OnlyTheStateMachineSends")["Condition"]["ArnNotEquals"]["aws:PrincipalArn"],
        role("states")
    );
    assert_eq!(
        statement("OnlyTheWorkerReceives")["Condition"]["ArnNotEquals"]["aws:PrincipalArn"],
        role("worker")
    );
    let store = output("ApprovalStore");
    let bucket = store
        .strip_prefix("s3://")
        .and_then(|rest| rest.split('/').next())
        .unwrap();
    let bucket_policy: serde_json::Value = serde_json::from_str(
        h.s3.get_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    let records = bucket_policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "OnlyTheWorkerAndApproversUseRecords")
        .unwrap_or_else(|| panic!("{bucket_policy}"));
    assert_eq!(
        records["Condition"]["ArnNotLike"]["aws:PrincipalArn"],
        serde_json::json!([role("worker")]),
        "{records}"
    );
}

/// Every attribute of the queue at `url`, as GetQueueAttributes gives them.
async fn queue_attributes(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> std::collections::HashMap<aws_sdk_sqs::types::QueueAttributeName, String> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default()
}
