//! Whether a checked change set waits for a person (the input's
//! `approval`, `approval::ask`) and, if so, the request CreateStack or
//! UpdateStack hands back instead of executing it: RequestApproval sends
//! it on, ExecuteChangeSet runs the change set once approved.

use super::TaskContext;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::approval::ask::{Request, asks};
use crate::approval::spec::{Approval, ReviewUrl, check_url};
use crate::base::change::Change;
use crate::cloudformation::{change_set, outputs};

/// The request for `changes` of change set `change_set`, or None when
/// the deploy goes on without asking.
pub async fn request(
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
    let request = request_of(ctx, input, &approval, change_set, changes);
    Ok(Some(
        with_review_url(ctx, input, &approval, request, change_set).await?,
    ))
}

/// The request with its review URL read, when the input's `reviewUrl`
/// names another stack's output: read where the deploy goes, on the
/// client the task deploys with (`cloudformation::outputs`), as a
/// parameter's reference is, and checked as a literal is
/// (`approval::spec::check_url`). A stack, output or URL that will not do
/// fails the deploy before anyone is asked (Cpsf.OutputMissing,
/// Cpsf.Denied, Cpsf.ReviewUrl), its change set deleted: nothing changes.
async fn with_review_url(
    ctx: &TaskContext,
    input: &TaskInput,
    approval: &Approval,
    mut request: Request,
    change_set: &str,
) -> Result<Request, TaskError> {
    let Some(ReviewUrl::FromStack(reference)) = &approval.review_url else {
        return Ok(request);
    };
    let read = async {
        let place = outputs::place_of(input);
        let value = outputs::value_of(&ctx.cfn, reference, REVIEW_URL, &place).await?;
        check_url(&value).map_err(|problem| {
            TaskError::new(
                BAD_REVIEW_URL,
                format!(
                    "{REVIEW_URL}: stack {}'s output {} (in {place}) will not do as the page to \
                     review: {problem}",
                    reference.stack, reference.output
                ),
            )
        })
    };
    match read.await {
        Ok(url) => {
            request.review_url = Some(url);
            Ok(request)
        }
        Err(error) => {
            change_set::discard(&ctx.cfn, &input.deploy.stack_name, change_set).await;
            Err(error)
        }
    }
}

/// What holds the reference, in messages.
const REVIEW_URL: &str = "approval.reviewUrl";

/// A review URL read from a stack output that is no https URL (or is
/// over the length, or carries a credential). Not retried: the output
/// must change first.
pub const BAD_REVIEW_URL: &str = "Cpsf.ReviewUrl";

