//! Static checks that what bootstrap/cpsf.yaml passes matches what the
//! code reads: the definition's placeholders and timeout, the staging
//! bucket, the events queue and its rule.

use super::TEMPLATE;
use super::template_tests::{resource, source, statement, uncommented};

/// The worker's flag reads `variable`, and its task definition sets it to
/// `value`.
fn the_worker_is_told(variable: &str, value: &str) {
    assert!(
        source(&[CLI_WORKER]).contains(&format!("env = \"{variable}\"")),
        "{variable}"
    );
    let task = resource("WorkerTaskDefinition").join("\n");
    let wired = format!("- Name: {variable}\n              Value: {value}");
    assert!(task.contains(&wired), "{wired}: {task}");
}

/// The keys of the state machine's DefinitionSubstitutions.
fn substitutions() -> Vec<String> {
    let lines = resource("DeployStateMachine");
    let start = lines
        .iter()
        .position(|l| l.trim() == "DefinitionSubstitutions:")
        .unwrap();
    lines[start + 1..]
        .iter()
        .filter(|l| !l.trim_start().starts_with('#'))
        .take_while(|l| l.starts_with("        "))
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.to_string()))
        .collect()
}

/// `cpsf worker`'s flags and their environment variables, in the `cpsf`
/// crate (the repository's root), from this crate's src/.
const CLI_WORKER: &str = "../../../src/cli/worker.rs";

/// CloudFormation fills exactly the definition's placeholders; one left
/// unfilled would fail the state machine's creation.
#[test]
fn the_template_fills_every_placeholder_of_the_definition() {
    use crate::bootstrap::definition::DEPLOY_ASL;
    let mut placeholders: Vec<String> = DEPLOY_ASL
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect();
    placeholders.sort();
    placeholders.dedup();
    let mut filled = substitutions();
    filled.sort();
    assert_eq!(filled, placeholders);
}

/// What CloudFormation makes of the definition with the template's default
/// timeout is JSON with a number there, the same number the demo's direct
/// installation uses.
#[test]
fn the_timeout_parameter_defaults_to_the_definitions_default() {
    use crate::base::limits::DEFAULT_TIMEOUT_SECONDS;
    use crate::bootstrap::definition::{DEPLOY_ASL, TIMEOUT_PLACEHOLDER};
    let lines = resource(TIMEOUT_PLACEHOLDER);
    let default = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("Default: "))
        .unwrap();
    assert_eq!(default, DEFAULT_TIMEOUT_SECONDS.to_string());
    assert!(lines.iter().any(|l| l.trim() == "Type: Number"));
    // CloudFormation's text substitution, with the ARNs as any strings.
    let mut text = DEPLOY_ASL.replace(&format!("${{{TIMEOUT_PLACEHOLDER}}}"), default);
    for key in substitutions() {
        text = text.replace(&format!("${{{key}}}"), "arn:x");
    }
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed["TimeoutSeconds"], DEFAULT_TIMEOUT_SECONDS);
}

/// The worker tears down (`"operation": "delete"`) only stacks under the
/// prefix its role may deploy: it is told it under its flag's variable.
#[test]
fn the_worker_knows_its_stack_prefix() {
    the_worker_is_told("CPSF_STACK_PREFIX", "!Ref DeployedStackPrefix");
}

/// The worker is told the staging bucket under the variable its flag
/// reads, and may write and read exactly where the code stages templates.
#[test]
fn the_worker_stages_large_templates_where_it_may() {
    the_worker_is_told("CPSF_STAGING_BUCKET", "!Ref StagingBucket");
    let code = source(&["cloudformation/template.rs"]);
    assert!(
        code.contains("format!(\"cpsf/templates/"),
        "the staging key moved"
    );
    let role = resource("WorkerRole").join("\n");
    assert!(role.contains("- !Sub \"${StagingBucket.Arn}/cpsf/templates/*\""));
    let bucket = resource("StagingBucket").join("\n");
    for private in [
        "BlockPublicPolicy: true",
        "SSEAlgorithm",
        "ExpirationInDays: 1",
    ] {
        assert!(bucket.contains(private), "{private}: {bucket}");
    }
}

