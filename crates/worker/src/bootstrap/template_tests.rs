//! Static checks of the IAM grants of bootstrap/cpsf.yaml and
//! bootstrap/target-account.yaml (no wildcard action, a reason for every
//! `"*"` resource, only what the code calls, conditional grants) and their
//! partition-neutral ARNs and domains; and the helpers that read a
//! template's resources and statements. What cpsf.yaml passes to the code
//! is checked in `template_wiring_tests.rs`.

use super::calls_scan::{Call, calls, files};
use super::{TARGET_REGION_TEMPLATE, TARGET_TEMPLATE, TEMPLATE};
use std::collections::BTreeSet;

/// Every template, for the checks every IAM grant gets.
const TEMPLATES: [(&str, &str); 3] = [
    ("cpsf.yaml", TEMPLATE),
    ("target-account.yaml", TARGET_TEMPLATE),
    ("target-region.yaml", TARGET_REGION_TEMPLATE),
];

/// The lines of one resource of cpsf.yaml.
pub(super) fn resource(name: &str) -> Vec<&'static str> {
    resource_of(TEMPLATE, name)
}

/// The lines of one resource of `template`.
fn resource_of(template: &'static str, name: &str) -> Vec<&'static str> {
    super::text::resource(template, name).expect("resource exists")
}

#[test]
fn no_action_is_a_wildcard() {
    for line in TEMPLATES.iter().flat_map(|(_, t)| t.lines()) {
        let action = line
            .trim()
            .trim_start_matches("- ")
            .trim_start_matches("Action: ");
        let is_action = line.contains("Action:")
            || (line.trim().starts_with("- ") && action.contains(':') && !action.contains(' '));
        if is_action {
            assert!(!action.contains('*'), "wildcard action: {line}");
        }
    }
}

#[test]
fn every_wildcard_resource_is_justified_in_a_comment() {
    for (file, template) in TEMPLATES {
        wildcards_are_justified(file, template);
    }
}

fn wildcards_are_justified(file: &str, template: &str) {
    let lines: Vec<&str> = template.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.contains("Resource: \"*\"") {
            let statement_start = lines[..i]
                .iter()
                .rposition(|l| {
                    l.trim_start().starts_with("- Effect:") || l.trim_start().starts_with("- Sid:")
                })
                .unwrap_or(0);
            let justified = lines[statement_start.saturating_sub(3)..i]
                .iter()
                .any(|l| l.trim_start().starts_with('#'));
            assert!(
                justified,
                "{file} line {}: Resource \"*\" without a comment saying why",
                i + 1
            );
        }
    }
}

/// The SDK methods (snake_case, as called: `.name()`) that an IAM action
/// authorises: the API of the same name, and for SQS its batch form too,
/// which IAM authorises by the single action (`DeleteMessageBatch` by
/// `sqs:DeleteMessage`, `ChangeMessageVisibilityBatch` by
/// `sqs:ChangeMessageVisibility`: Amazon SQS developer guide, "Amazon SQS
/// API permissions: Actions and resource reference").
pub(super) fn sdk_calls(service: &str, action: &str) -> Vec<String> {
    // IAM names ListObjectsV2 after the bucket it lists.
    let action = if (service, action) == ("s3", "ListBucket") {
        "ListObjectsV2"
    } else {
        action
    };
    let snake: String = action
        .chars()
        .enumerate()
        .flat_map(|(i, c)| {
            let lower = c.to_ascii_lowercase();
            if c.is_ascii_uppercase() && i > 0 {
                vec!['_', lower]
            } else {
                vec![lower]
            }
        })
        .collect();
    let batch = ["DeleteMessage", "ChangeMessageVisibility"];
    let mut calls = vec![format!(".{snake}()")];
    if service == "sqs" && batch.contains(&action) {
        calls.push(format!(".{snake}_batch()"));
    }
    calls
}

#[test]
fn an_sqs_batch_call_is_authorised_by_its_single_action() {
    assert_eq!(sdk_calls("sqs", "ReceiveMessage"), [".receive_message()"]);
    assert_eq!(
        sdk_calls("sqs", "DeleteMessage"),
        [".delete_message()", ".delete_message_batch()"]
    );
    assert_eq!(
        sdk_calls("sqs", "ChangeMessageVisibility"),
        [
            ".change_message_visibility()",
            ".change_message_visibility_batch()"
        ]
    );
    assert_eq!(sdk_calls("s3", "ListBucket"), [".list_objects_v2()"]);
    assert_eq!(
        sdk_calls("states", "StartExecution"),
        [".start_execution()"]
    );
}

