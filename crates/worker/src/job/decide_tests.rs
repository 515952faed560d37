//! The decision: what to report for an execution, from its facts.

use super::*;
use crate::base::limits::MAX_OUTPUT_VARIABLES_CHARS;
use crate::execution::{FailureFacts, TaskFailure};

fn facts(status: &str) -> ExecutionFacts {
    ExecutionFacts {
        arn: "arn:aws:states:us-east-1:1:execution:sm:run-1".into(),
        name: "run-1".into(),
        state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:sm".into(),
        status: ExecutionStatus::parse(status),
        output: None,
        current_state: None,
        progress: None,
        canary: None,
        failure: FailureFacts::default(),
    }
}

#[test]
fn every_status_maps_to_its_report() {
    let table = [
        ("RUNNING", "continue"),
        ("PENDING_REDRIVE", "continue"),
        ("SOMETHING_NEW", "continue"),
        ("SUCCEEDED", "succeed"),
        ("FAILED", "fail"),
        ("TIMED_OUT", "fail"),
        ("ABORTED", "fail"),
    ];
    for (status, expected) in table {
        let got = match decide(&facts(status), 1.0, 0, 0.0) {
            Report::Continue { .. } => "continue",
            Report::Succeed { .. } => "succeed",
            Report::Fail { kind, .. } => {
                assert_eq!(kind, FailureKind::JobFailed);
                "fail"
            }
        };
        assert_eq!(got, expected, "{status}");
    }
}

#[test]
fn running_hands_back_a_token_and_names_the_current_state() {
    let mut f = facts("RUNNING");
    f.current_state = Some("WaitForStack".into());
    let Report::Continue {
        token,
        summary,
        execution_arn,
    } = decide(&f, 1.0, 3, 42.5)
    else {
        panic!()
    };
    let continuation = Continuation::decode(&token).unwrap();
    assert_eq!(continuation.execution_arn, f.arn);
    // The next job follows longer, and keeps the pace of the checks.
    assert_eq!(continuation.round, 3);
    assert_eq!(continuation.next_check_at, 42.5);
    assert_eq!(execution_arn, f.arn);
    assert_eq!(summary, "run-1 RUNNING: in state 'WaitForStack'");
    assert!(token.len() <= 2048);
}

#[test]
fn success_exports_scalar_outputs_as_variables() {
    let mut f = facts("SUCCEEDED");
    f.output = Some(
        r#"{"outputs": {"Url": "https://x", "Port": 443, "Ready": true, "Nested": {"a": 1}, "bad name": "x"}, "other": 1}"#
            .into(),
    );
    let Report::Succeed {
        variables,
        summary,
        output,
        ..
    } = decide(&f, 1.0, 0, 0.0)
    else {
        panic!()
    };
    assert_eq!(variables["Url"], "https://x");
    assert_eq!(variables["Port"], "443");
    assert_eq!(variables["Ready"], "true");
    assert_eq!(variables["ExecutionArn"], f.arn);
    assert_eq!(variables["StateMachineArn"], f.state_machine_arn);
    assert!(!variables.contains_key("Nested") && !variables.contains_key("bad name"));
    assert!(
        summary.contains("'Nested'") && summary.contains("'bad name'"),
        "{summary}"
    );
    assert_eq!(output, f.output);
}