/// The worker is told the events queue under the variable its
/// `--events-queue` flag reads, and may receive, delete and change the
/// visibility of messages there, nowhere else and nothing more.
#[test]
fn the_worker_is_told_the_events_queue_and_may_only_read_it() {
    the_worker_is_told("CPSF_EVENTS_QUEUE", "!Ref EventsQueue");
    assert!(source(&[CLI_WORKER]).contains("events_queue: Option<String>"));
    let role = resource("WorkerRole");
    let read = statement(&role, "ReadExecutionEvents");
    assert_eq!(
        read.lines().map(str::trim).collect::<Vec<_>>(),
        [
            "- Sid: ReadExecutionEvents",
            "Effect: Allow",
            "Action:",
            "- sqs:ReceiveMessage",
            "- sqs:DeleteMessage",
            "- sqs:ChangeMessageVisibility",
            "Resource: !GetAtt EventsQueue.Arn",
        ]
    );
    let granted = role
        .iter()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains("sqs:"))
        .count();
    let approvals = statement(&role, "TakeApprovalRequests");
    assert_eq!(
        granted,
        3 + approvals.matches("sqs:").count(),
        "SQS granted beyond ReadExecutionEvents and TakeApprovalRequests"
    );
    assert!(TEMPLATE.contains(
        "\n  EventsQueue:\n    Description: A worker run outside this stack takes it as \
         --events-queue.\n    Value: !Ref EventsQueue"
    ));
}

/// The worker believes what an event says, so only the rules may put one
/// on the queue: EventBridge is allowed for the two rules alone, anyone
/// else is denied (whatever their own policies say), and nothing travels
/// in clear text.
#[test]
fn only_the_events_rules_may_send_to_the_events_queue() {
    let policy = resource("EventsQueuePolicy");
    assert!(policy.join("\n").contains("Queues: [!Ref EventsQueue]"));
    let allows: Vec<&&str> = policy
        .iter()
        .filter(|l| l.contains("Effect: Allow"))
        .collect();
    assert_eq!(allows.len(), 1, "{policy:?}");
    let allow = statement(&policy, "OnlyTheRulesSend");
    let deny = statement(&policy, "NobodyElseSends");
    for (statement, expected) in [
        (&allow, "Effect: Allow"),
        (&allow, "Principal: {Service: events.amazonaws.com}"),
        (
            &allow,
            "ArnEquals:\n                aws:SourceArn: [!GetAtt EventsRule.Arn, !GetAtt ActionStartsRule.Arn]",
        ),
        (&deny, "Effect: Deny"),
        (&deny, "Principal: \"*\""),
        (
            &deny,
            "ArnNotEquals:\n                aws:SourceArn: [!GetAtt EventsRule.Arn, !GetAtt ActionStartsRule.Arn]",
        ),
    ] {
        assert!(statement.contains(expected), "{expected}: {statement}");
    }
    for statement in [&allow, &deny] {
        assert!(statement.contains("Action: sqs:SendMessage"), "{statement}");
        assert!(
            statement.contains("Resource: !GetAtt EventsQueue.Arn"),
            "{statement}"
        );
        assert_eq!(statement.matches("Condition:").count(), 1, "{statement}");
    }
    let tls = statement(&policy, "TlsOnly");
    for expected in [
        "Effect: Deny",
        "Principal: \"*\"",
        "- sqs:SendMessage",
        "- sqs:ReceiveMessage",
        "Bool:\n                aws:SecureTransport: \"false\"",
    ] {
        assert!(tls.contains(expected), "{expected}: {tls}");
    }
    // The rules send to this queue under the queue's policy, not a role.
    for name in ["EventsRule", "ActionStartsRule"] {
        let rule = uncommented(name);
        assert!(rule.contains("Arn: !GetAtt EventsQueue.Arn"), "{rule}");
        assert!(!rule.contains("RoleArn"), "{rule}");
    }
}

