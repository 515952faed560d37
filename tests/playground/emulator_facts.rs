//! What each emulator does where cpsf relies on AWS's behaviour: the cells
//! of docs/emulators.md. Each test observes one behaviour on this run's
//! emulator and asserts what the table says of it, so the table cannot
//! drift from what the emulators do. The AWS column is not tested here: it
//! cites the API reference, and cpsf's code follows it and copes with each
//! emulator's difference (named in each test).

use crate::harness::*;
use aws_sdk_cloudformation::types::{ChangeSetStatus, Parameter};
use aws_sdk_s3::types::ServerSideEncryption;
use cpsf_playground::Emulator;
use std::time::Duration;

impl Harness {
    /// Starts a one-Task state machine on a new activity `name`, the Task
    /// set as `task` says, and takes its task: the execution and the token.
    async fn activity_task_handed_out(
        &self,
        name: &str,
        task: serde_json::Value,
    ) -> (String, String) {
        let activity = self
            .sfn
            .create_activity()
            .name(name)
            .send()
            .await
            .unwrap()
            .activity_arn;
        let mut state = serde_json::json!({"Type": "Task", "Resource": activity, "End": true});
        state
            .as_object_mut()
            .unwrap()
            .extend(task.as_object().unwrap().clone());
        let definition = serde_json::json!({"StartAt": "T", "States": {"T": state}});
        let execution = self.run_machine(name, &definition, "{}").await;
        let task = self
            .sfn
            .get_activity_task()
            .activity_arn(&activity)
            .send()
            .await
            .unwrap();
        let token = task.task_token().unwrap_or_default().to_string();
        assert!(!token.is_empty(), "the task is handed out");
        (execution, token)
    }

    /// Creates the state machine `name` and starts it on `input`: the
    /// execution.
    pub async fn run_machine(
        &self,
        name: &str,
        definition: &serde_json::Value,
        input: &str,
    ) -> String {
        let machine = self
            .sfn
            .create_state_machine()
            .name(name)
            .role_arn(crate::worker_harness::ROLE)
            .definition(definition.to_string())
            .send()
            .await
            .unwrap()
            .state_machine_arn;
        self.sfn
            .start_execution()
            .state_machine_arn(&machine)
            .input(input)
            .send()
            .await
            .unwrap()
            .execution_arn
    }
}

/// The table's cell for this run's emulator.
fn cell(ministack: &'static str, fakecloud: &'static str) -> &'static str {
    match emulator() {
        Emulator::Ministack => ministack,
        Emulator::Fakecloud => fakecloud,
    }
}

const SETTING: &str = r#"{"Parameters": {"Value": {"Type": "String"}, "Limit": {"Type": "Number", "Default": "30"}},
 "Resources": {"Setting": {"Type": "AWS::SSM::Parameter",
   "Properties": {"Name": "/cpsf-fact/setting", "Type": "String", "Value": {"Ref": "Value"}}}}}"#;

const QUEUE: &str = r#"{"Parameters": {"Timeout": {"Type": "Number"}},
 "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": {"Ref": "Timeout"}}}}}"#;

fn parameter(key: &str, value: &str) -> Parameter {
    Parameter::builder()
        .parameter_key(key)
        .parameter_value(value)
        .build()
}

/// Creates a stack and waits until it settles; returns its status.
async fn create_stack(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    template: &str,
    parameters: &[(&str, &str)],
) -> String {
    cfn.create_stack()
        .stack_name(name)
        .template_body(template)
        .set_parameters(Some(
            parameters.iter().map(|(k, v)| parameter(k, v)).collect(),
        ))
        .send()
        .await
        .unwrap();
    stack_status(cfn, name).await
}

/// Makes a change set of SETTING with `Value` and waits until it is made
/// (CREATE_COMPLETE) or refused (FAILED).
async fn change_set(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    value: &str,
) -> aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput {
    change_set_of(cfn, stack, SETTING, value).await
}

