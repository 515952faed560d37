//! Static checks of the optional prune schedule of bootstrap/cpsf.yaml
//! (`PruneSchedule`): EventBridge Scheduler runs `cpsf environments prune
//! --yes` as an ECS task of the worker's image. Nothing of it exists
//! without the parameter; the task runs with a role that may only read
//! stacks and delete prefixed ones; the scheduler's role may only run that
//! task on the cluster and pass its two roles to ECS.

use super::TEMPLATE;
use super::template_tests::{
    actions_in, glob, resource, sdk_calls, source, statement, uncommented,
};

/// What the prune adds: its task definition, the two roles and the
/// schedule, and the outputs naming the schedule.
const PRUNE_RESOURCES: [&str; 4] = [
    "PruneTaskDefinition",
    "PruneRole",
    "PruneSchedulerRole",
    "PruneEnvironmentsSchedule",
];
const PRUNE_OUTPUTS: [&str; 2] = ["PruneScheduleName", "PruneScheduleArn"];

/// The entries (two-space keys) of a top-level section, with their lines.
fn entries(section: &str) -> Vec<(&'static str, String)> {
    let lines: Vec<&'static str> = TEMPLATE.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_end() == format!("{section}:"))
        .unwrap_or_else(|| panic!("no section {section}"));
    let body: Vec<&'static str> = lines[start + 1..]
        .iter()
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .copied()
        .collect();
    let mut found: Vec<(&'static str, String)> = Vec::new();
    for line in body {
        if let Some(key) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && !key.starts_with([' ', '#'])
        {
            found.push((key, String::new()));
        } else if let Some((_, text)) = found.last_mut()
            && !line.trim_start().starts_with('#')
        {
            text.push_str(line);
            text.push('\n');
        }
    }
    found
}

/// The `- ` items of the list under `key:` among `lines`.
fn list_under(lines: &[&str], key: &str) -> Vec<String> {
    let start = lines
        .iter()
        .position(|l| l.trim() == format!("{key}:"))
        .unwrap_or_else(|| panic!("no list {key}"));
    let indent = |l: &str| l.len() - l.trim_start().len();
    let own = indent(lines[start]);
    lines[start + 1..]
        .iter()
        .filter(|l| !l.trim_start().starts_with('#'))
        .take_while(|l| indent(l) > own)
        .filter_map(|l| l.trim().strip_prefix("- ").map(str::to_string))
        .collect()
}

/// The schedule is opt-in: `PruneSchedule` defaults to empty, and every
/// resource and output that names a part of the prune, or one of its
/// parameters, exists only under `HasPruneSchedule`, which is that
/// parameter being set. So the default install (the playground's too)
/// makes none of it.
#[test]
fn the_prune_exists_only_with_a_schedule() {
    let parameter = resource("PruneSchedule").join("\n");
    assert!(parameter.contains("    Default: \"\"\n"), "{parameter}");
    assert!(
        TEMPLATE.contains("\n  HasPruneSchedule: !Not [!Equals [!Ref PruneSchedule, \"\"]]\n"),
        "the condition is not PruneSchedule being set"
    );
    let prune_names = [
        "PruneSchedule",
        "PruneOlderThan",
        "PruneMatch",
        "PruneTaskDefinition",
        "PruneRole",
        "PruneSchedulerRole",
        "PruneEnvironmentsSchedule",
    ];
    for (section, expected) in [
        ("Resources", &PRUNE_RESOURCES[..]),
        ("Outputs", &PRUNE_OUTPUTS[..]),
    ] {
        let mut named: Vec<&str> = entries(section)
            .into_iter()
            .filter(|(name, text)| {
                name.starts_with("Prune") || prune_names.iter().any(|n| text.contains(n))
            })
            .map(|(name, text)| {
                assert!(
                    text.lines().any(|l| l == "    Condition: HasPruneSchedule"),
                    "{section} {name} names the prune without its condition:\n{text}"
                );
                name
            })
            .collect();
        named.sort();
        let mut expected = expected.to_vec();
        expected.sort();
        assert_eq!(named, expected, "{section}");
    }
    // HasPruneMatch is read only inside the prune's task definition.
    for (name, text) in entries("Resources") {
        if text.contains("HasPruneMatch") {
            assert_eq!(name, "PruneTaskDefinition");
        }
    }
}

/// The task runs `cpsf environments prune --older-than <PruneOlderThan>
/// --stack-prefix <DeployedStackPrefix> [--match=<PruneMatch>] --yes`. The
/// image's ENTRYPOINT is `cpsf worker` (Dockerfile), and RunTask's
/// container overrides cannot replace an entry point, so the prune's own
/// task definition sets the entry point to the binary alone; its task role
/// is the prune role, never the worker's.
#[test]
fn the_prune_command_carries_the_age_and_the_prefix() {
    let dockerfile = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Dockerfile"),
    )
    .unwrap();
    assert!(
        dockerfile.contains("\nENTRYPOINT [\"/usr/local/bin/cpsf\", \"worker\"]\n"),
        "the image's entry point changed: check the prune task's EntryPoint"
    );
    let task = resource("PruneTaskDefinition");
    let text = uncommented("PruneTaskDefinition");
    assert!(
        text.contains("          EntryPoint: [/usr/local/bin/cpsf]\n"),
        "{text}"
    );
    assert_eq!(
        list_under(&task, "Command"),
        [
            "environments",
            "prune",
            "--older-than",
            "!Ref PruneOlderThan",
            "--stack-prefix",
            "!Ref DeployedStackPrefix",
            "!If [HasPruneMatch, !Sub \"--match=${PruneMatch}\", !Ref AWS::NoValue]",
            "--yes",
        ]
    );
    assert!(
        text.contains("      TaskRoleArn: !GetAtt PruneRole.Arn\n"),
        "{text}"
    );
    assert!(!text.contains("WorkerRole"), "{text}");
    assert!(
        text.contains("          Image: !Ref WorkerImage\n"),
        "{text}"
    );
    assert!(
        text.contains("RequiresCompatibilities: [FARGATE]"),
        "{text}"
    );
    // Its logs go where the worker's do, under their own prefix.
    assert!(
        text.contains("awslogs-group: !Ref WorkerLogGroup"),
        "{text}"
    );
    assert!(text.contains("awslogs-stream-prefix: prune"), "{text}");
    // The age's default and syntax (`<n>m|h|d|w`).
    let age = resource("PruneOlderThan").join("\n");
    assert!(age.contains("    Default: 7d\n"), "{age}");
    assert!(
        age.contains("    AllowedPattern: \"[1-9][0-9]{0,4}[mhdw]\"\n"),
        "{age}"
    );
    let matching = resource("PruneMatch").join("\n");
    assert!(matching.contains("    Default: \"\"\n"), "{matching}");
}