/// The action starts rule matches what src/events/action.rs reads
/// (CodePipeline's action state changes, starts only) of the action type
/// the stack creates, so the worker's poller hears of each of its jobs.
#[test]
fn the_action_starts_rule_sends_the_deploy_actions_starts() {
    use crate::events::action;
    let rule = uncommented("ActionStartsRule");
    for (key, value) in [
        ("source", action::SOURCE),
        ("detail-type", action::DETAIL_TYPE),
        ("state", action::STARTED),
        ("owner", "Custom"),
        ("provider", crate::action_type::PROVIDER),
    ] {
        assert!(rule.contains(&format!("{key}: [{value}]")), "{key}: {rule}");
    }
    let action_type = uncommented("DeployActionType");
    let category = action_type
        .lines()
        .find_map(|l| l.trim().strip_prefix("Category: "))
        .expect("the action type has a category");
    assert!(rule.contains(&format!("category: [{category}]")), "{rule}");
    assert!(action_type.contains(&format!("Provider: {}", crate::action_type::PROVIDER)));
    assert!(rule.contains("State: ENABLED"), "{rule}");
}

/// The rule matches what src/events/event.rs reads (Step Functions'
/// execution status changes, ends only: the statuses the playground's rule
/// sends too), for the deploy state machine always and the extra
/// machines only when given, so its pattern never holds an empty ARN; the
/// queue is encrypted and keeps an event an hour at most.
#[test]
fn the_events_rule_sends_the_deploy_machines_status_changes() {
    let rule = uncommented("EventsRule");
    let code = source(&["events/event.rs"]);
    for (key, value) in [
        ("source", "aws.states"),
        ("detail-type", "Step Functions Execution Status Change"),
    ] {
        assert!(rule.contains(&format!("{key}: [{value}]")), "{rule}");
        assert!(
            code.contains(&format!("\"{value}\"")),
            "src/events/event.rs reads {value}"
        );
    }
    let statuses = crate::events::event::END_STATUSES.join(", ");
    assert!(rule.contains(&format!("status: [{statuses}]")), "{rule}");
    assert!(
        rule.contains(
            "stateMachineArn: !If\n            \
             - HasEventsStateMachineArns\n            \
             - !Split [\",\", !Sub \"${DeployStateMachine},${EventsStateMachineArns}\"]\n            \
             - [!Ref DeployStateMachine]"
        ),
        "{rule}"
    );
    assert!(TEMPLATE.contains(
        "\n  HasEventsStateMachineArns: !Not [!Equals [!Ref EventsStateMachineArns, \"\"]]\n"
    ));
    let parameter = resource("EventsStateMachineArns").join("\n");
    assert!(parameter.contains("Default: \"\""), "{parameter}");
    let queue = uncommented("EventsQueue");
    let (_, queue) = queue.split_once("Properties:").unwrap();
    for expected in [
        "QueueName: !Sub \"${NamePrefix}-execution-events\"",
        "SqsManagedSseEnabled: true",
        "MessageRetentionPeriod: 3600",
    ] {
        assert!(queue.contains(expected), "{expected}: {queue}");
    }
    // EventBridge cannot send to a queue under the AWS managed key.
    assert!(!queue.contains("KmsMasterKeyId"), "{queue}");
}