/// The worker's code: what `cpsf worker` runs (the job poller, the task
/// handlers, the events queue and approvals).
const WORKER_CODE: &[&str] = &[
    "sfn.rs",
    "sfn",
    "job",
    "activity",
    "reach.rs",
    "cloudformation",
    "tasks",
    "events",
    "approval",
];

/// Files of the worker's code that the bootstrapped worker never runs, and
/// why their calls need no grant.
const NOT_RUN_BY_THE_WORKER: &[(&str, &str)] = &[(
    "job/discover.rs",
    "finds the state machines to recover from when --recover-from is not \
         set; bootstrap/cpsf.yaml sets CPSF_RECOVER_FROM",
)];

fn worker_code() -> String {
    source(WORKER_CODE)
}

/// The text of `parts` of src/, files or whole folders, one after another.
pub(super) fn source(parts: &[&str]) -> String {
    files(parts).into_iter().map(|(_, text)| text).collect()
}

/// Whether an action of `granted` authorises `call`.
fn grants(granted: &[(String, String)], call: &Call) -> bool {
    let method = format!(".{}()", call.method);
    granted.iter().any(|(service, action)| {
        *service == call.service && sdk_calls(service, action).contains(&method)
    })
}

/// Every call of `calls` is authorised by an action of `granted`, else
/// the call and the file that makes it are named.
fn all_granted(role: &str, granted: &[(String, String)], calls: &BTreeSet<Call>) {
    let missing: Vec<String> = calls
        .iter()
        .filter(|call| !grants(granted, call))
        .map(|c| {
            format!(
                "{} calls {}.{}() ({}:?)",
                c.file, c.service, c.method, c.service
            )
        })
        .collect();
    assert!(
        missing.is_empty(),
        "{role} grants no action for: {}",
        missing.join("; ")
    );
}

/// The worker role's actions: WorkerRole and the policies attached to it.
fn worker_grants() -> Vec<(String, String)> {
    let mut lines = resource("WorkerRole");
    for policy in [
        "ArtifactKeyPolicy",
        "TargetRolesPolicy",
        "ApprovalTopicsPolicy",
    ] {
        lines.extend(resource(policy));
    }
    actions_in(&lines)
}

/// The other direction of the test below: each API call the worker's code
/// makes is granted to the worker role (IAM denies what no policy allows:
/// IAM user guide, "Policy evaluation logic"). Testing only that each
/// grant is called let cloudformation:ListChangeSets (CheckStack) ship
/// with no grant.
#[test]
fn every_call_the_worker_makes_is_granted() {
    let calls: BTreeSet<Call> = calls(&files(WORKER_CODE))
        .into_iter()
        .filter(|c| !NOT_RUN_BY_THE_WORKER.iter().any(|(f, _)| c.file == *f))
        .collect();
    // The scan sees the calls of every service the worker uses.
    for expected in [
        "list_change_sets",
        "poll_for_jobs",
        "start_execution",
        "get_activity_task",
        "get_object",
        "receive_message",
        "publish",
        "describe_alarms",
    ] {
        assert!(
            calls.iter().any(|c| c.method == expected),
            "the scan no longer finds {expected}: {calls:?}"
        );
    }
    all_granted("the worker role", &worker_grants(), &calls);
}

/// A rollout target's deploy makes the same CloudFormation and CloudWatch
/// calls through the target's role (bootstrap/target-account.yaml) as
/// through the worker role in its own account.
#[test]
fn every_call_a_targets_deploy_makes_is_granted_to_the_target_role() {
    let calls: BTreeSet<Call> = calls(&files(&["tasks", "cloudformation"]))
        .into_iter()
        .filter(|c| ["cloudformation", "cloudwatch", "lambda"].contains(&c.service.as_str()))
        .filter(|c| !NOT_RUN_BY_THE_WORKER.iter().any(|(f, _)| c.file == *f))
        .collect();
    assert!(
        calls.iter().any(|c| c.method == "list_change_sets"),
        "{calls:?}"
    );
    let role = resource_of(TARGET_TEMPLATE, "TargetRole");
    let policies = role.iter().position(|l| l.trim() == "Policies:").unwrap();
    all_granted("the target role", &actions_in(&role[policies..]), &calls);
}