/// Makes a change set of `template` with `Value` and waits as above.
async fn change_set_of(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    template: &str,
    value: &str,
) -> aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput {
    cfn.create_change_set()
        .stack_name(stack)
        .change_set_name("change")
        .template_body(template)
        .parameters(parameter("Value", value))
        .send()
        .await
        .unwrap();
    wait_for("the change set to be made", || async {
        let d = cfn
            .describe_change_set()
            .stack_name(stack)
            .change_set_name("change")
            .send()
            .await
            .ok()?;
        let done = matches!(
            d.status(),
            Some(ChangeSetStatus::CreateComplete | ChangeSetStatus::Failed)
        );
        done.then_some(d)
    })
    .await
}

async fn stack_status(cfn: &aws_sdk_cloudformation::Client, name: &str) -> String {
    wait_for(&format!("stack {name} to settle"), || async {
        let stacks = cfn.describe_stacks().stack_name(name).send().await.ok()?;
        let status = stacks.stacks()[0].stack_status()?.as_str().to_string();
        (!status.ends_with("_IN_PROGRESS")).then_some(status)
    })
    .await
}

/// CreateActivity "is an idempotent API" (Step Functions API reference,
/// CreateActivity): a second call returns the same ARN. cpsf looks the
/// existing activity up when told it exists (crates/worker/src/bootstrap/definition.rs).
#[tokio::test]
async fn create_activity_on_an_existing_name() {
    let h = Harness::start().await;
    let first = h.sfn.create_activity().name("fact").send().await.unwrap();
    let second = h.sfn.create_activity().name("fact").send().await;
    let seen = match second {
        Ok(out) if out.activity_arn == first.activity_arn => "the same ARN".to_string(),
        other => code(other),
    };
    assert_eq!(seen, cell("ActivityAlreadyExists", "ActivityAlreadyExists"));
}

/// StartExecution with the name and input of a running execution succeeds
/// with that execution (API reference, StartExecution, "idempotent"). cpsf
/// describes the execution on ExecutionAlreadyExists and compares inputs
/// (crates/worker/src/sfn.rs).
#[tokio::test]
async fn start_execution_again_with_the_same_name_and_input() {
    let h = Harness::start().await;
    let machine = h
        .sfn
        .create_state_machine()
        .name("fact-wait")
        .role_arn(crate::worker_harness::ROLE)
        .definition(
            r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}"#,
        )
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let start = || {
        h.sfn
            .start_execution()
            .state_machine_arn(&machine)
            .name("same")
            .input("{}")
            .send()
    };
    let first = start().await.unwrap();
    let seen = match start().await {
        Ok(out) if out.execution_arn == first.execution_arn => "the same execution".to_string(),
        other => code(other),
    };
    assert_eq!(seen, cell("ExecutionAlreadyExists", "the same execution"));
}

/// A change set without changes ends FAILED with the reason "The submitted
/// information didn't contain changes…" (CloudFormation user guide,
/// "Update stacks using change sets"). cpsf reads both that and an empty
/// CREATE_COMPLETE as "no changes" (crates/worker/src/tasks/update_stack.rs).
#[tokio::test]
async fn a_change_set_without_changes() {
    let h = Harness::start().await;
    let cfn = h.clients.cloudformation();
    let created = create_stack(&cfn, "fact-empty", SETTING, &[("Value", "a")]).await;
    assert_eq!(created, "CREATE_COMPLETE");
    let described = change_set(&cfn, "fact-empty", "a").await;
    let seen = format!(
        "{} {}",
        described.status().unwrap().as_str(),
        described.status_reason().unwrap_or("(no reason)")
    );
    assert_eq!(
        seen,
        cell(
            "FAILED The submitted information didn't contain changes. Submit different \
             information to create a change set.",
            "CREATE_COMPLETE (no reason)"
        )
    );
}