/// The prune role may read every stack (DescribeStacks without a name,
/// which also needs ListStacks, is authorised on "*" only) and delete and
/// follow only the stacks under `DeployedStackPrefix`: those four actions,
/// nothing else, and no PassRole (DeleteStack uses the stack's own service
/// role). Only ECS tasks of this account may assume it.
#[test]
fn the_prune_role_may_only_read_stacks_and_delete_prefixed_ones() {
    let role = resource("PruneRole");
    let text = uncommented("PruneRole");
    assumed_only_by("PruneRole", "ecs-tasks.amazonaws.com");
    let policies = role.iter().position(|l| l.trim() == "Policies:").unwrap();
    let mut actions = actions_in(&role[policies..]);
    actions.sort();
    let expected: Vec<(String, String)> = [
        "DeleteStack",
        "DescribeStackEvents",
        "DescribeStacks",
        "ListStacks",
    ]
    .iter()
    .map(|a| ("cloudformation".to_string(), a.to_string()))
    .collect();
    assert_eq!(actions, expected);
    assert_eq!(text.matches("- Sid:").count(), 2, "{text}");

    let read = statement(&role, "ReadEveryStacksTags");
    assert!(read.contains("Resource: \"*\""), "{read}");
    assert_eq!(
        actions_in(&read.lines().collect::<Vec<_>>()).len(),
        2,
        "{read}"
    );
    assert!(
        read.contains("cloudformation:DescribeStacks")
            && read.contains("cloudformation:ListStacks"),
        "{read}"
    );

    let delete = statement(&role, "DeletePrefixedStacks");
    let arn =
        "arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stack/${DeployedStackPrefix}*/*";
    assert!(
        delete.contains(&format!("Resource: !Sub \"{arn}\"")),
        "{delete}"
    );
    assert!(
        delete.contains("cloudformation:DeleteStack")
            && delete.contains("cloudformation:DescribeStackEvents"),
        "{delete}"
    );
    // With the default prefix, an environment's stack is covered and the
    // bootstrap stack itself (or anything else) is not.
    let arn = arn
        .replace("${AWS::Partition}", "aws")
        .replace("${AWS::AccountId}", "111111111111")
        .replace("${DeployedStackPrefix}", "app-");
    let stack =
        |name: &str| format!("arn:aws:cloudformation:eu-west-1:111111111111:stack/{name}/0f1e2d3c");
    assert!(glob(&arn, &stack("app-feature-123")));
    assert!(!glob(&arn, &stack("cpsf")));
    assert!(!glob(
        &arn,
        "arn:aws:cloudformation:eu-west-1:222222222222:stack/app-feature-123/0f1e2d3c"
    ));
}