/// The IAM actions (`service`, `Action`) granted in `lines`.
pub(super) fn actions_in(lines: &[&str]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|l| {
            let item = l
                .trim()
                .trim_start_matches("- ")
                .trim_start_matches("Action: ");
            let (service, action) = item.split_once(':')?;
            // A condition key (`cloudformation:ChangeSetName:`) is a
            // mapping's key, not an action.
            let is_action = !action.contains(' ')
                && !action.ends_with(':')
                && [
                    "codepipeline",
                    "states",
                    "cloudformation",
                    "s3",
                    "iam",
                    "kms",
                    "sqs",
                    "sns",
                    "sts",
                    "cloudwatch",
                    "ecs",
                    "lambda",
                ]
                .contains(&service);
            is_action.then(|| (service.to_string(), action.to_string()))
        })
        .collect()
}

/// Each action the worker role grants (in WorkerRole and the conditional
/// ArtifactKeyPolicy) is an API call the worker's code makes (its
/// snake_case SDK method, or for SQS its batch form, appears in the
/// worker's code); PassRole is implied by handing CloudFormation a
/// roleArn, and kms:Decrypt by reading artifacts S3 decrypts with a
/// customer key.
#[test]
fn the_worker_role_grants_only_what_the_worker_calls() {
    let code = worker_code();
    let actions = worker_grants();
    assert!(actions.len() >= 23, "{actions:?}");
    for expected in [
        "Decrypt",
        "ReceiveMessage",
        "ChangeMessageVisibility",
        "AssumeRole",
        "DescribeAlarms",
    ] {
        assert!(
            actions.iter().any(|(_, a)| a == expected),
            "{expected}: {actions:?}"
        );
    }
    for (service, action) in actions {
        if action == "Decrypt" {
            assert!(
                code.contains(".get_object()"),
                "kms:Decrypt without an S3 read it serves"
            );
            continue;
        }
        if (service.as_str(), action.as_str()) == ("sts", "AssumeRole") {
            assert!(
                code.contains("AssumeRoleProvider::builder("),
                "sts:AssumeRole without the provider that assumes a target's role"
            );
            continue;
        }
        if action == "PassRole" {
            assert!(
                code.contains(".set_role_arn("),
                "PassRole without a roleArn handed to CloudFormation"
            );
            continue;
        }
        let calls = sdk_calls(&service, &action);
        assert!(
            calls.iter().any(|call| code.contains(call.as_str())),
            "the worker role grants {service}:{action}, which the worker never calls ({})",
            calls.join(" or ")
        );
    }
}

/// A service not in the list above would escape that test (ecs, the
/// prune scheduler's, is checked in `schedule_tests.rs`).
#[test]
fn every_granted_service_is_checked() {
    for line in TEMPLATES.iter().flat_map(|(_, t)| t.lines()) {
        let item = line
            .trim()
            .trim_start_matches("- ")
            .trim_start_matches("Action: ");
        if let Some((service, action)) = item.split_once(':')
            && !action.contains(' ')
            && !service.contains(' ')
            && action
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase())
        {
            assert!(
                [
                    "codepipeline",
                    "states",
                    "cloudformation",
                    "s3",
                    "iam",
                    "kms",
                    "logs",
                    "sts",
                    "sqs",
                    "events",
                    "cloudwatch",
                    "sns",
                    "secretsmanager",
                    "ecs",
                    "lambda"
                ]
                .contains(&service),
                "{line}"
            );
        }
    }
}

/// Every ARN names its partition through `${AWS::Partition}`, so the
/// template installs in aws-cn and aws-us-gov as well.
#[test]
fn no_arn_hard_codes_the_partition() {
    for (file, template) in TEMPLATES {
        for (i, line) in template.lines().enumerate() {
            assert!(!line.contains("arn:aws:"), "{file} line {}: {line}", i + 1);
        }
    }
}

