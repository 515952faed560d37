//! Step Functions at the edge: start an execution, describe it, read the
//! newest history, and turn the answers into plain facts for `job::decide`.

use crate::aws::CallContext;
use crate::execution::{ExecutionFacts, ExecutionStatus, FailureFacts};
use crate::history::event::Event;
use crate::history::failure::read_newest;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use std::sync::Arc;
use tokio::sync::Semaphore;

mod classify;
pub use classify::{ErrorClass, class_of, classify};

/// How many history pages (newest first) are read to explain a failure.
const FAILURE_PAGES: usize = 3;
const PAGE_SIZE: i32 = 100;

/// Why an execution could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The action's configuration points at something wrong.
    #[error("{0}")]
    Configuration(String),
    /// The input was refused.
    #[error("{0}")]
    Input(String),
    /// The worker's role may not start it (`classify.rs` says which errors).
    #[error("{0}")]
    Permission(String),
    /// Throttled, a 5xx, or no answer, after the SDK's retries: nothing is
    /// wrong with the job, and starting it again later is safe (the name is
    /// the job's, so a second start is the same execution).
    #[error("could not start the execution for now: {0}")]
    Transient(String),
    #[error("could not start the execution: {0}")]
    Other(String),
}

#[derive(Debug, thiserror::Error)]
pub enum DescribeError {
    /// The execution is not there: following it is pointless.
    #[error("{0}")]
    Gone(String),
    /// Anything else, after the SDK's retries: worth trying again later.
    #[error("{0}")]
    Other(String),
}

/// What DescribeExecution says, in plain types.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    pub arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub status: ExecutionStatus,
    pub output: Option<String>,
    /// The execution's input (a rollout's says where its targets are).
    pub input: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// Seconds since the epoch when it started.
    pub start_date: Option<f64>,
    /// Seconds since the epoch when it stopped, if it has.
    pub stop_date: Option<f64>,
}

impl Described {
    /// Facts from the description alone, without the history's detail.
    pub fn into_facts(self) -> ExecutionFacts {
        let failure = FailureFacts {
            state: None,
            error: self.error,
            cause: self.cause,
            task: None,
        };
        ExecutionFacts {
            arn: self.arn,
            name: self.name,
            state_machine_arn: self.state_machine_arn,
            status: self.status,
            output: self.output,
            current_state: None,
            progress: None,
            canary: None,
            failure,
        }
    }
}

/// DescribeExecution calls in flight at once, across every job. Jobs that
/// check in the same instant would otherwise open a connection each, and
/// every idle connection the pool keeps costs ~30 KB (more with TLS): with
/// a thousand jobs in flight that was most of the worker's memory
/// (bench/results). Checks take milliseconds, so queueing costs little.
const CONCURRENT_CHECKS: usize = 8;

#[derive(Clone)]
pub struct Sfn {
    client: Client,
    checks: Arc<Semaphore>,
}