/// A change set's Description: AWS keeps what CreateChangeSet was given
/// and returns it from DescribeChangeSet and ListChangeSets (API
/// reference, DescribeChangeSet and ChangeSetSummary: Description). cpsf
/// writes the execution that made it there and refuses to execute a change
/// set whose Description names another (`cloudformation::change_set::ours`);
/// fakecloud keeps none, so there the change set's name decides alone.
#[tokio::test]
async fn a_change_sets_description() {
    let h = Harness::start().await;
    let cfn = h.clients.cloudformation();
    create_stack(&cfn, "fact-description", SETTING, &[("Value", "a")]).await;
    cfn.create_change_set()
        .stack_name("fact-description")
        .change_set_name("described")
        .template_body(SETTING)
        .parameters(parameter("Value", "b"))
        .description("cpsf deploy, execution arn:x")
        .send()
        .await
        .unwrap();
    let described = cfn
        .describe_change_set()
        .stack_name("fact-description")
        .change_set_name("described")
        .send()
        .await
        .unwrap();
    let listed = cfn
        .list_change_sets()
        .stack_name("fact-description")
        .send()
        .await
        .unwrap();
    let seen = format!(
        "{} / {}",
        described.description().unwrap_or("(none)"),
        listed.summaries()[0].description().unwrap_or("(none)")
    );
    assert_eq!(
        seen,
        cell(
            "cpsf deploy, execution arn:x / cpsf deploy, execution arn:x",
            "(none) / (none)"
        )
    );
}

/// A change set whose only change is a new Output: on AWS it is
/// CREATE_COMPLETE and executable, with no resource changes, and executing
/// it is what applies the Output (aws/aws-cdk#2029). cpsf executes such a
/// change set (`crates/worker/src/cloudformation/change_set.rs`, `no_changes`); AWS's answer is
/// replayed in `tasks::update_stack::tests`, because neither emulator
/// gives it.
#[tokio::test]
async fn a_change_set_that_changes_only_outputs() {
    let h = Harness::start().await;
    let cfn = h.clients.cloudformation();
    create_stack(&cfn, "fact-outputs", SETTING, &[("Value", "a")]).await;
    let with_output = SETTING.trim_end().strip_suffix('}').unwrap().to_string()
        + r#", "Outputs": {"Name": {"Value": {"Ref": "Setting"}}}}"#;
    let described = change_set_of(&cfn, "fact-outputs", &with_output, "a").await;
    let seen = format!(
        "{} {} changes",
        described.status().unwrap().as_str(),
        described.changes().len()
    );
    // fakecloud lists the unchanged resource as a Modify, so neither
    // answers as AWS: `tasks::update_stack::tests` replays AWS's answer.
    assert_eq!(seen, cell("FAILED 0 changes", "CREATE_COMPLETE 1 changes"));
}

/// A resource removed from the template under `DeletionPolicy: Retain`:
/// AWS lists it as Remove with PolicyAction Retain, and leaves it in place
/// (API reference, ResourceChange; user guide, "DeletionPolicy
/// attribute"). cpsf lets such a removal through its replacement gate
/// (`Change::retained`); AWS's answer is replayed in
/// `tasks::update_stack::tests` too.
#[tokio::test]
async fn a_removal_under_deletion_policy_retain() {
    let h = Harness::start().await;
    let cfn = h.clients.cloudformation();
    let two = r#"{"Parameters": {"Value": {"Type": "String"}},
 "Resources": {"Setting": {"Type": "AWS::SSM::Parameter",
   "Properties": {"Name": "/cpsf-fact/kept", "Type": "String", "Value": {"Ref": "Value"}}},
  "Old": {"Type": "AWS::SSM::Parameter", "DeletionPolicy": "Retain",
   "Properties": {"Name": "/cpsf-fact/old", "Type": "String", "Value": "old"}}}}"#;
    let one = r#"{"Parameters": {"Value": {"Type": "String"}},
 "Resources": {"Setting": {"Type": "AWS::SSM::Parameter",
   "Properties": {"Name": "/cpsf-fact/kept", "Type": "String", "Value": {"Ref": "Value"}}}}}"#;
    create_stack(&cfn, "fact-retain", two, &[("Value", "a")]).await;
    let described = change_set_of(&cfn, "fact-retain", one, "a").await;
    let change = described
        .changes()
        .iter()
        .filter_map(|c| c.resource_change())
        .find(|r| r.logical_resource_id() == Some("Old"))
        .expect("the removed resource is listed");
    let seen = format!(
        "{} {} policy {}",
        change.action().unwrap().as_str(),
        change.logical_resource_id().unwrap(),
        change.policy_action().map_or("-", |p| p.as_str())
    );
    assert_eq!(
        seen,
        cell("Remove Old policy Retain", "Remove Old policy -")
    );
}

