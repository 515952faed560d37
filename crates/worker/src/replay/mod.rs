//! `cpsf replay <event.json>`: runs a saved event through the same code the
//! worker runs, against whatever endpoints the environment names (the
//! playground's env file, or AWS).
//!
//! What the file holds is detected: a job as PollForJobs returns it, a
//! Lambda invoke action's `{"CodePipeline.job": ...}` event (completed by
//! `lambda.rs`), or a task handler's input (`{"deploy", "executionArn"}`;
//! `--task` names the handler when the input cannot tell). Artifact
//! credentials are never printed: only the reports are.

pub mod lambda;

use crate::aws::Clients;
use crate::job::data::Job;
use crate::job::decide::Report;
use crate::job::handle::{JobRunner, JobSettings};
use crate::job::report::Reporter;
use crate::metrics::Metrics;
use crate::sfn::Sfn;
use crate::tasks::{Handler, TaskContext};
use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What a saved event is.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A job, and what was filled in to make one of a Lambda event.
    Job {
        job: Value,
        filled: Vec<String>,
    },
    Task(Handler, String),
}

/// What `detect` needs besides the text.
#[derive(Debug, Clone)]
pub struct Hints {
    /// The handler of a task input that does not tell.
    pub task: Option<Handler>,
    /// The action type a Lambda event's job is taken for.
    pub action_type: lambda::ActionType,
}

impl Default for Hints {
    fn default() -> Self {
        Self {
            task: None,
            action_type: lambda::ActionType::cpsf(),
        }
    }
}

/// Tells what `text` holds.
pub fn detect(text: &str, hints: &Hints) -> anyhow::Result<Event> {
    let value: Value = serde_json::from_str(text).context("the event is not JSON")?;
    if let Some(job) = value.get("CodePipeline.job") {
        let mut job = job.clone();
        let filled = lambda::complete(&mut job, &hints.action_type);
        return Ok(Event::Job { job, filled });
    }
    if value.get("data").is_some() && value.get("id").is_some() {
        return Ok(Event::Job {
            job: value,
            filled: Vec::new(),
        });
    }
    if value.get("deploy").is_some() && value.get("executionArn").is_some() {
        let handler = match hints.task {
            Some(handler) => handler,
            None => infer_handler(&value["deploy"]).context(
                "this task input does not say which handler it is for: pass --task \
                 (check-stack, create-stack, update-stack, delete-stack, wait-stack)",
            )?,
        };
        return Ok(Event::Task(handler, text.to_string()));
    }
    bail!(
        "not a job (PollForJobs' {{\"id\", \"data\", …}}), a Lambda event ({{\"CodePipeline.job\": …}}) \
         or a task input ({{\"deploy\", \"executionArn\"}})"
    )
}

/// The state's own record of how far the deploy got says which task is next.
fn infer_handler(deploy: &Value) -> Option<Handler> {
    if deploy.get("operation").and_then(Value::as_str) == Some("delete") {
        return Some(if deploy.get("stackOperation").is_some() {
            Handler::WaitTeardown
        } else if deploy.pointer("/check/next").and_then(Value::as_str) == Some("delete") {
            Handler::DeleteEnvironment
        } else {
            Handler::CheckTeardown
        });
    }
    if deploy.get("stackOperation").is_some() {
        return Some(Handler::WaitStack);
    }
    match deploy.pointer("/check/next").and_then(Value::as_str) {
        None => Some(Handler::CheckStack),
        Some("create") => Some(Handler::CreateStack),
        Some("update") => Some(Handler::UpdateStack),
        Some("recreate") if deploy.get("deleted").is_none() => Some(Handler::DeleteStack),
        Some("recreate") => Some(Handler::CreateStack),
        Some(_) => None,
    }
}

/// What a replay produced, printed as JSON.
pub async fn run(clients: &Clients, event: Event, send: bool) -> anyhow::Result<Value> {
    match event {
        Event::Job { job, filled } => {
            let mut result = replay_job(clients, &job, send).await?;
            if !filled.is_empty() {
                result["filled"] = json!(filled);
            }
            Ok(result)
        }
        Event::Task(handler, input) => {
            let ctx = TaskContext::new(clients, None, Duration::from_secs(600));
            Ok(
                match handler
                    .run(&ctx, &crate::activity::lease::Lease::detached(), &input)
                    .await
                {
                    Ok(output) => {
                        json!({"handler": handler.default_activity(), "succeeded": output})
                    }
                    Err(error) => {
                        json!({"handler": handler.default_activity(), "failed": {"error": error.name, "cause": error.cause}})
                    }
                },
            )
        }
    }
}

