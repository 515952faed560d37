//! One decision, kept and answered to Step Functions: the decision is
//! written first, only if none is there (`store.rs`), so the page, a
//! replayed POST, `cpsf approve` and the timeout sweep can race and only
//! one answers the task. Approval is SendTaskSuccess with the decision as
//! the task's output (`$.decision`); rejection and timeout are
//! SendTaskFailure with [`REJECTED`] or [`TIMED_OUT`] (Step Functions API
//! reference). Nothing else is called with the task token.
//!
//! A kept decision is never taken back. A 5xx, a timeout or a lost
//! connection leaves it unknown whether Step Functions took the answer;
//! had the decision been deleted, a contradicting one could follow and
//! the store would say what Step Functions never heard (issue 27). So it
//! stays, unconfirmed, and only the same decision may follow: it sends
//! the kept answer again, which Step Functions takes or says is closed.
//! A refusal (denied, throttled) keeps it the same way: the person
//! decided, and may send it again once the cause is fixed.
//!
//! When Step Functions says the task is closed (API reference,
//! SendTaskSuccess and SendTaskFailure errors: `TaskTimedOut`, "the task
//! token has either expired or the task associated with the token has
//! already been closed"; `TaskDoesNotExist`; `InvalidToken`), the person
//! is told what DescribeExecution says of the execution, not a guess.

use super::store::{Decision, Kept, Record, Sent, Store};
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata};
use serde_json::json;

/// The error a rejected approval's task fails with.
pub const REJECTED: &str = "Cpsf.Rejected";
/// The error the worker fails a task with when its approval's time is up
/// (the state machine's own timeout says `States.Timeout`).
pub const TIMED_OUT: &str = "Cpsf.ApprovalTimedOut";
/// Longest name and comment kept (SendTaskFailure's cause takes 32,768;
/// the pipeline's failure message 5,000).
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_COMMENT_CHARS: usize = 1000;
/// Longest execution cause quoted to the person.
const MAX_CAUSE_CHARS: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// This decision (or the kept one it repeated) answered the task.
    Answered(Decision),
    /// Another decision is kept; nothing was sent.
    AlreadyDecided(Kept),
    /// The task had closed (timed out, or its execution stopped): what the
    /// execution says. The decision is kept, and changed nothing.
    TaskEnded(String),
    /// The decision is kept, and Step Functions did not confirm it
    /// (`error`): the same decision may be sent again.
    Unconfirmed { decision: Decision, error: String },
}

/// "approved by Ann: ship it", from the task output an approval gave
/// (`$.decision`: a [`Decision`]), or None for anything else.
pub fn said(output: &serde_json::Value) -> Option<String> {
    serde_json::from_value::<Decision>(output.clone())
        .ok()
        .map(|d| d.said())
}

/// Whether `made` sends the `kept` decision again (pure): only while Step
/// Functions has not confirmed it, and only if it says the same (approve
/// or reject; a person's rejection and the timeout are not the same).
pub fn sends_again(kept: &Kept, made: &Decision) -> bool {
    let timeout = |d: &Decision| d.via == "timeout";
    kept.sent == Sent::Unconfirmed
        && kept.decision.approved == made.approved
        && timeout(&kept.decision) == timeout(made)
}

/// What DescribeExecution says of an execution whose task was closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    /// DescribeExecution's status: RUNNING, SUCCEEDED, FAILED, …
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// What the person is told when Step Functions says the task is closed
/// (pure), from what DescribeExecution said of its execution (or why it
/// could not say). `again`: the decision was sent before (a retry), so
/// that first sending may be what closed it.
pub fn closed_task(execution: &Result<Ending, String>, decision: &Decision, again: bool) -> String {
    let ending = match execution {
        Err(why) => {
            return format!(
                "Step Functions no longer waits for this approval, and its execution could not be looked at ({why})."
            );
        }
        Ok(ending) => ending,
    };
    if ending.status == "RUNNING" {
        return if again {
            format!(
                "Step Functions no longer waits for this approval, and its execution is still running: \
                 the decision kept here ({}) was taken when first sent, or the approval's time ran out first.",
                decision.said()
            )
        } else {
            "The approval's time ran out before this decision: Step Functions no longer waits for it, \
             and the execution goes on without it."
                .into()
        };
    }
    let detail = match (&ending.error, &ending.cause) {
        (Some(error), Some(cause)) => format!(
            " ({error}: {})",
            crate::base::text::cut(cause, MAX_CAUSE_CHARS)
        ),
        (Some(error), None) => format!(" ({error})"),
        (None, _) => String::new(),
    };
    format!("The execution already ended {}{detail}.", ending.status)
}