/// A changed property that needs no replacement is Modify with
/// Replacement False (CloudFormation API reference, ResourceChange:
/// True, False or Conditional). cpsf refuses True and reports Conditional.
#[tokio::test]
async fn a_change_set_that_modifies_a_property_in_place() {
    let h = Harness::start().await;
    let cfn = h.clients.cloudformation();
    create_stack(&cfn, "fact-modify", SETTING, &[("Value", "a")]).await;
    let described = change_set(&cfn, "fact-modify", "b").await;
    let change = described.changes()[0].resource_change().unwrap();
    let seen = format!(
        "{} {}",
        change.action().unwrap().as_str(),
        change.replacement().map_or("-", |r| r.as_str())
    );
    assert_eq!(seen, cell("Modify False", "Modify Conditional"));
}

/// A first create that fails rolls back: the stack ends ROLLBACK_COMPLETE
/// and the resource's CREATE_FAILED event holds the reason
/// (CloudFormation user guide, "Stack status codes"). cpsf treats
/// CREATE_FAILED the same way and names the reason from either place
/// (crates/worker/src/cloudformation/stack.rs).
#[tokio::test]
async fn a_failed_first_create() {
    let h = Harness::start().await;
    let cfn = h.clients.cloudformation();
    // SQS takes 0 to 43,200 seconds (API reference, CreateQueue).
    let status = create_stack(&cfn, "fact-fails", QUEUE, &[("Timeout", "99999")]).await;
    let events = cfn
        .describe_stack_events()
        .stack_name("fact-fails")
        .send()
        .await
        .unwrap();
    let resource_failed = events.stack_events().iter().any(|e| {
        e.logical_resource_id() == Some("Queue")
            && e.resource_status().map(|s| s.as_str()) == Some("CREATE_FAILED")
    });
    let seen = format!("{status}, resource event: {resource_failed}");
    assert_eq!(
        seen,
        cell(
            "ROLLBACK_COMPLETE, resource event: true",
            "CREATE_FAILED, resource event: false"
        )
    );
}

/// A Number parameter's value must be a number; CreateStack refuses it
/// with a ValidationError (CloudFormation user guide, "Parameters":
/// Number). cpsf passes CloudFormation's message through.
#[tokio::test]
async fn a_number_parameter_given_a_word() {
    let h = Harness::start().await;
    let cfn = h.clients.cloudformation();
    let created = cfn
        .create_stack()
        .stack_name("fact-number")
        .template_body(SETTING)
        .parameters(parameter("Value", "a"))
        .parameters(parameter("Limit", "soon"))
        .send()
        .await;
    let seen = match created {
        Ok(_) => "accepted".to_string(),
        Err(error) => code(Err::<(), _>(error)),
    };
    assert_eq!(seen, cell("ValidationError", "accepted"));
}

/// CreateStack retried with the same ClientRequestToken is the same
/// request (API reference, CreateStack, ClientRequestToken). cpsf reads
/// AlreadyExistsException as its own earlier attempt only when the
/// stack's events carry its token (crates/worker/src/tasks/create_stack.rs).
#[tokio::test]
async fn create_stack_retried_with_the_same_token() {
    let h = Harness::start().await;
    let cfn = h.clients.cloudformation();
    let create = || {
        cfn.create_stack()
            .stack_name("fact-token")
            .template_body(SETTING)
            .parameters(parameter("Value", "a"))
            .client_request_token("cpsf-fact-1")
            .send()
    };
    let first = create().await.unwrap();
    let seen = match create().await {
        Ok(out) if out.stack_id == first.stack_id => "the same stack".to_string(),
        other => code(other),
    };
    assert_eq!(
        seen,
        cell("AlreadyExistsException", "AlreadyExistsException")
    );
}

