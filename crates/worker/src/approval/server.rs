//! The approval page's HTTP routes (`--approval-listen`): the link's GET
//! shows the approval and changes nothing; its POST, with the page's
//! token, makes the one decision. Every answer forbids caching, framing,
//! scripts and referrers (OWASP Secure Headers): the link is a secret.

use super::decision::{self, MAX_COMMENT_CHARS, MAX_NAME_CHARS, Outcome};
use super::link::Refused;
use super::page::{self, Closed, Shown};
use super::service::{Approvals, now, when};
use super::store::{Decision, Kept, Record, Sent};
use crate::base::plain::plain;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;

/// The largest form body read: the longest name and comment taken, in
/// four-byte characters each percent-encoded (12 bytes a character,
/// ~13.2 KB), and the page token. axum's default, 2 MB, would let the
/// connections `listen.rs` allows hold gigabytes.
const MAX_FORM_BYTES: usize = 16 * 1024;

pub fn router(approvals: Arc<Approvals>) -> Router {
    let https = approvals.served_over_https();
    Router::new()
        .route("/approvals/{link}", get(show).post(decide))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(axum::middleware::map_response_with_state(https, secure))
        .with_state(approvals)
}

/// The Content-Security-Policy: nothing but the page's own style sheet
/// (by its hash, computed once) and forms posting back here.
static POLICY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use base64::Engine;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, page::STYLE.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
});

/// HSTS: a year, the usual figure (MDN, Strict-Transport-Security). No
/// includeSubDomains: the page's host says nothing for its neighbours.
const HSTS: &str = "max-age=31536000";

/// `https`: whether people open the page over https. HSTS only then: a
/// browser ignores it over http (RFC 6797, section 8.1), where it would
/// only mislead. The worker itself may speak http behind a load balancer
/// that ends TLS; the header passes through it.
async fn secure(State(https): State<bool>, mut response: Response) -> Response {
    let headers = response.headers_mut();
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store".to_string()),
        (header::REFERRER_POLICY, "no-referrer".to_string()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        (header::X_FRAME_OPTIONS, "DENY".to_string()),
        (header::CONTENT_SECURITY_POLICY, POLICY.clone()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

fn answer(status: StatusCode, html: String) -> Response {
    (status, Html(html)).into_response()
}

/// The record a link names, with the decision kept for it if Step
/// Functions has not confirmed it (the same may be sent again), or the
/// page saying why it is closed.
async fn open(approvals: &Approvals, link: &str) -> Result<(Record, Option<Decision>), Response> {
    let opened = approvals
        .keys
        .open(link, now())
        .map_err(|refused| match refused {
            Refused::Tampered => answer(StatusCode::NOT_FOUND, page::closed(&Closed::Tampered)),
            Refused::Expired { at } => answer(
                StatusCode::GONE,
                page::closed(&Closed::Expired { at: &when(at) }),
            ),
        })?;
    let unavailable = |e: anyhow::Error| {
        tracing::warn!(error = %e, "the approval store did not answer");
        answer(
            StatusCode::SERVICE_UNAVAILABLE,
            page::closed(&Closed::Unavailable),
        )
    };
    let record = approvals.store.get(&opened.id).await.map_err(unavailable)?;
    // A signed link whose approval was never kept: not one of ours.
    let record =
        record.ok_or_else(|| answer(StatusCode::NOT_FOUND, page::closed(&Closed::Tampered)))?;
    match approvals
        .store
        .decision(&record.id)
        .await
        .map_err(unavailable)?
    {
        None => Ok((record, None)),
        Some(Kept {
            decision,
            sent: Sent::Unconfirmed,
        }) => Ok((record, Some(decision))),
        Some(kept) => Err(decided(&kept)),
    }
}

fn decided(kept: &Kept) -> Response {
    let closed = match &kept.sent {
        Sent::Ended(what) => Closed::Ended(what),
        _ if kept.decision.via == "timeout" => {
            Closed::Ended("It timed out or was stopped before this decision.")
        }
        _ => Closed::Decided(&kept.decision),
    };
    answer(StatusCode::CONFLICT, page::closed(&closed))
}

async fn show(State(approvals): State<Arc<Approvals>>, Path(link): Path<String>) -> Response {
    let (record, unconfirmed) = match open(&approvals, &link).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let shown = Shown {
        request: &record.request,
        execution_arn: &record.execution_arn,
        expires: &when(record.expires_at),
        unconfirmed: unconfirmed.as_ref(),
    };
    let action = format!("/approvals/{link}");
    answer(
        StatusCode::OK,
        page::ask(&shown, &action, &approvals.keys.page_token(&record.id)),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Posted {
    decision: Option<String>,
    name: Option<String>,
    comment: Option<String>,
    page_token: Option<String>,
}

async fn decide(
    State(approvals): State<Arc<Approvals>>,
    Path(link): Path<String>,
    Form(posted): Form<Posted>,
) -> Response {
    let record = match open(&approvals, &link).await {
        Ok((record, _)) => record,
        Err(response) => return response,
    };
    let token = posted.page_token.unwrap_or_default();
    if !approvals.keys.page_token_is(&record.id, &token) {
        return answer(StatusCode::FORBIDDEN, page::closed(&Closed::Forged));
    }
    // Plain text: they become output variables (`plain.rs`).
    let name = plain(&posted.name.unwrap_or_default());
    let comment = plain(&posted.comment.unwrap_or_default());
    let approved = match posted.decision.as_deref() {
        Some("approve") => true,
        Some("reject") => false,
        _ => {
            return answer(
                StatusCode::BAD_REQUEST,
                page::closed(&Closed::Incomplete("Choose Approve or Reject.")),
            );
        }
    };
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return answer(
            StatusCode::BAD_REQUEST,
            page::closed(&Closed::Incomplete(
                "Give your name, at most 100 characters.",
            )),
        );
    }
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return answer(
            StatusCode::BAD_REQUEST,
            page::closed(&Closed::Incomplete(
                "The comment is longer than 1,000 characters.",
            )),
        );
    }
    let decision = Decision {
        approved,
        by: name,
        comment,
        at: now(),
        via: "page".into(),
    };
    // In a task of its own, so it goes on to its end if the request is
    // cut (its time limit, listen.rs, or the client leaving): cut between
    // keeping the decision and answering the task, it would stay kept
    // and unanswered.
    let applied = tokio::spawn({
        let (approvals, record) = (approvals.clone(), record.clone());
        async move { decision::apply(&approvals.store, &approvals.sfn, &record, decision).await }
    })
    .await
    .unwrap_or_else(|panicked| Err(anyhow::anyhow!("deciding failed: {panicked}")));
    match applied {
        Ok(Outcome::Answered(decision)) => {
            tracing::info!(approval = %record.id, approved = decision.approved, "decided on the approval page");
            answer(
                StatusCode::OK,
                page::answered(&decision, &record.request.stack_name),
            )
        }
        Ok(Outcome::AlreadyDecided(first)) => decided(&first),
        Ok(Outcome::TaskEnded(what)) => {
            answer(StatusCode::GONE, page::closed(&Closed::Ended(&what)))
        }
        Ok(Outcome::Unconfirmed { decision, error }) => {
            tracing::warn!(approval = %record.id, %error, "Step Functions did not confirm a decision; it is kept");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                page::closed(&Closed::Unconfirmed(&decision)),
            )
        }
        Err(e) => {
            tracing::warn!(approval = %record.id, error = %e, "could not apply a decision");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                page::closed(&Closed::Unavailable),
            )
        }
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