/// Keeps `made` for `record` unless a decision is kept, then answers its
/// task; an unconfirmed kept decision that says the same is sent again.
pub async fn apply(
    store: &Store,
    sfn: &aws_sdk_sfn::Client,
    record: &Record,
    made: Decision,
) -> anyhow::Result<Outcome> {
    let (decision, again) = match store.decide(&record.id, &made).await? {
        Ok(()) => (made, false),
        Err(kept) if sends_again(&kept, &made) => (kept.decision, true),
        Err(kept) => return Ok(Outcome::AlreadyDecided(kept)),
    };
    let settle = |sent: Sent| Kept {
        decision: decision.clone(),
        sent,
    };
    match send(sfn, record, &decision).await {
        Ok(()) => {
            store.settle(&record.id, &settle(Sent::Taken)).await;
            Ok(Outcome::Answered(decision))
        }
        Err(Failed { closed: true, .. }) => {
            let what = closed_task(
                &describe(sfn, &record.execution_arn).await,
                &decision,
                again,
            );
            // A first sending that found the task closed changed nothing.
            // A repeated one may have met its own first sending: the note
            // stays unconfirmed rather than say what is not known.
            if !again {
                store
                    .settle(&record.id, &settle(Sent::Ended(what.clone())))
                    .await;
            }
            Ok(Outcome::TaskEnded(what))
        }
        Err(Failed { error, .. }) => Ok(Outcome::Unconfirmed { decision, error }),
    }
}

/// The errors by which Step Functions says a task no longer takes an
/// answer (API reference, SendTaskSuccess and SendTaskFailure, "Errors").
const CLOSED: [&str; 3] = ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"];

/// Why an answer was not taken: the task was closed ([`CLOSED`]), or it is
/// not known whether Step Functions took it.
struct Failed {
    closed: bool,
    error: String,
}

/// Answers `record`'s task with `decision`.
async fn send(
    sfn: &aws_sdk_sfn::Client,
    record: &Record,
    decision: &Decision,
) -> Result<(), Failed> {
    fn failed<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
        e: aws_sdk_sfn::error::SdkError<E, R>,
    ) -> Failed {
        Failed {
            closed: e.code().is_some_and(|code| CLOSED.contains(&code)),
            error: DisplayErrorContext(e).to_string(),
        }
    }
    let token = &record.task_token;
    // Sent once: the SDK's retry of an answer whose connection was lost
    // would meet the task its first attempt closed, and say "closed" for a
    // decision that was taken. A failure is the person's to retry (it is
    // kept), and a retry is known as one (`again`).
    let once = aws_sdk_sfn::config::Builder::default()
        .retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled());
    if decision.approved {
        let output = json!({
            "approved": true, "by": decision.by, "comment": decision.comment,
            "at": decision.at, "via": decision.via,
        });
        sfn.send_task_success()
            .task_token(token)
            .output(output.to_string())
            .customize()
            .config_override(once)
            .send()
            .await
            .map(|_| ())
            .map_err(failed)
    } else {
        let (error, cause) = if decision.via == "timeout" {
            (
                TIMED_OUT,
                format!(
                    "approval timed out after {} minutes",
                    record.request.timeout_minutes
                ),
            )
        } else {
            (REJECTED, decision.said())
        };
        sfn.send_task_failure()
            .task_token(token)
            .error(error)
            .cause(cause)
            .customize()
            .config_override(once)
            .send()
            .await
            .map(|_| ())
            .map_err(failed)
    }
}