/// Domains differ by partition too (aws-cn: `amazonaws.com.cn`, its own
/// console): endpoints go through `${AWS::URLSuffix}`, console links
/// through the Console mapping. Service principals (`x.amazonaws.com`) are
/// the same in every partition and stay.
#[test]
fn no_domain_hard_codes_the_partition() {
    for (i, line) in TEMPLATE.lines().enumerate() {
        let principal =
            line.contains("Principal: {Service:") || line.contains("iam:PassedToService:");
        let mapping = line.trim_start().starts_with("Host: console.");
        if principal || mapping {
            continue;
        }
        assert!(
            !line.contains("amazonaws.com") && !line.contains("aws.amazon.com"),
            "line {}: {line}",
            i + 1
        );
    }
    for partition in ["aws:", "aws-cn:", "aws-us-gov:"] {
        assert!(
            TEMPLATE.contains(&format!("\n    {partition}\n      Host: console.")),
            "{partition}"
        );
    }
}

/// The statement with this Sid among `lines`: its own lines, up to the
/// next statement or comment at its indentation.
pub(super) fn statement(lines: &[&'static str], sid: &str) -> String {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let start = lines
        .iter()
        .position(|l| l.trim() == format!("- Sid: {sid}"))
        .unwrap_or_else(|| panic!("no statement {sid}"));
    let own = indent(lines[start]);
    std::iter::once(lines[start])
        .chain(
            lines[start + 1..]
                .iter()
                .take_while(|l| !l.trim().is_empty() && indent(l) > own)
                .copied(),
        )
        .collect::<Vec<_>>()
        .join("\n")
}

/// A resource's lines without its comments.
pub(super) fn uncommented(name: &str) -> String {
    resource(name)
        .into_iter()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// kms:Decrypt exists only when a key is given, and only through S3.
#[test]
fn the_artifact_key_grant_is_conditional() {
    let policy = resource("ArtifactKeyPolicy").join("\n");
    assert!(policy.contains("Condition: HasArtifactKey"), "{policy}");
    assert!(policy.contains("Resource: !Ref ArtifactKeyArn"), "{policy}");
    assert!(policy.contains("kms:ViaService"), "{policy}");
    assert!(!resource("WorkerRole").join("\n").contains("kms:"));
}

/// The worker may assume only the target roles listed, and nothing when
/// none is: the policy exists only with the parameter set. The parameter
/// is a String read whole (as `EventsStateMachineArns`): fakecloud
/// evaluated `!Join` over an empty CommaDelimitedList as non-empty and
/// created the policy with an empty resource, which IAM refuses.
#[test]
fn the_target_roles_grant_is_conditional() {
    let policy = resource("TargetRolesPolicy").join("\n");
    assert!(policy.contains("Condition: HasTargetRoles"), "{policy}");
    assert!(
        policy.contains("Resource: !Split [\",\", !Ref TargetRoleArns]"),
        "{policy}"
    );
    assert!(TEMPLATE.contains("HasTargetRoles: !Not [!Equals [!Ref TargetRoleArns, \"\"]]"));
    // The worker role's own policies (not its trust policy) grant no STS.
    let role = resource("WorkerRole");
    let policies = role.iter().position(|l| l.trim() == "Policies:").unwrap();
    assert!(!role[policies..].join("\n").contains("sts:"));
}

/// Templates with a Transform need CreateChangeSet on the transform,
/// which IAM authorises on `arn:…:cloudformation:<region>:aws:transform/
/// <name>` in the region of the stack ("Controlling access with IAM",
/// CloudFormation user guide). The worker deploys to any region of its
/// account (a rollout's targets), so the grant names every region, as the
/// stack grants do: a SAM template rolled out to a second region must not
/// fail AccessDenied.
#[test]
fn the_worker_may_expand_transforms_in_every_region_it_deploys_to() {
    let every_region = "Action: cloudformation:CreateChangeSet\n                Resource: !Sub \
         \"arn:${AWS::Partition}:cloudformation:*:aws:transform/*\"";
    let role = resource("WorkerRole").join("\n");
    assert!(role.contains(every_region), "cpsf.yaml's worker role");
    let target = resource_of(TARGET_TEMPLATE, "TargetRole").join("\n");
    assert!(target.contains(every_region), "target-account.yaml's role");
    // And the stacks themselves: any region of the account.
    assert!(role.contains("cloudformation:*:${AWS::AccountId}:stack/${DeployedStackPrefix}*/*"));
}

/// The role a target account gives the worker (issue 17): trusted by the
/// worker role alone, CloudFormation on the prefixed stacks only (any
/// region of that account), PassRole only to that account's CloudFormation
/// role and only to CloudFormation, and nothing a target's deploy or bake
/// does not call.
#[test]
fn a_target_account_trusts_the_worker_role_alone_for_the_prefixed_stacks() {
    let role = resource_of(TARGET_TEMPLATE, "TargetRole");
    let text = role.join("\n");
    assert_eq!(text.matches("Principal:").count(), 1, "{text}");
    assert!(
        text.contains("Principal: {AWS: !Ref WorkerRoleArn}"),
        "{text}"
    );
    let stacks = statement(&role, "DeployPrefixedStacks");
    assert!(
        stacks.contains(
            "Resource: !Sub \"arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stack/${DeployedStackPrefix}*/*\""
        ),
        "{stacks}"
    );
    let pass = statement(&role, "PassOnlyTheServiceRole");
    assert!(
        pass.contains("Resource: !GetAtt CloudFormationServiceRole.Arn"),
        "{pass}"
    );
    assert!(
        pass.contains("iam:PassedToService: cloudformation.amazonaws.com"),
        "{pass}"
    );
    let code = worker_code();
    // What the role may do: its policies, not its trust policy's
    // sts:AssumeRole (which says who may become it).
    let policies = role
        .iter()
        .position(|l| l.trim() == "Policies:")
        .expect("the role has policies");
    let actions = actions_in(&role[policies..]);
    assert!(actions.len() >= 11, "{actions:?}");
    for (service, action) in actions {
        assert!(
            ["cloudformation", "iam", "cloudwatch", "s3", "lambda"].contains(&service.as_str()),
            "{service}:{action}"
        );
        if action == "PassRole" {
            continue;
        }
        let calls = sdk_calls(&service, &action);
        assert!(
            calls.iter().any(|call| code.contains(call.as_str())),
            "the target role grants {service}:{action}, which the worker never calls"
        );
    }
}

/// The bucket target-region.yaml makes, with every default, is one the
/// target role (target-account.yaml) and the worker role (cpsf.yaml, for
/// its own account's other regions) may stage templates in, at the key
/// the code writes.
#[test]
fn a_regions_staging_bucket_is_where_both_roles_may_stage() {
    let bucket = resource_of(TARGET_REGION_TEMPLATE, "StagingBucket").join("\n");
    assert!(
        bucket.contains(
            "BucketName: !Sub \"${NamePrefix}-staging-${AWS::AccountId}-${AWS::Region}\""
        ),
        "{bucket}"
    );
    assert!(TARGET_REGION_TEMPLATE.contains("    Default: cpsf\n"));
    let staged = "arn:aws:s3:::cpsf-staging-222222222222-eu-west-1/cpsf/templates/t.template";
    let target = statement(
        &resource_of(TARGET_TEMPLATE, "TargetRole"),
        "StageLargeTemplates",
    );
    let target = target
        .replace("${StagingBucketPrefix}", "cpsf-staging-")
        .replace("${AWS::AccountId}", "222222222222");
    let worker = statement(&resource("WorkerRole"), "StageLargeTemplates")
        .replace("${NamePrefix}", "cpsf")
        .replace("${AWS::AccountId}", "222222222222");
    assert!(TARGET_TEMPLATE.contains("    Default: cpsf-staging-\n"));
    for (role, grant) in [("target", target), ("worker", worker)] {
        let grant = grant.replace("${AWS::Partition}", "aws");
        assert!(
            grant.lines().any(|line| line
                .split('"')
                .nth(1)
                .is_some_and(|pattern| glob(pattern, staged))),
            "the {role} role may not write {staged}: {grant}"
        );
    }
    let bucket = bucket.replace("${NamePrefix}", "cpsf");
    assert!(bucket.contains("ExpirationInDays: 1") && bucket.contains("BlockPublicPolicy: true"));
}

/// IAM's `*` wildcard (any run of characters) over `text`.
pub(super) fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|i| glob(rest, &text[head.len() + i..]))
        }
    }
}