/// EventBridge Scheduler's role: assumed by Scheduler for this account
/// only; may run the prune family's task definitions on this stack's
/// cluster only, and pass to ECS tasks only the two roles that task
/// definition names (its execution role and the prune role), never the
/// worker's.
#[test]
fn the_scheduler_may_only_run_the_prune_task_and_pass_its_two_roles() {
    let role = resource("PruneSchedulerRole");
    let text = uncommented("PruneSchedulerRole");
    assumed_only_by("PruneSchedulerRole", "scheduler.amazonaws.com");
    let policies = role.iter().position(|l| l.trim() == "Policies:").unwrap();
    let mut actions = actions_in(&role[policies..]);
    actions.sort();
    assert_eq!(
        actions,
        [
            ("ecs".to_string(), "RunTask".to_string()),
            ("iam".to_string(), "PassRole".to_string()),
        ]
    );

    let run = statement(&role, "RunThePruneTask");
    assert!(
        run.contains(
            "Resource: !Sub \"arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${NamePrefix}-prune:*\""
        ),
        "{run}"
    );
    assert!(
        run.contains("ArnEquals:\n                    ecs:cluster: !GetAtt Cluster.Arn"),
        "{run}"
    );
    // The family the grant names is the prune task definition's.
    assert!(uncommented("PruneTaskDefinition").contains("Family: !Sub \"${NamePrefix}-prune\""));

    let pass = statement(&role, "PassOnlyThePruneRoles");
    let lines: Vec<&str> = pass.lines().collect();
    let mut passed = list_under(&lines, "Resource");
    passed.sort();
    assert_eq!(
        passed,
        ["!GetAtt PruneRole.Arn", "!GetAtt TaskExecutionRole.Arn"],
        "{pass}"
    );
    assert!(
        pass.contains(
            "StringEquals:\n                    iam:PassedToService: ecs-tasks.amazonaws.com"
        ),
        "{pass}"
    );
    assert!(!text.contains("WorkerRole"), "{text}");
    // Exactly the roles the task definition hands ECS.
    let task = uncommented("PruneTaskDefinition");
    assert!(task.contains("ExecutionRoleArn: !GetAtt TaskExecutionRole.Arn"));
    assert!(task.contains("TaskRoleArn: !GetAtt PruneRole.Arn"));
}