#[test]
fn outputs_named_like_the_workers_variables_do_not_replace_them() {
    let mut f = facts("SUCCEEDED");
    f.output = Some(r#"{"outputs": {"ExecutionArn": "spoofed", "Url": "u"}}"#.into());
    let Report::Succeed {
        variables, summary, ..
    } = decide(&f, 1.0, 0, 0.0)
    else {
        panic!()
    };
    assert_eq!(variables["ExecutionArn"], f.arn);
    assert!(
        summary.contains("'ExecutionArn' (set by cpsf)"),
        "{summary}"
    );
}

#[test]
fn the_summary_says_why_each_output_was_left_out() {
    let mut f = facts("SUCCEEDED");
    f.output = Some(r#"{"outputs": {"Nested": {"a": 1}, "bad name": "x", "Ok": "y"}}"#.into());
    let Report::Succeed {
        variables, summary, ..
    } = decide(&f, 1.0, 0, 0.0)
    else {
        panic!()
    };
    assert_eq!(variables["Ok"], "y");
    assert!(
        summary.ends_with(
            "; left out of the output variables: 'Nested' (not a string, number or boolean), \
             'bad name' (CodePipeline allows only A-Z a-z 0-9 @ - _ in a name)"
        ),
        "{summary}"
    );
}

#[test]
fn the_output_summary_is_shown() {
    let mut f = facts("SUCCEEDED");
    f.output = Some(r#"{"summary": "no changes", "outputs": {}}"#.into());
    let Report::Succeed { summary, .. } = decide(&f, 1.0, 0, 0.0) else {
        panic!()
    };
    assert_eq!(summary, "run-1 succeeded: no changes");
}

#[test]
fn output_variables_stay_within_the_size_limit() {
    let mut f = facts("SUCCEEDED");
    let big = "x".repeat(60_000);
    f.output = Some(serde_json::json!({"outputs": {"A": big, "B": big, "C": big}}).to_string());
    let Report::Succeed { variables, .. } = decide(&f, 1.0, 0, 0.0) else {
        panic!()
    };
    let size: usize = variables.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(size <= MAX_OUTPUT_VARIABLES_CHARS);
    assert!(
        variables.contains_key("A") && variables.contains_key("B") && !variables.contains_key("C")
    );
}

/// Issue 27: who approved, and why, reach later actions (and perhaps a
/// shell) as plain text: no control or bidirectional formatting
/// characters, whatever the execution's output carries.
#[test]
fn approval_variables_are_plain_text() {
    let mut f = facts("SUCCEEDED");
    f.output = Some(
        serde_json::json!({"approval": {
            "approved": true,
            "by": "Ann\n\u{1b}[1;31mroot",
            "comment": "ship it\r\n\u{202e}fr- mr\u{202c}",
        }})
        .to_string(),
    );
    let Report::Succeed { variables, .. } = decide(&f, 1.0, 0, 0.0) else {
        panic!()
    };
    assert_eq!(variables["ApprovedBy"], "Ann [1;31mroot");
    assert_eq!(variables["ApprovalComment"], "ship it fr- mr");
    // Nothing left after that: no variable.
    f.output =
        Some(serde_json::json!({"approval": {"by": "Ann", "comment": "\u{7}\n"}}).to_string());
    let Report::Succeed { variables, .. } = decide(&f, 1.0, 0, 0.0) else {
        panic!()
    };
    assert_eq!(variables["ApprovedBy"], "Ann");
    assert!(!variables.contains_key("ApprovalComment"));
}

#[test]
fn failure_names_state_error_and_cause() {
    let mut f = facts("FAILED");
    f.failure = FailureFacts {
        state: Some("CreateStack".into()),
        error: Some("Cpsf.StackFailed".into()),
        cause: Some("Queue: Property VisibilityTimeout must be a number".into()),
        task: None,
    };
    let Report::Fail {
        message,
        execution_arn,
        ..
    } = decide(&f, 1.0, 0, 0.0)
    else {
        panic!()
    };
    assert_eq!(
        message,
        "Execution run-1 FAILED in state 'CreateStack': Cpsf.StackFailed: Queue: Property \
         VisibilityTimeout must be a number (details: cpsf history arn:aws:states:us-east-1:1:execution:sm:run-1)"
    );
    assert_eq!(execution_arn.as_deref(), Some(f.arn.as_str()));
}

#[test]
fn a_caught_task_failure_is_named_after_the_fail_state() {
    let mut f = facts("FAILED");
    f.failure = FailureFacts {
        state: Some("CreateFailed".into()),
        error: Some("Cpsf.CreateFailed".into()),
        cause: Some("The stack could not be created.".into()),
        task: Some(TaskFailure {
            state: Some("CreateStack".into()),
            error: Some("Cpsf.TemplateInvalid".into()),
            cause: Some("Template format error: unresolved resource dependencies [Nope]".into()),
        }),
    };
    let Report::Fail { message, .. } = decide(&f, 1.0, 0, 0.0) else {
        panic!()
    };
    assert!(
        message.starts_with(
            "Execution run-1 FAILED in state 'CreateFailed': Cpsf.CreateFailed: The stack could not be created. \
             — caused by task 'CreateStack': Cpsf.TemplateInvalid: Template format error: unresolved resource dependencies [Nope]"
        ),
        "{message}"
    );
}

#[test]
fn long_failures_are_cut_cleanly_to_the_limit() {
    let mut f = facts("TIMED_OUT");
    f.failure.cause = Some("é".repeat(6000));
    let Report::Fail { message, .. } = decide(&f, 1.0, 0, 0.0) else {
        panic!()
    };
    assert_eq!(message.chars().count(), MAX_FAILURE_MESSAGE);
    assert!(message.ends_with("…[truncated]"));
}

#[test]
fn failed_checks_retry_then_fail() {
    let mut previous: Option<Continuation> = None;
    for attempt in 1..MAX_CHECK_FAILURES {
        let Report::Continue { token, summary, .. } =
            check_failed(previous.as_ref(), "arn:x", "throttled", 2.0)
        else {
            panic!("attempt {attempt} should continue");
        };
        assert!(summary.contains(&format!("attempt {attempt}")), "{summary}");
        previous = Some(Continuation::decode(&token).unwrap());
    }
    let Report::Fail { message, .. } = check_failed(previous.as_ref(), "arn:x", "throttled", 3.0)
    else {
        panic!()
    };
    assert_eq!(
        message,
        "Could not check execution arn:x 5 times in a row; last error: throttled"
    );
}

#[test]
fn foreign_tokens_are_refused_with_a_reason() {
    assert!(
        Continuation::decode("not json")
            .unwrap_err()
            .contains("not one cpsf wrote")
    );
}