impl Sfn {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            checks: Arc::new(Semaphore::new(CONCURRENT_CHECKS)),
        }
    }

    /// Starts `name` and returns its ARN. An execution of that name that
    /// already exists is ours (names are one per action execution): its ARN
    /// is returned and the caller carries on following it.
    pub async fn start(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<String, StartError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await;
        let error = match result {
            Ok(output) => return Ok(output.execution_arn().to_string()),
            Err(e) => e,
        };
        let class = class_of(&error);
        let error = error.into_service_error();
        let message = error.message().unwrap_or_default().to_string();
        match error {
            StartExecutionError::ExecutionAlreadyExists(_) => {
                // Ours if it was started with our input: a job's input is a
                // pure function of the job, so a redelivery matches exactly.
                let arn = execution_arn(state_machine_arn, name);
                let existing = self
                    .client
                    .describe_execution()
                    .execution_arn(&arn)
                    .send()
                    .await
                    .map_err(|e| {
                        let class = class_of(&e);
                        start_error(
                            class,
                            format!("DescribeExecution {arn}: {}", DisplayErrorContext(e)),
                        )
                    })?;
                if existing.input() == Some(input) {
                    Ok(arn)
                } else {
                    Err(StartError::Input(format!(
                        "an execution named {name} already exists with a different input: another job's. \
                         Give this action its own ExecutionNamePrefix"
                    )))
                }
            }
            StartExecutionError::StateMachineDoesNotExist(_) => {
                Err(StartError::Configuration(format!(
                    "StateMachineArn {state_machine_arn} does not exist (or this worker's role cannot see it): {message}"
                )))
            }
            StartExecutionError::InvalidArn(_) => Err(StartError::Configuration(format!(
                "StateMachineArn {state_machine_arn} is not a valid ARN: {message}"
            ))),
            StartExecutionError::StateMachineDeleting(_) => Err(StartError::Configuration(
                format!("StateMachineArn {state_machine_arn} is being deleted"),
            )),
            StartExecutionError::InvalidExecutionInput(_) => Err(StartError::Input(format!(
                "Step Functions refused the input: {message}"
            ))),
            other => Err(start_error(
                class,
                format!(
                    "StartExecution {state_machine_arn}: {}",
                    DisplayErrorContext(other)
                ),
            )),
        }
    }

    pub async fn describe(&self, arn: &str) -> Result<Described, DescribeError> {
        let _permit = self
            .checks
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let output = self
            .client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| match e.into_service_error() {
                DescribeExecutionError::ExecutionDoesNotExist(_)
                | DescribeExecutionError::InvalidArn(_) => {
                    DescribeError::Gone(format!("execution {arn} does not exist (was it deleted?)"))
                }
                other => DescribeError::Other(format!(
                    "DescribeExecution {arn}: {}",
                    DisplayErrorContext(other)
                )),
            })?;
        Ok(Described {
            arn: output.execution_arn().to_string(),
            name: output.name().unwrap_or_default().to_string(),
            state_machine_arn: output.state_machine_arn().to_string(),
            status: ExecutionStatus::parse(output.status().as_str()),
            output: output.output().map(str::to_string),
            input: output.input().map(str::to_string),
            error: output.error().map(str::to_string),
            cause: output.cause().map(str::to_string),
            start_date: Some(output.start_date().as_secs_f64()),
            stop_date: output.stop_date().map(|d| d.as_secs_f64()),
        })
    }

    /// Facts for the decision: what DescribeExecution said plus, from the
    /// newest history, the current state and (if it failed) why.
    pub async fn facts(&self, described: Described) -> anyhow::Result<ExecutionFacts> {
        // A success is reported from its output alone: no history needed.
        if described.status == ExecutionStatus::Succeeded {
            return Ok(described.into_facts());
        }
        let failed = described.status.is_terminal();
        let pages = if failed { FAILURE_PAGES } else { 1 };
        let events = self.newest_events(&described.arn, pages).await?;
        let reading = read_newest(&events);
        let mut facts = described.into_facts();
        facts.current_state = reading.state;
        facts.progress = reading.progress;
        facts.canary = reading.canary;
        if failed {
            // DescribeExecution's own error and cause are the verdict; the
            // history adds the state, and fills in what is missing.
            let failure = &mut facts.failure;
            failure.state = reading.failure.state;
            failure.error = failure.error.take().or(reading.failure.error);
            failure.cause = failure.cause.take().or(reading.failure.cause);
            failure.task = reading.failure.task;
        } else {
            facts.failure = FailureFacts::default();
        }
        Ok(facts)
    }

    async fn newest_events(&self, arn: &str, pages: usize) -> anyhow::Result<Vec<Event>> {
        let mut events = Vec::new();
        let mut token = None;
        for _ in 0..pages {
            let page = self
                .client
                .get_execution_history()
                .execution_arn(arn)
                .reverse_order(true)
                .max_results(PAGE_SIZE)
                .set_next_token(token)
                .send()
                .await
                .call_context(format!("GetExecutionHistory {arn}"))?;
            events.extend(page.events().iter().map(Event::from_sdk));
            token = page.next_token().map(str::to_string);
            if token.is_none() || read_newest(&events).state.is_some() {
                break;
            }
        }
        Ok(events)
    }
}

/// The error for a start that failed in a way `classify.rs` sorts.
fn start_error(class: ErrorClass, message: String) -> StartError {
    match class {
        ErrorClass::Permission => StartError::Permission(format!(
            "this worker's role may not start the execution: {message}"
        )),
        ErrorClass::Transient => StartError::Transient(message),
        ErrorClass::Other => StartError::Other(message),
    }
}