async fn replay_job(clients: &Clients, value: &Value, send: bool) -> anyhow::Result<Value> {
    let job = Job::from_json(value)?;
    let (reporter, kept) = if send {
        (Reporter::new(clients.codepipeline.clone()), None)
    } else {
        let (reporter, kept) = Reporter::dry_run(clients.codepipeline.clone());
        (reporter, Some(kept))
    };
    let runner = JobRunner::new(
        reporter,
        Sfn::new(clients.sfn.clone()),
        clients.sdk.clone(),
        JobSettings::default(),
        Metrics::default(),
        crate::nudge::Nudges::default(),
        CancellationToken::new(),
    );
    let outcome = runner.run(job).await;
    let reports: Vec<Value> = kept
        .map(|k| {
            k.lock()
                .expect("report list lock")
                .iter()
                .map(report_json)
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({"outcome": outcome.as_str(), "sent": send, "reports": reports}))
}

/// A report as the dry run prints it: what CodePipeline would be told.
pub fn report_json(report: &Report) -> Value {
    match report {
        Report::Continue {
            token,
            summary,
            execution_arn,
        } => {
            json!({"call": "PutJobSuccessResult", "continuationToken": token, "summary": summary, "externalExecutionId": execution_arn})
        }
        Report::Succeed {
            summary,
            execution_arn,
            variables,
            ..
        } => {
            json!({"call": "PutJobSuccessResult", "summary": summary, "externalExecutionId": execution_arn, "outputVariables": variables})
        }
        Report::Fail {
            kind,
            message,
            execution_arn,
        } => {
            json!({"call": "PutJobFailureResult", "type": format!("{kind:?}"), "message": message, "externalExecutionId": execution_arn})
        }
    }
}

/// `cpsf replay --new KIND`: a template event of each kind, from test_events/.
pub fn template(kind: &str) -> anyhow::Result<String> {
    let job =
        include_str!("../../../../test_events/5-job-new--filepath-input--reports-success.json");
    Ok(match kind {
        "job" => job.to_string(),
        "continuation" => include_str!(
            "../../../../test_events/6-job-continuation--following-an-execution--reports-success.json"
        )
        .to_string(),
        "lambda-event" | "lambda" => {
            include_str!("../../../../test_events/8-job-lambda--invoke-event--reports-success.json")
                .to_string()
        }
        "check-stack" => {
            include_str!("../../../../test_events/1-task-check-stack--new-stack--next-create.json")
                .to_string()
        }
        "create-stack" => {
            include_str!("../../../../test_events/2-task-create-stack--sample-app--succeeds.json")
                .to_string()
        }
        "wait-stack" => {
            include_str!("../../../../test_events/3-task-wait-stack--after-create--stable.json")
                .to_string()
        }
        "update-stack" => {
            include_str!("../../../../test_events/4-task-update-stack--greeting-changed--changes.json")
                .to_string()
        }
        "delete-stack" => {
            include_str!("../../../../test_events/7-task-delete-stack--failed-first-create--deletes.json")
                .to_string()
        }
        other => bail!(
            "no template for '{other}': job, continuation, lambda-event, check-stack, create-stack, update-stack, delete-stack, wait-stack"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_jobs_lambda_events_and_task_inputs() {
        let job = template("job").unwrap();
        let hints = Hints::default();
        assert!(matches!(detect(&job, &hints).unwrap(), Event::Job { .. }));
        assert!(matches!(
            detect(&template("lambda-event").unwrap(), &hints).unwrap(),
            Event::Job { .. }
        ));
        for (kind, handler) in [
            ("check-stack", Handler::CheckStack),
            ("create-stack", Handler::CreateStack),
            ("update-stack", Handler::UpdateStack),
            ("delete-stack", Handler::DeleteStack),
            ("wait-stack", Handler::WaitStack),
        ] {
            let Event::Task(found, _) = detect(&template(kind).unwrap(), &hints).unwrap() else {
                panic!("{kind}")
            };
            assert_eq!(found, handler, "{kind}");
        }
        let teardown = |deploy: serde_json::Value| {
            let text = serde_json::json!({"deploy": deploy, "executionArn": "a"}).to_string();
            match detect(&text, &hints).unwrap() {
                Event::Task(found, _) => found,
                Event::Job { .. } => panic!("a task"),
            }
        };
        let delete =
            serde_json::json!({"stackName": "s", "environment": "f", "operation": "delete"});
        assert_eq!(teardown(delete.clone()), Handler::CheckTeardown);
        let mut checked = delete.clone();
        checked["check"] = serde_json::json!({"next": "delete", "stackId": "id"});
        assert_eq!(teardown(checked.clone()), Handler::DeleteEnvironment);
        checked["stackOperation"] = serde_json::json!({"startedAt": 1.0});
        assert_eq!(teardown(checked), Handler::WaitTeardown);
        assert!(
            detect("{}", &hints)
                .unwrap_err()
                .to_string()
                .contains("not a job")
        );
        let unclear =
            r#"{"deploy": {"stackName": "s", "check": {"next": "teleport"}}, "executionArn": "a"}"#;
        assert!(
            detect(unclear, &hints)
                .unwrap_err()
                .to_string()
                .contains("--task")
        );
        assert!(matches!(
            detect(
                unclear,
                &Hints {
                    task: Some(Handler::WaitStack),
                    ..Hints::default()
                }
            )
            .unwrap(),
            Event::Task(Handler::WaitStack, _)
        ));
    }

    /// A genuine Lambda event (no actionTypeId, no pipelineContext) is
    /// completed, and says what was filled in; a PollForJobs job is not.
    #[test]
    fn a_lambda_event_becomes_a_job_and_says_what_was_filled() {
        let hints = Hints::default();
        let Event::Job { job, filled } =
            detect(&template("lambda-event").unwrap(), &hints).unwrap()
        else {
            panic!()
        };
        assert_eq!(filled.len(), 2, "{filled:?}");
        assert!(Job::from_json(&job).is_ok());
        let Event::Job { filled, .. } = detect(&template("job").unwrap(), &hints).unwrap() else {
            panic!()
        };
        assert!(filled.is_empty());
    }
}