/// An activity task whose worker stops heartbeating times out after the
/// state's HeartbeatSeconds with States.HeartbeatTimeout (Step Functions
/// developer guide, "Task state": HeartbeatSeconds); the deploy machine's
/// Retry then hands it out again. History events for activity tasks are
/// Activity* (API reference, HistoryEvent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activity_task_without_heartbeats() {
    let h = Harness::start().await;
    let (execution, _token) = h
        .activity_task_handed_out(
            "fact-silent",
            serde_json::json!({"HeartbeatSeconds": 1, "TimeoutSeconds": 2}),
        )
        .await;
    // Nobody answers or heartbeats it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let status = h.execution_status_of(&execution).await;
    let events = cpsf_worker::history::fetch::all_events(&h.clients, &execution)
        .await
        .unwrap();
    let scheduled = events
        .iter()
        .find(|e| e.kind.ends_with("Scheduled"))
        .map(|e| e.kind.clone())
        .unwrap_or_default();
    assert_eq!(
        format!("{status} after 5 s; {scheduled}"),
        cell(
            "RUNNING after 5 s; TaskScheduled",
            "FAILED after 5 s; TaskScheduled"
        )
    );
}

/// DescribeStacks lists the stack's own parameters; a parameter's name is
/// alphanumeric (CloudFormation user guide, "Parameters"), so pseudo
/// parameters (`AWS::Region`, …) are never among them. update-stack's
/// shortcut compares the stack's parameters with the input's and leaves
/// `AWS::` keys out (crates/worker/src/tasks/update_stack.rs).
#[tokio::test]
async fn the_parameters_describe_stacks_lists() {
    let h = Harness::start().await;
    let cfn = h.clients.cloudformation();
    create_stack(&cfn, "fact-parameters", SETTING, &[("Value", "a")]).await;
    let described = cfn
        .describe_stacks()
        .stack_name("fact-parameters")
        .send()
        .await
        .unwrap();
    let mut keys: Vec<&str> = described.stacks()[0]
        .parameters()
        .iter()
        .filter_map(|p| p.parameter_key())
        .collect();
    keys.sort();
    let seen = match keys.iter().any(|k| k.starts_with("AWS::")) {
        true => "the stack's and pseudo parameters".to_string(),
        false => keys.join(", "),
    };
    assert_eq!(
        seen,
        cell("Limit, Value", "the stack's and pseudo parameters")
    );
}

/// Every event of a stack operation carries the ClientRequestToken given to
/// it (API reference, StackEvent: ClientRequestToken), which tells one
/// deploy's create from another's.
#[tokio::test]
async fn the_token_stack_events_carry() {
    let h = Harness::start().await;
    let cfn = h.clients.cloudformation();
    cfn.create_stack()
        .stack_name("fact-events")
        .template_body(SETTING)
        .parameters(parameter("Value", "a"))
        .client_request_token("cpsf-create-fact")
        .send()
        .await
        .unwrap();
    stack_status(&cfn, "fact-events").await;
    let events = cfn
        .describe_stack_events()
        .stack_name("fact-events")
        .send()
        .await
        .unwrap();
    let tokens: std::collections::BTreeSet<&str> = events
        .stack_events()
        .iter()
        .map(|e| e.client_request_token().unwrap_or("none"))
        .collect();
    let seen = tokens.into_iter().collect::<Vec<_>>().join(", ");
    assert_eq!(seen, cell("cpsf-create-fact", "none"));
}

/// AWS: a stopped execution's activity task is closed; SendTaskHeartbeat
/// then answers `TaskTimedOut` (API reference, SendTaskHeartbeat errors).
/// Neither emulator closes it: the heartbeat succeeds. cpsf's handlers stop
/// on AWS's answer (`crates/worker/src/activity/lease.rs`, tested with it replayed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_of_a_stopped_executions_task() {
    let h = Harness::start().await;
    let (execution, token) = h
        .activity_task_handed_out("fact-stopped", serde_json::json!({"HeartbeatSeconds": 60}))
        .await;
    h.sfn
        .stop_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    let heartbeat = h.sfn.send_task_heartbeat().task_token(&token).send().await;
    let observed = match heartbeat {
        Ok(_) => "accepted".to_string(),
        Err(error) => code(Err::<(), _>(error)),
    };
    assert_eq!(observed, cell("accepted", "accepted"));
}

/// A template that holds its stack until signalled: a WaitCondition with
/// a CreationPolicy (user guide, "CreationPolicy attribute").
const GATE: &str = r#"{"Resources": {"Gate": {"Type": "AWS::CloudFormation::WaitCondition",
  "CreationPolicy": {"ResourceSignal": {"Count": 1, "Timeout": "PT10M"}}}}}"#;