/// The schedule runs one prune task, at the time given, through the
/// scheduler's role, on Fargate in the worker service's subnets and
/// security group.
#[test]
fn the_schedule_runs_the_prune_task_like_the_worker_service() {
    let schedule = uncommented("PruneEnvironmentsSchedule");
    for line in [
        "    Type: AWS::Scheduler::Schedule",
        "      ScheduleExpression: !Ref PruneSchedule",
        // Quoted: a bare OFF is YAML 1.1's false.
        "        Mode: \"OFF\"",
        "        Arn: !GetAtt Cluster.Arn",
        "        RoleArn: !GetAtt PruneSchedulerRole.Arn",
        "          TaskDefinitionArn: !Ref PruneTaskDefinition",
        "          TaskCount: 1",
        "          LaunchType: FARGATE",
    ] {
        assert!(
            schedule.lines().any(|l| l == line),
            "{line:?} missing:\n{schedule}"
        );
    }
    assert!(!schedule.contains("Input:"), "{schedule}");
    let service = uncommented("WorkerService");
    for setting in [
        "Subnets: !Ref Subnets",
        "SecurityGroups: [!Ref WorkerSecurityGroup]",
        "AssignPublicIp: !Ref AssignPublicIp",
    ] {
        assert!(service.contains(setting), "the worker service: {setting}");
        assert!(
            schedule.contains(&format!("              {setting}\n")),
            "the schedule: {setting}\n{schedule}"
        );
    }
    let outputs = entries("Outputs");
    let output = |name: &str| {
        outputs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| text.clone())
            .unwrap_or_else(|| panic!("no output {name}"))
    };
    assert!(output("PruneScheduleName").contains("Value: !Ref PruneEnvironmentsSchedule"));
    assert!(output("PruneScheduleArn").contains("Value: !GetAtt PruneEnvironmentsSchedule.Arn"));
}

/// Each action the prune role grants is a call the prune makes
/// (src/prune.rs, src/environments/, and src/cloudformation/stack.rs for
/// the describe after a delete and the failed delete's events), except
/// ListStacks, which CloudFormation requires of an unnamed DescribeStacks
/// besides DescribeStacks itself (CloudFormation API Reference,
/// DescribeStacks, StackName).
#[test]
fn the_prune_role_grants_only_what_the_prune_calls() {
    // The prune takes the teardown's own steps.
    let code = source(&[
        "cloudformation/stack.rs",
        "prune.rs",
        "environments",
        "tasks/check_teardown.rs",
        "tasks/delete_environment.rs",
        "tasks/wait_teardown.rs",
    ]);
    // The listing is the unnamed DescribeStacks.
    assert!(
        code.contains("cfn.describe_stacks().into_paginator()"),
        "the listing no longer lists every stack with DescribeStacks"
    );
    // DeleteStack without a RoleARN: the stack's own service role, no PassRole.
    let prune = source(&["prune.rs"]);
    assert!(
        prune.contains("delete_environment::delete(ctx, id, None, None)"),
        "the prune passes a role"
    );
    let role = resource("PruneRole");
    let policies = role.iter().position(|l| l.trim() == "Policies:").unwrap();
    for (service, action) in actions_in(&role[policies..]) {
        if action == "ListStacks" {
            continue;
        }
        let calls = sdk_calls(&service, &action);
        assert!(
            calls.iter().any(|call| code.contains(call.as_str())),
            "the prune role grants {service}:{action}, which the prune never calls ({})",
            calls.join(" or ")
        );
    }
}

/// Only `service`, on behalf of this account, may assume `role`.
fn assumed_only_by(role: &str, service: &str) {
    let text = uncommented(role);
    assert_eq!(text.matches("Principal:").count(), 1, "{text}");
    assert!(
        text.contains(&format!("Principal: {{Service: {service}}}")),
        "{text}"
    );
    assert!(
        text.contains("aws:SourceAccount: !Ref AWS::AccountId"),
        "{text}"
    );
}
