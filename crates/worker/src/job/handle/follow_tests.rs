//! Following an execution when an end event arrives: the event wakes the
//! job, and DescribeExecution, not the event, says how it ended (issue 27:
//! whoever can edit the events rule can put any event on the queue).

use super::*;
use crate::job::handle::{JobSettings, Reporter};
use crate::metrics::Metrics;
use crate::nudge::Nudges;
use crate::sfn::Sfn;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryOutput;
use aws_sdk_sfn::types::ExecutionStatus as SdkStatus;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use tokio_util::sync::CancellationToken;

const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:shop-1";
const SM: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:cpsf-deploy";

/// DescribeExecution of the execution, as it really is.
fn described(status: SdkStatus, output: Option<&str>) -> Rule {
    let output = output.map(str::to_string);
    mock!(aws_sdk_sfn::Client::describe_execution).then_output(move || {
        let ended = status != SdkStatus::Running;
        DescribeExecutionOutput::builder()
            .execution_arn(ARN)
            .state_machine_arn(SM)
            .name("shop-1")
            .status(status.clone())
            .start_date(aws_smithy_types::DateTime::from_secs(1_000))
            .set_stop_date(ended.then(|| aws_smithy_types::DateTime::from_secs(1_060)))
            .set_output(output.clone())
            .build()
            .unwrap()
    })
}

fn runner(describe: &Rule, nudges: Nudges) -> JobRunner {
    let history = mock!(aws_sdk_sfn::Client::get_execution_history).then_output(|| {
        GetExecutionHistoryOutput::builder()
            .set_events(Some(vec![]))
            .build()
            .unwrap()
    });
    let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [describe, &history]);
    let cp = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, &[]);
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    JobRunner::new(
        Reporter::new(cp),
        Sfn::new(sfn),
        sdk,
        JobSettings::default(),
        Metrics::default(),
        nudges,
        CancellationToken::new(),
    )
}

/// A SUCCEEDED event, as Step Functions shapes it, for this test's
/// execution, with the output its sender chose.
fn forged() -> String {
    use crate::events::event::tests::with;
    let event = with(
        "arn:aws:states:us-east-1:123456789012:execution:state-machine-name:execution-name",
        ARN,
    )
    .replace(
        r#""output": "\"Hello World!\"""#,
        r#""output": "{\"outputs\": {\"Url\": \"https://evil.example\"}}""#,
    );
    assert!(event.contains("evil.example") && event.contains("shop-1"));
    event
}

/// The event reaches the job as the events queue hands it over (before
/// the job follows: kept for it).
fn event_arrives(nudges: &Nudges) {
    let event = crate::events::event::parse(&forged()).unwrap();
    assert!(event.status.is_terminal());
    nudges.nudge(&event.execution_arn, Nudge::Ended);
}

/// A success event for an execution Step Functions says is running: the
/// job does not report it, and follows on.
#[tokio::test]
async fn a_success_event_for_a_running_execution_is_not_reported() {
    let nudges = Nudges::default();
    event_arrives(&nudges);
    let describe = described(SdkStatus::Running, None);
    let runner = runner(&describe, nudges);
    let report = runner
        .follow(&Job::empty(), ARN, None, Duration::from_millis(300))
        .await;
    assert!(matches!(report, Report::Continue { .. }), "{report:?}");
    assert!(describe.num_calls() >= 1);
}

/// A success event: the report's output and variables are the ones
/// DescribeExecution gives, not the event's.
#[tokio::test]
async fn a_success_is_reported_from_describe_execution_not_the_event() {
    let nudges = Nudges::default();
    event_arrives(&nudges);
    let describe = described(
        SdkStatus::Succeeded,
        Some(r#"{"outputs": {"Url": "https://shop.example"}}"#),
    );
    let runner = runner(&describe, nudges);
    let report = runner
        .follow(&Job::empty(), ARN, None, Duration::from_secs(10))
        .await;
    let Report::Succeed { variables, .. } = &report else {
        panic!("{report:?}")
    };
    assert_eq!(variables["Url"], "https://shop.example");
    assert_eq!(describe.num_calls(), 1, "one DescribeExecution confirms it");
}