/// `arn:aws:states:r:a:stateMachine:sm` + `name` → `arn:aws:states:r:a:execution:sm:name`.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    let base = state_machine_arn.replacen(":stateMachine:", ":execution:", 1);
    format!("{base}:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn execution_arns_follow_the_state_machine_arn() {
        assert_eq!(
            execution_arn("arn:aws:states:us-east-1:1:stateMachine:deploy", "run-1"),
            "arn:aws:states:us-east-1:1:execution:deploy:run-1"
        );
    }

    mod adapters {
        use super::super::*;
        use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
        use aws_sdk_sfn::operation::start_execution::StartExecutionOutput;
        use aws_sdk_sfn::types::error::{
            ExecutionAlreadyExists, ExecutionDoesNotExist, StateMachineDoesNotExist,
        };
        use aws_smithy_mocks::{mock, mock_client};

        const SM: &str = "arn:aws:states:us-east-1:1:stateMachine:deploy";

        #[tokio::test]
        async fn start_sends_name_and_input_and_returns_the_arn() {
            let rule = mock!(Client::start_execution)
                .match_requests(|r| {
                    r.name() == Some("run-1")
                        && r.input() == Some("{}")
                        && r.state_machine_arn() == Some(SM)
                })
                .then_output(|| {
                    StartExecutionOutput::builder()
                        .execution_arn("arn:new")
                        .start_date(aws_smithy_types::DateTime::from_secs(0))
                        .build()
                        .unwrap()
                });
            let sfn = Sfn::new(mock_client!(aws_sdk_sfn, [&rule]));
            assert_eq!(sfn.start(SM, "run-1", "{}").await.unwrap(), "arn:new");
            assert_eq!(rule.num_calls(), 1);
        }

        fn existing(input: &'static str) -> aws_smithy_mocks::Rule {
            mock!(Client::describe_execution)
                .match_requests(|r| {
                    r.execution_arn() == Some("arn:aws:states:us-east-1:1:execution:deploy:run-1")
                })
                .then_output(move || {
                    DescribeExecutionOutput::builder()
                        .execution_arn("arn:aws:states:us-east-1:1:execution:deploy:run-1")
                        .state_machine_arn(SM)
                        .status(aws_sdk_sfn::types::ExecutionStatus::Running)
                        .input(input)
                        .start_date(aws_smithy_types::DateTime::from_secs(0))
                        .build()
                        .unwrap()
                })
        }

        #[tokio::test]
        async fn an_existing_execution_with_our_input_is_ours_and_another_is_a_collision() {
            let exists = mock!(Client::start_execution).then_error(|| {
                StartExecutionError::ExecutionAlreadyExists(
                    ExecutionAlreadyExists::builder().message("exists").build(),
                )
            });
            let ours = existing("{\"a\":1}");
            let sfn = Sfn::new(mock_client!(
                aws_sdk_sfn,
                aws_smithy_mocks::RuleMode::MatchAny,
                [&exists, &ours]
            ));
            let arn = sfn.start(SM, "run-1", "{\"a\":1}").await.unwrap();
            assert_eq!(arn, "arn:aws:states:us-east-1:1:execution:deploy:run-1");
            let error = sfn.start(SM, "run-1", "{\"a\":2}").await.unwrap_err();
            assert!(matches!(error, StartError::Input(_)));
            assert!(
                error
                    .to_string()
                    .contains("already exists with a different input"),
                "{error}"
            );
        }

        #[tokio::test]
        async fn a_throttled_look_at_an_existing_execution_is_transient() {
            let exists = mock!(Client::start_execution).then_error(|| {
                StartExecutionError::ExecutionAlreadyExists(
                    ExecutionAlreadyExists::builder().message("exists").build(),
                )
            });
            let throttled = mock!(Client::describe_execution)
                .sequence()
                .http_status(
                    400,
                    Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()),
                )
                .repeatedly()
                .build();
            let sfn = Sfn::new(mock_client!(
                aws_sdk_sfn,
                aws_smithy_mocks::RuleMode::MatchAny,
                [&exists, &throttled]
            ));
            let error = sfn.start(SM, "run-1", "{}").await.unwrap_err();
            assert!(matches!(error, StartError::Transient(_)), "{error:?}");
        }

        #[tokio::test]
        async fn a_missing_state_machine_is_a_configuration_error() {
            let rule = mock!(Client::start_execution).then_error(|| {
                StartExecutionError::StateMachineDoesNotExist(
                    StateMachineDoesNotExist::builder().message("nope").build(),
                )
            });
            let sfn = Sfn::new(mock_client!(aws_sdk_sfn, [&rule]));
            let error = sfn.start(SM, "run-1", "{}").await.unwrap_err();
            assert!(matches!(error, StartError::Configuration(_)));
            assert!(
                error
                    .to_string()
                    .contains(&format!("StateMachineArn {SM} does not exist")),
                "{error}"
            );
        }

        #[tokio::test]
        async fn describe_reads_status_and_a_missing_execution_is_gone() {
            let ok = mock!(Client::describe_execution)
                .match_requests(|r| r.execution_arn() == Some("arn:ok"))
                .then_output(|| {
                    DescribeExecutionOutput::builder()
                        .execution_arn("arn:ok")
                        .state_machine_arn(SM)
                        .name("run-1")
                        .status(aws_sdk_sfn::types::ExecutionStatus::Succeeded)
                        .output("{}")
                        .start_date(aws_smithy_types::DateTime::from_secs(0))
                        .stop_date(aws_smithy_types::DateTime::from_secs(10))
                        .build()
                        .unwrap()
                });
            let gone = mock!(Client::describe_execution).then_error(|| {
                DescribeExecutionError::ExecutionDoesNotExist(
                    ExecutionDoesNotExist::builder().build(),
                )
            });
            let sfn = Sfn::new(mock_client!(
                aws_sdk_sfn,
                aws_smithy_mocks::RuleMode::MatchAny,
                [&ok, &gone]
            ));
            let described = sfn.describe("arn:ok").await.unwrap();
            assert_eq!(
                (described.status, described.stop_date),
                (ExecutionStatus::Succeeded, Some(10.0))
            );
            assert!(matches!(
                sfn.describe("arn:gone").await,
                Err(DescribeError::Gone(_))
            ));
        }
    }
}