/// Service roles that do not carry `aws:SourceAccount`, and why. AWS
/// documents the key for ECS task roles (Amazon ECS developer guide,
/// "Amazon ECS task IAM role"), Step Functions (developer guide, "Prevent
/// cross-service confused deputy issue") and EventBridge Scheduler; the
/// CloudFormation user guide ("CloudFormation service role") names only
/// the principal and documents no key CloudFormation sends when it assumes
/// a stack's role, so a condition there could refuse every stack operation.
const TRUSTED_WITHOUT_SOURCE_ACCOUNT: &[(&str, &str)] = &[(
    "cloudformation.amazonaws.com",
    "no documented aws:SourceAccount; the role is only ever passed (iam:PassRole, same account)",
)];

/// Each role a service assumes (issue 27, item 10) trusts that service
/// only on behalf of this account: the statement naming the service
/// carries `aws:SourceAccount: !Ref AWS::AccountId` (IAM user guide, "The
/// confused deputy problem"), unless the service documents no such key.
#[test]
fn every_service_role_trusts_its_service_for_this_account_only() {
    let mut checked = Vec::new();
    for (file, template) in TEMPLATES {
        for name in super::text::resource_names(template) {
            let lines = resource_of(template, name);
            if !lines.iter().any(|l| l.trim() == "Type: AWS::IAM::Role") {
                continue;
            }
            let Some(trust) = lines
                .iter()
                .position(|l| l.trim() == "AssumeRolePolicyDocument:")
            else {
                continue;
            };
            let indent = |l: &str| l.len() - l.trim_start().len();
            let own = indent(lines[trust]);
            let document: Vec<&str> = lines[trust + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || indent(l) > own)
                .copied()
                .collect();
            let Some(service) = document.iter().find_map(|l| {
                l.trim()
                    .strip_prefix("Principal: {Service: ")?
                    .strip_suffix('}')
            }) else {
                continue;
            };
            let text = document.join("\n");
            let exempt = TRUSTED_WITHOUT_SOURCE_ACCOUNT
                .iter()
                .any(|(s, _)| *s == service);
            assert_eq!(
                text.contains("StringEquals:\n")
                    && text.contains("aws:SourceAccount: !Ref AWS::AccountId"),
                !exempt,
                "{file} {name} ({service}): {text}"
            );
            checked.push(name);
        }
    }
    for expected in [
        "WorkerRole",
        "TaskExecutionRole",
        "StateMachineRole",
        "PruneRole",
        "CloudFormationServiceRole",
    ] {
        assert!(checked.contains(&expected), "{expected}: {checked:?}");
    }
}