/// AWS holds the stack in CREATE_IN_PROGRESS until the signal; MiniStack
/// too, fakecloud completes it at once. The restart test needs a stack that
/// stays in progress, so it runs on MiniStack (`long_waits`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_condition_waiting_for_its_signal() {
    let h = Harness::start().await;
    let cfn = h.clients.cloudformation();
    cfn.create_stack()
        .stack_name("fact-gate")
        .template_body(GATE)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = cfn
        .describe_stacks()
        .stack_name("fact-gate")
        .send()
        .await
        .unwrap()
        .stacks()[0]
        .stack_status()
        .unwrap()
        .as_str()
        .to_string();
    assert_eq!(status, cell("CREATE_IN_PROGRESS", "CREATE_COMPLETE"));
}

/// AWS refuses CreateStack for a template with a macro (AWS::Serverless is
/// one) unless CAPABILITY_AUTO_EXPAND is acknowledged (API reference,
/// CreateStack, Capabilities). MiniStack checks capabilities only when run
/// with AUTH=true, which the playground does, and then refuses as AWS;
/// fakecloud does not expand SAM. cpsf creates such a template through a change set with the
/// capability (`crates/worker/src/tasks/create_stack.rs`, unit-tested with AWS's rules).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_stack_with_a_transform_and_no_capability() {
    let h = Harness::start().await;
    let cfn = h.clients.cloudformation();
    let sam = "Transform: AWS::Serverless-2016-10-31\nResources:\n  T:\n    Type: AWS::Serverless::SimpleTable\n";
    let created = cfn
        .create_stack()
        .stack_name("fact-sam")
        .template_body(sam)
        .send()
        .await;
    let observed = match created {
        Ok(_) => {
            let status = stack_status(&cfn, "fact-sam").await;
            format!("accepted: {status}")
        }
        Err(error) => code(Err::<(), _>(error)),
    };
    assert_eq!(
        observed,
        cell(
            "InsufficientCapabilitiesException",
            "accepted: CREATE_COMPLETE"
        )
    );
}

/// The policy the CodePipeline console puts on the artifact bucket it
/// creates: uploads without SSE-KMS are denied (CodePipeline user guide,
/// "Configure server-side encryption for artifacts stored in Amazon S3").
/// Its second statement (deny without TLS) is left out: the playground is
/// plain HTTP on loopback.
pub fn console_artifact_bucket_policy(bucket: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "SSEAndSSLPolicy",
        "Statement": [{
            "Sid": "DenyUnEncryptedObjectUploads",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}
        }]
    })
    .to_string()
}

/// AWS denies a PutObject the bucket policy denies, the bucket owner's
/// too (IAM user guide, "Policy evaluation logic": an explicit deny wins),
/// and takes `aws:kms` with no key id as the AWS managed key (S3 API
/// reference, PutObject). Neither emulator enforces the policy for the
/// owner; MiniStack refuses `aws:kms` without a key id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_the_bucket_policy_denies() {
    let h = Harness::start().await;
    h.s3.create_bucket()
        .bucket("fact-policy")
        .send()
        .await
        .unwrap();
    h.s3.put_bucket_policy()
        .bucket("fact-policy")
        .policy(console_artifact_bucket_policy("fact-policy"))
        .send()
        .await
        .unwrap();
    let put =
        |key: &'static str, sse: Option<ServerSideEncryption>, key_id: Option<&'static str>| {
            let s3 = h.s3.clone();
            async move {
                let put = s3
                    .put_object()
                    .bucket("fact-policy")
                    .key(key)
                    .set_server_side_encryption(sse)
                    .set_ssekms_key_id(key_id.map(str::to_string))
                    .body(b"x".to_vec().into())
                    .send()
                    .await;
                put.map_or_else(|e| code(Err::<(), _>(e)), |_| "accepted".into())
            }
        };
    let observed = format!(
        "plain: {}, aws:kms: {}, aws:kms alias/aws/s3: {}",
        put("plain", None, None).await,
        put("kms", Some(ServerSideEncryption::AwsKms), None).await,
        put(
            "alias",
            Some(ServerSideEncryption::AwsKms),
            Some("alias/aws/s3")
        )
        .await,
    );
    assert_eq!(
        observed,
        cell(
            "plain: accepted, aws:kms: InvalidArgument, aws:kms alias/aws/s3: accepted",
            "plain: accepted, aws:kms: accepted, aws:kms alias/aws/s3: accepted"
        )
    );
}