fn request_of(
    ctx: &TaskContext,
    input: &TaskInput,
    approval: &Approval,
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
pub async fn planned(
    ctx: &TaskContext,
    input: &TaskInput,
    change_set: &str,
    changes: &[Change],
) -> Result<(Request, bool), TaskError> {
    let approval = input.approval()?.ok_or_else(|| {
        TaskError::input("a planning deploy carries its rollout's approval; this one has none")
    })?;
    let asks = crate::approval::ask::asks(Some(&approval), changes);
    let request = request_of(ctx, input, &approval, change_set, changes);
    let request = with_review_url(ctx, input, &approval, request, change_set).await?;
    Ok((request, asks))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudformation::change_set::test_change;
    use aws_sdk_cloudformation::Client;
    use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
    use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
    use aws_sdk_cloudformation::types::{Output, Stack, StackStatus};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use std::time::Duration;

    fn input() -> TaskInput {
        TaskInput::parse(
            &serde_json::json!({
                "deploy": {"stackName": "shop-prod", "approval": {"when": "always",
                    "reviewUrl": {"fromStack": "shop-staging", "output": "SiteUrl"}}},
                "executionArn": "arn:aws:states:us-east-1:111111111111:execution:cpsf-deploy:run-1"
            })
            .to_string(),
        )
        .unwrap()
    }

    /// DescribeStacks's answer: the staging stack with its SiteUrl output
    /// (API reference, DescribeStacks, Output).
    fn staging(url: &'static str) -> impl Fn() -> DescribeStacksOutput + Send + Sync {
        move || {
            DescribeStacksOutput::builder()
                .stacks(
                    Stack::builder()
                        .stack_name("shop-staging")
                        .stack_status(StackStatus::UpdateComplete)
                        .creation_time(aws_smithy_types::DateTime::from_secs(0))
                        .outputs(
                            Output::builder()
                                .output_key("SiteUrl")
                                .output_value(url)
                                .build(),
                        )
                        .build(),
                )
                .build()
        }
    }

    #[tokio::test]
    async fn a_review_url_from_a_stack_output_is_read_where_the_deploy_goes() {
        let described = mock!(Client::describe_stacks)
            .match_requests(|r| r.stack_name() == Some("shop-staging"))
            .then_output(staging("https://staging.shop.example/"));
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&described]);
        let ctx = super::super::context::test_context(cfn, Duration::from_millis(10));
        let changes = [test_change("Modify", "Site", Some("False"))];
        let request = request(&ctx, &input(), "cs", &changes)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            request.review_url.as_deref(),
            Some("https://staging.shop.example/")
        );
        assert_eq!(described.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_stack_output_that_is_no_https_url_fails_naming_the_stack_and_output() {
        let described =
            mock!(Client::describe_stacks).then_output(staging("http://staging.shop.example/"));
        let discarded = mock!(Client::delete_change_set)
            .match_requests(|r| {
                r.stack_name() == Some("shop-prod") && r.change_set_name() == Some("cs")
            })
            .then_output(|| DeleteChangeSetOutput::builder().build());
        let cfn = mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            [&described, &discarded]
        );
        let ctx = super::super::context::test_context(cfn, Duration::from_millis(10));
        let changes = [test_change("Modify", "Site", Some("False"))];
        let error = request(&ctx, &input(), "cs", &changes).await.unwrap_err();
        assert_eq!(error.name, BAD_REVIEW_URL);
        assert_eq!(
            error.cause,
            "approval.reviewUrl: stack shop-staging's output SiteUrl (in account \
             111111111111, region us-east-1) will not do as the page to review: \
             'http://staging.shop.example/' is http; it must be https (http only to \
             127.0.0.1, ::1 or localhost, on the playground)"
        );
        assert_eq!(discarded.num_calls(), 1, "the change set is deleted");
    }

    #[tokio::test]
    async fn a_missing_output_fails_before_anyone_is_asked() {
        let described = mock!(Client::describe_stacks).then_output(staging("https://s.example/"));
        let discarded = mock!(Client::delete_change_set)
            .then_output(|| DeleteChangeSetOutput::builder().build());
        let cfn = mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            [&described, &discarded]
        );
        let ctx = super::super::context::test_context(cfn, Duration::from_millis(10));
        let mut asked = input();
        asked.deploy.approval = Some(serde_json::json!({"when": "always",
            "reviewUrl": {"fromStack": "shop-staging", "output": "Url"}}));
        let changes = [test_change("Modify", "Site", Some("False"))];
        let error = request(&ctx, &asked, "cs", &changes).await.unwrap_err();
        assert_eq!(error.name, outputs::UNRESOLVED);
        assert_eq!(
            error.cause,
            "approval.reviewUrl: stack shop-staging has no output Url (looked in account \
             111111111111, region us-east-1; it has SiteUrl)"
        );
        // Not asked: no read.
        let quiet = mock!(Client::describe_stacks).then_output(staging("https://s.example/"));
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&quiet]);
        let ctx = super::super::context::test_context(cfn, Duration::from_millis(10));
        assert_eq!(request(&ctx, &asked, "cs", &[]).await.unwrap(), None);
        assert_eq!(quiet.num_calls(), 0);
    }
}