/// What DescribeExecution says of `execution_arn` (the worker role's
/// FollowOwnExecutions grant covers the deploy's executions).
async fn describe(sfn: &aws_sdk_sfn::Client, execution_arn: &str) -> Result<Ending, String> {
    let described = sfn
        .describe_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .map_err(|e| DisplayErrorContext(e).to_string())?;
    Ok(Ending {
        status: described.status().as_str().to_string(),
        error: described.error().map(str::to_string),
        cause: described.cause().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::store::tests::{Objects, memory_s3, record};
    use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
    use aws_sdk_sfn::operation::send_task_failure::SendTaskFailureOutput;
    use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessOutput;
    use aws_sdk_sfn::types::ExecutionStatus;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:shop-1";

    fn made(approved: bool, by: &str) -> Decision {
        Decision {
            approved,
            by: by.into(),
            comment: String::new(),
            at: 1,
            via: "page".into(),
        }
    }

    /// Step Functions answers every SendTaskSuccess with `status` and
    /// `body` (an AWS JSON 1.0 error body).
    fn success_answers(status: u16, body: &str) -> Rule {
        mock!(aws_sdk_sfn::Client::send_task_success)
            .sequence()
            .http_status(status, Some(body.to_string()))
            .repeatedly()
            .build()
    }

    /// The SDK's own retries are not what is tested: each call is one answer.
    fn sfn(rules: &[&Rule]) -> aws_sdk_sfn::Client {
        mock_client!(aws_sdk_sfn, RuleMode::MatchAny, rules, |c| c
            .retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled()))
    }

    fn kept(objects: &Objects) -> Option<serde_json::Value> {
        let objects = objects.lock().unwrap();
        let body = objects.get("approvals/a1.decision.json")?;
        Some(serde_json::from_slice(body).unwrap())
    }

    const INTERNAL_FAILURE: &str = r#"{"__type":"com.amazon.coral.service#InternalFailure","message":"An internal error occurred"}"#;

    /// Ann approves, and Step Functions answers 500: it may have taken the
    /// approval or not. Her decision stays kept: Rita's rejection after it
    /// is refused (no SendTaskFailure), and Bob's approval sends Ann's
    /// SendTaskSuccess again, which answers the task.
    #[tokio::test]
    async fn an_unconfirmed_decision_is_kept_and_only_the_same_may_follow() {
        let (s3, objects) = memory_s3();
        let store = Store::new(s3, "s3://approvals").unwrap();
        let record = record("a1", ARN);
        let failing = success_answers(500, INTERNAL_FAILURE);
        let rejection = mock!(aws_sdk_sfn::Client::send_task_failure)
            .then_output(|| SendTaskFailureOutput::builder().build());
        let first = apply(
            &store,
            &sfn(&[&failing, &rejection]),
            &record,
            made(true, "Ann"),
        )
        .await;
        assert!(kept(&objects).is_some(), "the decision is kept: {first:?}");
        let Ok(Outcome::Unconfirmed { decision, error }) = first else {
            panic!("{first:?}")
        };
        assert_eq!(decision, made(true, "Ann"));
        assert!(error.contains("An internal error occurred"), "{error}");
        let refused = apply(
            &store,
            &sfn(&[&failing, &rejection]),
            &record,
            made(false, "Rita"),
        )
        .await;
        let Ok(Outcome::AlreadyDecided(first)) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(
            first.said(),
            "approved by Ann; Step Functions has not confirmed it yet"
        );
        assert_eq!(
            rejection.num_calls(),
            0,
            "a contradicting decision was sent"
        );
        let outputs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = outputs.clone();
        let success = mock!(aws_sdk_sfn::Client::send_task_success)
            .match_requests(move |r| {
                seen.lock()
                    .unwrap()
                    .push(r.output().unwrap_or_default().to_string());
                true
            })
            .then_output(|| SendTaskSuccessOutput::builder().build());
        let again = apply(&store, &sfn(&[&success]), &record, made(true, "Bob"))
            .await
            .unwrap();
        assert_eq!(again, Outcome::Answered(made(true, "Ann")));
        let sent: serde_json::Value = serde_json::from_str(&outputs.lock().unwrap()[0]).unwrap();
        assert_eq!(sent["by"], "Ann", "the kept decision is what is sent again");
        assert_eq!(kept(&objects).unwrap()["sent"], "taken");
    }

    /// The SDK does not send an answer again by itself: had the first
    /// attempt been taken, the second would find the task closed and the
    /// person would be told so of a decision that went through.
    #[tokio::test]
    async fn an_answer_is_sent_once_per_decision() {
        let (s3, _) = memory_s3();
        let store = Store::new(s3, "s3://approvals").unwrap();
        let flaky = mock!(aws_sdk_sfn::Client::send_task_success)
            .sequence()
            .http_status(500, Some(INTERNAL_FAILURE.to_string()))
            .output(|| SendTaskSuccessOutput::builder().build())
            .build();
        // The client's own retry settings: the SDK's standard ones.
        let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&flaky]);
        let outcome = apply(&store, &sfn, &record("a1", ARN), made(true, "Ann"))
            .await
            .unwrap();
        assert!(
            matches!(outcome, Outcome::Unconfirmed { .. }),
            "{outcome:?}"
        );
        assert_eq!(flaky.num_calls(), 1);
    }

    #[test]
    fn only_the_same_unconfirmed_decision_is_sent_again() {
        let kept = |sent: Sent| Kept {
            decision: made(false, "Rita"),
            sent,
        };
        let timeout = Decision {
            via: "timeout".into(),
            ..made(false, "timeout")
        };
        assert!(sends_again(&kept(Sent::Unconfirmed), &made(false, "Bob")));
        assert!(!sends_again(&kept(Sent::Unconfirmed), &made(true, "Bob")));
        assert!(!sends_again(&kept(Sent::Unconfirmed), &timeout));
        assert!(!sends_again(&kept(Sent::Taken), &made(false, "Bob")));
        assert!(!sends_again(
            &kept(Sent::Ended("x".into())),
            &made(false, "Bob")
        ));
    }

    #[test]
    fn a_closed_task_is_told_from_what_its_execution_says() {
        let ending = |status: &str, error: Option<&str>, cause: Option<&str>| {
            Ok(Ending {
                status: status.into(),
                error: error.map(str::to_string),
                cause: cause.map(str::to_string),
            })
        };
        let ann = made(true, "Ann");
        assert_eq!(
            closed_task(&ending("RUNNING", None, None), &ann, false),
            "The approval's time ran out before this decision: Step Functions no longer waits for it, \
             and the execution goes on without it."
        );
        let again = closed_task(&ending("RUNNING", None, None), &ann, true);
        assert!(
            again.contains("the decision kept here (approved by Ann) was taken when first sent, or the approval's time ran out first"),
            "{again}"
        );
        assert_eq!(
            closed_task(&ending("ABORTED", None, None), &ann, true),
            "The execution already ended ABORTED."
        );
        let long = "x".repeat(1000);
        let failed = closed_task(
            &ending("FAILED", Some("States.Timeout"), Some(&long)),
            &ann,
            false,
        );
        assert!(
            failed.starts_with("The execution already ended FAILED (States.Timeout: xxx"),
            "{failed}"
        );
        assert!(failed.chars().count() < 400, "the cause is cut: {failed}");
        let unknown = closed_task(&Err("AccessDeniedException: no".into()), &ann, false);
        assert!(
            unknown.contains("could not be looked at (AccessDeniedException: no)"),
            "{unknown}"
        );
    }

    /// What AWS answers SendTaskSuccess for a task that is closed (API
    /// reference, SendTaskSuccess errors: TaskTimedOut, "the task token has
    /// either expired or the task associated with the token has already
    /// been closed").
    const TASK_TIMED_OUT: &str = r#"{"__type":"com.amazonaws.swf.service.v2.model#TaskTimedOut","message":"Task Timed Out: 'Provided task does not exist anymore'"}"#;

    fn described(status: ExecutionStatus, error: Option<&str>) -> Rule {
        let error = error.map(str::to_string);
        mock!(aws_sdk_sfn::Client::describe_execution).then_output(move || {
            DescribeExecutionOutput::builder()
                .execution_arn(ARN)
                .state_machine_arn("arn:aws:states:us-east-1:123456789012:stateMachine:cpsf-deploy")
                .status(status.clone())
                .start_date(aws_smithy_types::DateTime::from_secs(1))
                .stop_date(aws_smithy_types::DateTime::from_secs(2))
                .set_error(error.clone())
                .cause("the approval was not answered in time")
                .build()
                .unwrap()
        })
    }

    /// The task closed before the decision: the person is told what the
    /// execution says (it ended, and how), not a guess.
    #[tokio::test]
    async fn a_closed_task_is_explained_from_its_execution() {
        let (s3, objects) = memory_s3();
        let store = Store::new(s3, "s3://approvals").unwrap();
        let closed = success_answers(400, TASK_TIMED_OUT);
        let describe = described(ExecutionStatus::Failed, Some("Cpsf.ApprovalTimedOut"));
        let outcome = apply(
            &store,
            &sfn(&[&closed, &describe]),
            &record("a1", ARN),
            made(true, "Ann"),
        )
        .await
        .unwrap();
        assert_eq!(describe.num_calls(), 1);
        let Outcome::TaskEnded(said) = outcome else {
            panic!("{outcome:?}")
        };
        assert!(
            said.contains("ended FAILED") && said.contains("Cpsf.ApprovalTimedOut"),
            "{said}"
        );
        let noted = kept(&objects).unwrap();
        assert_eq!(noted["sent"]["ended"], said.as_str(), "{noted}");
    }
}