/// GetObject with a suffix range (`Range: bytes=-N`: how the worker starts
/// reading an artifact, src/artifact/s3_ranges.rs) of an empty object. S3
/// answers 416 `InvalidRange` (S3 API reference, "Error responses":
/// "The requested range can't be satisfied"); MiniStack answers 206 with
/// no bytes and `Content-Range: bytes 0--1/0`. cpsf takes either for "the
/// input artifact is empty" (bad input corpus: `empty-artifact`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suffix_range_of_an_empty_object() {
    let h = Harness::start().await;
    h.s3.create_bucket()
        .bucket("fact-ranges")
        .send()
        .await
        .unwrap();
    h.s3.put_object()
        .bucket("fact-ranges")
        .key("empty")
        .body(Vec::new().into())
        .send()
        .await
        .unwrap();
    let got =
        h.s3.get_object()
            .bucket("fact-ranges")
            .key("empty")
            .range("bytes=-262144")
            .send()
            .await;
    let observed = match got {
        Ok(object) => format!(
            "206, {} bytes, {}",
            object.content_length().unwrap_or(-1),
            object.content_range().unwrap_or("no Content-Range")
        ),
        Err(e) => code(Err::<(), _>(e)),
    };
    assert_eq!(observed, cell("206, 0 bytes, bytes 0--1/0", "InvalidRange"));
}

/// Step Functions' "Execution Status Change" event for an execution's end,
/// through an EventBridge rule to an SQS queue (the playground's own rule
/// and queue, made the way the bootstrap makes them on AWS). AWS delivers
/// it, at least once, with the output included (Step Functions developer
/// guide, "Automating Step Functions event delivery with EventBridge");
/// MiniStack too; fakecloud emits none, so there the worker's jobs keep
/// their own pace (crates/worker/src/events/) and the events tests need MiniStack.
/// Neither emulator enforces the queue policy's explicit deny of senders
/// other than the rule (IAM user guide, "Policy evaluation logic": an
/// explicit deny wins): a SendMessage of the account's own is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executions_end_as_an_event_on_a_queue() {
    let h = Harness::start().await;
    let machine = h.create_slow_machine("fact-events", 0).await;
    let queue = cpsf_playground::events_queue::install(
        &h.clients.sdk,
        "fact-events",
        std::slice::from_ref(&machine),
        &[],
    )
    .await
    .unwrap();
    let sfn = aws_sdk_sfn::Client::new(&h.clients.sdk);
    sfn.start_execution()
        .state_machine_arn(&machine)
        .input(r#"{"a": 1}"#)
        .send()
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&h.clients.sdk);
    let received = sqs
        .receive_message()
        .queue_url(&queue)
        .wait_time_seconds(5)
        .send()
        .await
        .unwrap();
    let events: Vec<String> = received
        .messages()
        .iter()
        .map(|m| {
            let body = m.body().unwrap_or_default();
            let event = cpsf_worker::events::event::parse(body).unwrap();
            // What the event says of the output (cpsf does not read it).
            let detail: serde_json::Value = serde_json::from_str(body).unwrap();
            let output = detail["detail"]["output"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            format!("{:?} {output}", event.status)
        })
        .collect();
    let forged = sqs
        .send_message()
        .queue_url(&queue)
        .message_body("{}")
        .send()
        .await
        .map_or_else(|e| code(Err::<(), _>(e)), |_| "accepted".into());
    assert_eq!(
        format!("events: {events:?}, a SendMessage not from the rule: {forged}"),
        cell(
            // Checking IAM, MiniStack enforces the queue policy's Deny on
            // the account's root too, as AWS.
            r#"events: ["Succeeded {\"a\": 1}"], a SendMessage not from the rule: AccessDenied"#,
            "events: [], a SendMessage not from the rule: accepted"
        )
    );
}