/// The worker is told the approvals queue, the store and (as a secret, not
/// in its environment's plain values) the key, under the variables its
/// flags read; it may take and delete approval requests and keep records
/// in its own store, and only ECS may read the key.
#[test]
fn the_worker_is_told_where_approvals_are_and_may_only_use_those() {
    let cli = source(&[CLI_WORKER]);
    for variable in [
        "CPSF_APPROVALS_QUEUE",
        "CPSF_APPROVAL_STORE",
        "CPSF_APPROVAL_URL",
        "CPSF_APPROVAL_LISTEN",
    ] {
        assert!(cli.contains(&format!("env = \"{variable}\"")), "{variable}");
    }
    let service = source(&["approval/service.rs"]);
    assert!(service.contains("KEY_VARIABLE: &str = \"CPSF_APPROVAL_KEY\""));
    let task = resource("WorkerTaskDefinition").join("\n");
    for wired in [
        "- Name: CPSF_APPROVALS_QUEUE\n              Value: !Ref ApprovalsQueue",
        "- Name: CPSF_APPROVAL_STORE\n              Value: !Sub \"s3://${ApprovalStoreBucket}/cpsf\"",
        "Secrets:\n            - Name: CPSF_APPROVAL_KEY\n              ValueFrom: !Ref ApprovalKeySecret",
    ] {
        assert!(task.contains(wired), "{wired}: {task}");
    }
    let role = resource("WorkerRole");
    let take = statement(&role, "TakeApprovalRequests");
    assert!(
        take.contains("- sqs:ReceiveMessage\n") && take.contains("- sqs:DeleteMessage\n"),
        "{take}"
    );
    assert!(
        take.contains("Resource: !GetAtt ApprovalsQueue.Arn"),
        "{take}"
    );
    let keep = statement(&role, "KeepApprovals");
    assert!(
        keep.contains("Resource: !Sub \"${ApprovalStoreBucket.Arn}/*\""),
        "{keep}"
    );
    assert!(
        !role.join("\n").contains("secretsmanager"),
        "the worker itself never reads the key"
    );
    let execution = resource("TaskExecutionRole").join("\n");
    assert!(execution.contains("Action: secretsmanager:GetSecretValue\n                Resource: !Ref ApprovalKeySecret"), "{execution}");
    let states = resource("StateMachineRole").join("\n");
    assert!(
        states.contains(
            "Action: sqs:SendMessage\n                Resource: !GetAtt ApprovalsQueue.Arn"
        ),
        "{states}"
    );
}

