//! Whether a checked change set waits for a person (the input's
//! `approval`, `approval::ask`) and, if so, the request CreateStack or
//! UpdateStack hands back instead of executing it: RequestApproval sends
//! it on, ExecuteChangeSet runs the change set once approved.

use super::TaskContext;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::approval::ask::{Request, asks};
use crate::base::change::Change;

/// The request for `changes` of change set `change_set`, or None when
/// the deploy goes on without asking.
pub fn request(
    ctx: &TaskContext,
    input: &TaskInput,
    change_set: &str,
    changes: &[Change],
) -> Result<Option<Request>, TaskError> {
    let approval = input.approval()?;
    if !asks(approval.as_ref(), changes) {
        return Ok(None);
    }
    let Some(approval) = approval else {
        return Ok(None);
    };
    Ok(Some(request_of(ctx, input, &approval, change_set, changes)))
}

fn request_of(
    ctx: &TaskContext,
    input: &TaskInput,
    approval: &crate::approval::spec::Approval,
    change_set: &str,
    changes: &[Change],
) -> Request {
    let place = match &input.deploy.target {
        Some(target) => match &target.account {
            Some(account) => format!("{} ({}, account {account})", target.name, target.region),
            None => format!("{} ({})", target.name, target.region),
        },
        None => ctx
            .reach
            .base()
            .region()
            .map_or_else(|| "the worker's region".to_string(), |r| r.to_string()),
    };
    let pipeline = input
        .deploy
        .pipeline
        .as_ref()
        .and_then(|p| p.pipeline_name.clone());
    Request::new(
        approval,
        &input.deploy.stack_name,
        change_set,
        place,
        pipeline,
        changes,
    )
    // Asked late in the execution (retries, a DeleteFailedStack), it still
    // ends before the execution does (`approval::deadline`).
    .end_within(input.clock.seconds_left(crate::base::clock::epoch_now()))
}

/// The request with the template diff of an update, when small: the
/// stack's running template (GetTemplate, Original: as submitted, API
/// reference) against the revision's (`revision`, when the task read it
/// already). Best effort: without it the page still lists every change.
pub async fn with_diff(
    ctx: &TaskContext,
    input: &TaskInput,
    mut request: Request,
    revision: Option<String>,
) -> Request {
    let running = ctx
        .cfn
        .get_template()
        .stack_name(&input.deploy.stack_name)
        .template_stage(aws_sdk_cloudformation::types::TemplateStage::Original)
        .send()
        .await
        .ok()
        .and_then(|t| t.template_body);
    let Some(running) = running else {
        return request;
    };
    let revision = match revision {
        Some(body) => Ok(body),
        None => ctx.templates.read_body(input).await,
    };
    if let Ok(revision) = revision {
        request.template_diff = crate::approval::diff::small(&running, &revision);
    }
    request
}

/// The stage that plans a rollout target's change set for its wave's one
/// decision (`targets::rollout`).
pub const PLAN: &str = "plan";

/// Whether this deploy only plans: it makes its change set and hands back
/// what a wave's decision shows, executing nothing.
pub fn plans(input: &TaskInput) -> bool {
    input.deploy.stage.as_deref() == Some(PLAN)
}

/// A planned target's request (whether or not it asks alone) and whether
/// it asks; [`planned_output`] is what the task hands back.
pub fn planned(
    ctx: &TaskContext,
    input: &TaskInput,
    change_set: &str,
    changes: &[Change],
) -> Result<(Request, bool), TaskError> {
    let approval = input.approval()?.ok_or_else(|| {
        TaskError::input("a planning deploy carries its rollout's approval; this one has none")
    })?;
    let asks = crate::approval::ask::asks(Some(&approval), changes);
    Ok((request_of(ctx, input, &approval, change_set, changes), asks))
}

/// `$.stackOperation.planned`, which GatherWave reads.
pub fn planned_output(request: &Request, asks: bool) -> serde_json::Value {
    serde_json::json!({"request": request, "asks": asks})
}

/// Whether CreateStack must make a change set rather than call CreateStack:
/// a person is asked before every change (`when: always`), and only a
/// change set shows what a create will make.
pub fn create_asks(input: &TaskInput) -> Result<bool, TaskError> {
    Ok(plans(input)
        || input
            .approval()?
            .is_some_and(|a| a.when == crate::approval::spec::When::Always))
}