/// The IAM writes a deployed stack may make through the CloudFormation
/// service role (issue 27, item 4): with `PermissionsBoundaryArn` set,
/// every role or user it creates or changes must carry that boundary
/// (`iam:PermissionsBoundary`, IAM user guide, "Permissions boundaries for
/// IAM entities" and "IAM condition keys"), it may not take a boundary off
/// nor edit the boundary policy, nor grant through groups; in both
/// templates, and nothing of it without the parameter.
#[test]
fn with_a_boundary_every_role_a_stack_makes_carries_it() {
    for (file, template) in [
        ("cpsf.yaml", TEMPLATE),
        ("target-account.yaml", TARGET_TEMPLATE),
    ] {
        let lines = resource_of(template, "ServiceRoleBoundaryPolicy");
        let policy = lines.join("\n");
        for expected in [
            "Type: AWS::IAM::RolePolicy",
            "Condition: HasPermissionsBoundary",
            "RoleName: !Ref CloudFormationServiceRole",
        ] {
            assert!(policy.contains(expected), "{file}: {expected}: {policy}");
        }
        assert!(
            template.contains(
                "\n  HasPermissionsBoundary: !Not [!Equals [!Ref PermissionsBoundaryArn, \"\"]]\n"
            ),
            "{file}"
        );
        let parameter = resource_of(template, "PermissionsBoundaryArn").join("\n");
        assert!(parameter.contains("Default: \"\""), "{file}: {parameter}");
        let carry = statement(&lines, "EveryRoleAndUserCarriesTheBoundary");
        for action in [
            "CreateRole",
            "PutRolePolicy",
            "DeleteRolePolicy",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "PutRolePermissionsBoundary",
            "CreateUser",
            "PutUserPolicy",
            "DeleteUserPolicy",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "PutUserPermissionsBoundary",
        ] {
            assert!(
                carry.contains(&format!("- iam:{action}\n")),
                "{file}: {action}: {carry}"
            );
        }
        for expected in [
            "Effect: Deny",
            "StringNotEquals:\n                iam:PermissionsBoundary: !Ref PermissionsBoundaryArn",
        ] {
            assert!(carry.contains(expected), "{file}: {expected}: {carry}");
        }
        let keep = statement(&lines, "NoBoundaryIsTakenOff");
        for action in [
            "DeleteRolePermissionsBoundary",
            "DeleteUserPermissionsBoundary",
        ] {
            assert!(
                keep.contains(&format!("- iam:{action}\n")),
                "{file}: {keep}"
            );
        }
        assert!(!keep.contains("Condition"), "{file}: {keep}");
        let edit = statement(&lines, "TheBoundaryPolicyStaysAsItIs");
        for expected in [
            "- iam:CreatePolicyVersion",
            "- iam:DeletePolicy\n",
            "- iam:DeletePolicyVersion",
            "- iam:SetDefaultPolicyVersion",
            "Resource: !Ref PermissionsBoundaryArn",
        ] {
            assert!(edit.contains(expected), "{file}: {expected}: {edit}");
        }
        let groups = statement(&lines, "NoGrantsThroughGroups");
        for action in ["AddUserToGroup", "PutGroupPolicy", "AttachGroupPolicy"] {
            assert!(
                groups.contains(&format!("- iam:{action}")),
                "{file}: {groups}"
            );
        }
        // Deny statements only: what the stacks may do is DeployedStackPolicyArn's.
        assert!(!policy.contains("Effect: Allow"), "{file}: {policy}");
    }
    // The same statements in both, so the two cannot drift apart.
    let document = |template: &'static str| -> Vec<&'static str> {
        resource_of(template, "ServiceRoleBoundaryPolicy")
            .into_iter()
            .skip_while(|l| l.trim() != "PolicyDocument:")
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .collect()
    };
    assert_eq!(document(TEMPLATE), document(TARGET_TEMPLATE));
}