/// A statement of `policy` with this Sid, checked to say each of
/// `expected` (its lines as the template writes them).
fn says(policy: &[&'static str], sid: &str, expected: &[&str]) -> String {
    let statement = statement(policy, sid);
    for line in expected {
        assert!(statement.contains(line), "{sid} lacks {line}: {statement}");
    }
    statement
}

/// The approvals queue carries task tokens (issue 27, item 3): whoever
/// receives one can SendTaskSuccess and execute the change set with no
/// approver, and whoever sends one makes the worker mail real signed links
/// with forged content. The queue's policy denies sending to everyone but
/// the state machine's role and receiving to everyone but the worker's,
/// whatever their own policies allow (an explicit Deny wins: IAM user
/// guide, "Policy evaluation logic"), and anything without TLS. Its
/// dead-letter queue holds the same messages, so only the worker (and the
/// approvers, who read the store's tokens anyway) may receive there.
#[test]
fn only_the_state_machine_sends_approvals_and_only_the_worker_takes_them() {
    let policy = resource("ApprovalsQueuePolicy");
    let text = uncommented("ApprovalsQueuePolicy");
    assert!(text.contains("Queues: [!Ref ApprovalsQueue]"), "{text}");
    assert!(!text.contains("Effect: Allow"), "{text}");
    says(
        &policy,
        "OnlyTheStateMachineSends",
        &[
            "Effect: Deny",
            "Principal: \"*\"",
            "Action: sqs:SendMessage",
            "Resource: !GetAtt ApprovalsQueue.Arn",
            "ArnNotEquals:\n                aws:PrincipalArn: !GetAtt StateMachineRole.Arn",
        ],
    );
    says(
        &policy,
        "OnlyTheWorkerReceives",
        &[
            "Effect: Deny",
            "Principal: \"*\"",
            "- sqs:ReceiveMessage",
            "- sqs:DeleteMessage",
            "- sqs:ChangeMessageVisibility",
            "Resource: !GetAtt ApprovalsQueue.Arn",
            "ArnNotEquals:\n                aws:PrincipalArn: !GetAtt WorkerRole.Arn",
        ],
    );
    says(
        &policy,
        "TlsOnly",
        &[
            "Effect: Deny",
            "- sqs:SendMessage",
            "- sqs:ReceiveMessage",
            "Bool:\n                aws:SecureTransport: \"false\"",
        ],
    );
    let dead = resource("ApprovalsDeadLetterQueuePolicy");
    let text = uncommented("ApprovalsDeadLetterQueuePolicy");
    assert!(
        text.contains("Queues: [!Ref ApprovalsDeadLetterQueue]"),
        "{text}"
    );
    says(
        &dead,
        "OnlyTheWorkerAndApproversReceive",
        &[
            "Effect: Deny",
            "- sqs:ReceiveMessage",
            "Resource: !GetAtt ApprovalsDeadLetterQueue.Arn",
            "ArnNotLike:\n                aws:PrincipalArn: !If",
        ],
    );
    says(&dead, "TlsOnly", &["aws:SecureTransport: \"false\""]);
}

/// The store keeps each task token until the decision (issue 27, item 3):
/// its bucket's policy denies reading, writing and deleting records to
/// everyone but the worker's role and the roles given as
/// `ApproverRoleArns` (who run `cpsf approve`, which reads the record and
/// writes the decision), and any request without TLS. It denies object
/// access only, never the bucket's own administration (its policy,
/// deletion), so the account's administrators who deploy the stack keep
/// updating and deleting it.
#[test]
fn only_the_worker_and_the_approvers_read_the_approval_store() {
    let policy = resource("ApprovalStoreBucketPolicy");
    let text = uncommented("ApprovalStoreBucketPolicy");
    assert!(text.contains("Bucket: !Ref ApprovalStoreBucket"), "{text}");
    assert!(!text.contains("Effect: Allow"), "{text}");
    let records = says(
        &policy,
        "OnlyTheWorkerAndApproversUseRecords",
        &[
            "Effect: Deny",
            "Principal: \"*\"",
            "- s3:GetObject",
            "- s3:PutObject",
            "- s3:DeleteObject",
            "Resource: !Sub \"${ApprovalStoreBucket.Arn}/*\"",
            "ArnNotLike:\n                aws:PrincipalArn: !If\n                  - HasApproverRoles\n                  \
             - !Split [\",\", !Sub \"${WorkerRole.Arn},${ApproverRoleArns}\"]\n                  \
             - [!GetAtt WorkerRole.Arn]",
        ],
    );
    for administration in ["PutBucketPolicy", "DeleteBucket", "s3:*"] {
        assert!(!records.contains(administration), "{records}");
    }
    says(
        &policy,
        "TlsOnly",
        &[
            "Effect: Deny",
            "- s3:GetObject",
            "- s3:ListBucket",
            "- !GetAtt ApprovalStoreBucket.Arn",
            "- !Sub \"${ApprovalStoreBucket.Arn}/*\"",
            "Bool:\n                aws:SecureTransport: \"false\"",
        ],
    );
    assert!(
        TEMPLATE.contains("\n  HasApproverRoles: !Not [!Equals [!Ref ApproverRoleArns, \"\"]]\n")
    );
    let parameter = resource("ApproverRoleArns").join("\n");
    assert!(parameter.contains("Default: \"\""), "{parameter}");
}

/// A request the worker cannot take (its topic refuses, the store is
/// down) comes back after the visibility timeout; after a few tries it
/// goes to a dead-letter queue instead of looping every 60 s for a day
/// (issue 27, item 8). The dead-letter queue keeps messages longer than
/// the source queue: a message keeps its first enqueue time there, and
/// expires by it (Amazon SQS developer guide, "Using dead-letter queues").
/// Only the approvals queue may use it.
#[test]
fn an_approval_request_that_cannot_be_taken_goes_to_a_dead_letter_queue() {
    let queue = uncommented("ApprovalsQueue");
    assert!(
        queue.contains(
            "RedrivePolicy:\n        deadLetterTargetArn: !GetAtt ApprovalsDeadLetterQueue.Arn\n        \
             maxReceiveCount: "
        ),
        "{queue}"
    );
    let tries: u32 = queue
        .lines()
        .find_map(|l| l.trim().strip_prefix("maxReceiveCount: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((5..=60).contains(&tries), "{tries}");
    let retention = |text: &str| -> u32 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix("MessageRetentionPeriod: "))
            .unwrap()
            .parse()
            .unwrap()
    };
    let dead = uncommented("ApprovalsDeadLetterQueue");
    assert!(retention(&dead) > retention(&queue), "{dead}");
    for expected in [
        "SqsManagedSseEnabled: true",
        "redrivePermission: byQueue",
        "sourceQueueArns:\n          - !Sub \"arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${NamePrefix}-approvals\"",
    ] {
        assert!(dead.contains(expected), "{expected}: {dead}");
    }
    assert!(queue.contains("QueueName: !Sub \"${NamePrefix}-approvals\""));
}
