//! The playground holds cpsf to AWS's limits where the emulators do not:
//! every request is checked against the AWS API model of its operation and
//! refused as AWS refuses it, and every execution's state data is checked
//! against Step Functions' 256 KiB when the test ends (harness.rs).

use crate::harness::*;
use cpsf_playground::Emulator;

/// The code and message of a refused call.
fn answer<T, E: aws_sdk_sfn::error::ProvideErrorMetadata>(
    result: Result<T, E>,
) -> (String, String) {
    let error = result.err().expect("the call is refused");
    (
        error.code().unwrap_or_default().to_string(),
        error.message().unwrap_or_default().to_string(),
    )
}

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:nowhere";

/// Too long a name, too large an input (in UTF-8 bytes, fewer characters),
/// too long a stack name, too long a key: each answered with AWS's error,
/// in its protocol's shape, with AWS's words, before it reaches the
/// emulator (the state machine does not even exist: AWS checks the model
/// first).
#[tokio::test]
async fn requests_over_awss_limits_are_refused_as_aws_refuses_them() {
    let h = Harness::start().await;
    let long_name = "a".repeat(81);
    if emulator() == Emulator::Ministack {
        // MiniStack alone starts it (docs/emulators.md).
        let machine = h
            .create_state_machine(
                "p",
                serde_json::json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
            )
            .await;
        h.unchecked_sfn()
            .await
            .start_execution()
            .state_machine_arn(machine)
            .name(&long_name)
            .send()
            .await
            .expect("MiniStack accepts an 81-character name");
    }
    let refused = h
        .sfn
        .start_execution()
        .state_machine_arn(MACHINE)
        .name(&long_name)
        .send()
        .await;
    assert_eq!(
        answer(refused),
        (
            "ValidationException".to_string(),
            format!(
                "1 validation error detected: Value '{long_name}' at 'name' failed to satisfy \
                 constraint: Member must have length less than or equal to 80"
            )
        )
    );
    // 131,073 two-byte characters: within 262,144 characters, over 262,144
    // bytes, which is what Step Functions counts (API reference,
    // StartExecution, input).
    let input = serde_json::json!({"note": "é".repeat(131_073)}).to_string();
    let refused = h
        .sfn
        .start_execution()
        .state_machine_arn(MACHINE)
        .input(input)
        .send()
        .await;
    assert_eq!(
        message(refused),
        "1 validation error detected: Value at 'input' failed to satisfy constraint: Member \
         must have size less than or equal to 262144 bytes in UTF-8 encoding"
    );
    let cfn = aws_sdk_cloudformation::Client::new(&h.clients.sdk);
    let long_stack = format!("s{}", "0".repeat(128));
    let refused = cfn
        .create_stack()
        .stack_name(&long_stack)
        .template_body("{}")
        .send()
        .await;
    assert_eq!(
        answer(refused),
        (
            "ValidationError".to_string(),
            format!(
                "1 validation error detected: Value '{long_stack}' at 'stackName' failed to \
                 satisfy constraint: Member must have length less than or equal to 128"
            )
        )
    );
    let refused =
        h.s3.put_object()
            .bucket(ARTIFACT_BUCKET)
            .key("k".repeat(1025))
            .body(b"x".to_vec().into())
            .send()
            .await;
    assert_eq!(code(refused), "KeyTooLongError");

    let refusals: Vec<String> = h
        .take_refusals()
        .into_iter()
        .map(|r| format!("{} {}", r.operation, r.code))
        .collect();
    assert_eq!(
        refusals,
        [
            "states:StartExecution ValidationException",
            "states:StartExecution ValidationException",
            "cloudformation:CreateStack ValidationError",
            "s3:PUT KeyTooLongError",
        ]
    );
    // The harness's own set-up calls passed the same checks.
    assert!(h.checks().checked > 4, "{}", h.checks());
}

/// A state whose output is over 256 KiB: the emulator runs it to the end,
/// AWS would fail the execution with States.DataLimitExceeded, and the
/// check at the end of every test finds it in the history.
#[tokio::test]
async fn state_data_over_256_kib_is_found_in_the_history() {
    let h = Harness::start().await;
    let big = "x".repeat(262_145);
    let machine = h
        .create_state_machine(
            "big-output",
            serde_json::json!({"StartAt": "Big", "States": {
                "Big": {"Type": "Pass", "Result": {"data": big}, "End": true}}}),
        )
        .await;
    let execution = h
        .sfn
        .start_execution()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap()
        .execution_arn;
    let status = wait_for("the execution to end", || async {
        let status = h.execution_status_of(&execution).await;
        (status != "RUNNING").then_some(status)
    })
    .await;
    if emulator() == Emulator::Ministack {
        // AWS: FAILED, States.DataLimitExceeded (docs/emulators.md).
        assert_eq!(status, "SUCCEEDED");
    }
    let found = h.take_oversized_state_data().await;
    assert!(
        found
            .iter()
            .any(|o| o.execution == execution && o.state.as_deref() == Some("Big")),
        "{found:?}"
    );
    assert!(found.iter().all(|o| o.bytes > 262_144));
}