/// The worker role and a target's role execute only change sets under the
/// names cpsf gives (issue 27, item 4): ExecuteChangeSet is granted in one
/// statement of each, conditioned on `cloudformation:ChangeSetName`, whose
/// patterns match the names the code makes and not another's.
#[test]
fn only_change_sets_cpsf_names_may_be_executed() {
    use crate::activity::input::token_for;
    use crate::cloudformation::change_set::{CREATE, UPDATE};
    let run = "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:cpsf-demo-7aec4513";
    for (file, template, role) in [
        ("cpsf.yaml", TEMPLATE, "WorkerRole"),
        ("target-account.yaml", TARGET_TEMPLATE, "TargetRole"),
    ] {
        let lines = resource_of(template, role);
        let granted: Vec<&&str> = lines
            .iter()
            .filter(|l| l.contains("cloudformation:ExecuteChangeSet"))
            .collect();
        assert_eq!(granted.len(), 1, "{file}: {granted:?}");
        let execute = statement(&lines, "ExecuteOnlyCpsfChangeSets");
        assert!(
            execute.contains("Action: cloudformation:ExecuteChangeSet\n"),
            "{file}: {execute}"
        );
        assert!(
            execute.contains("StringLike:\n                    cloudformation:ChangeSetName:"),
            "{file}: {execute}"
        );
        let patterns: Vec<&str> = execute
            .lines()
            .skip_while(|l| !l.contains("cloudformation:ChangeSetName:"))
            .skip(1)
            .filter_map(|l| l.trim().strip_prefix("- "))
            .collect();
        assert_eq!(patterns.len(), 2, "{file}: {execute}");
        let matches = |name: &str| patterns.iter().any(|p| glob(p, name));
        for step in [UPDATE, CREATE] {
            let name = token_for(run, step);
            assert!(matches(&name), "{file}: {name} against {patterns:?}");
        }
        for other in ["reviewed-by-ops", "cpsf-execute-0123-x", "awscdk-changes"] {
            assert!(!matches(other), "{file}: {other}");
        }
    }
}
