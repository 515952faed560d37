//! What each emulator does with a callback task's timeout from its input,
//! as RequestApproval has it (docs/emulators.md; the cells are asserted).

use crate::harness::*;
use std::time::Duration;

/// A `.waitForTaskToken` task with `TimeoutSecondsPath` times out after
/// that many seconds on AWS (`States.Timeout`: ASL specification, Task
/// state, "TimeoutSecondsPath"); neither emulator applies it, so the worker
/// fails an approval's task itself when its time is up
/// (crates/worker/src/approval/inbox.rs).
#[tokio::test]
async fn a_callback_tasks_timeout_from_its_input() {
    let h = Harness::start().await;
    let queue = h
        .env
        .approvals
        .clone()
        .expect("the playground makes approvals")
        .queue;
    let definition = serde_json::json!({"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue, "MessageBody": {"taskToken.$": "$$.Task.Token"}},
        "TimeoutSecondsPath": "$.timeout",
        "End": true}}});
    let execution = h
        .run_machine("fact-callback-timeout", &definition, r#"{"timeout": 2}"#)
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let status = h.execution_status_of(&execution).await;
    // AWS: FAILED after 5 s (States.Timeout after 2 s).
    assert_eq!(format!("{status} after 5 s"), "RUNNING after 5 s");
    let _ = h
        .sfn
        .stop_execution()
        .execution_arn(&execution)
        .send()
        .await;
}
