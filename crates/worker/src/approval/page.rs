//! The approval page and its answers, as HTML (pure). No JavaScript, one
//! small inline style sheet, readable on a phone. Only the request's own
//! fields are shown: the record's task token is never handed here.

use super::ask::{Request, is_risky};
use super::store::Decision;
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The style sheet, inline (the Content-Security-Policy allows it by hash
/// in `server.rs`, nothing else).
pub const STYLE: &str = "body{font:16px/1.45 system-ui,sans-serif;margin:0;padding:1rem;\
color:#1b1f24;background:#f6f8fa}main{max-width:52rem;margin:auto;background:#fff;\
border:1px solid #d0d7de;border-radius:8px;padding:1rem 1.25rem}h1{font-size:1.4rem;\
margin:.2rem 0 1rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}\
dt{color:#57606a}dd{margin:0;overflow-wrap:anywhere}.table{overflow-x:auto}\
table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{text-align:left;\
padding:.4rem .5rem;border-bottom:1px solid #d0d7de;vertical-align:top}\
tr.risky{background:#fff1e5}tr.risky td:first-child{border-left:4px solid #bc4c00}\
.warn{background:#fff1e5;border:1px solid #bc4c00;border-radius:6px;padding:.6rem}\
.note{background:#ddf4ff;border-radius:6px;padding:.6rem}label{display:block;\
margin:.6rem 0 .2rem;font-weight:600}input[type=text],textarea{width:100%;\
box-sizing:border-box;font:inherit;padding:.5rem;border:1px solid #8c959f;\
border-radius:6px}.buttons{display:flex;gap:.75rem;flex-wrap:wrap;margin-top:1rem}\
button{font:inherit;font-weight:600;padding:.7rem 1.4rem;border-radius:6px;\
border:1px solid;cursor:pointer}.approve{background:#1f883d;color:#fff;\
border-color:#1a7f37}.reject{background:#fff;color:#cf222e;border-color:#cf222e}\
small{color:#57606a}pre.diff{overflow-x:auto;background:#f6f8fa;padding:.5rem;\
border-radius:6px;font-size:.85rem}.add{color:#116329}.del{color:#82071e}";

fn frame(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) " · cpsf" }
                style { (PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    }
    .into_string()
}

/// What the page knows of an approval.
pub struct Shown<'a> {
    pub request: &'a Request,
    pub execution_arn: &'a str,
    /// When the link stops working, as text ("2026-12-01 14:00 UTC").
    pub expires: &'a str,
    /// A decision kept and not confirmed by Step Functions: only it may
    /// be sent again (`decision.rs`).
    pub unconfirmed: Option<&'a Decision>,
}

/// The page a link opens: the change and the form. `action` is the path
/// the form posts to (the link's own), `page_token` its per-page token.
pub fn ask(shown: &Shown, action: &str, page_token: &str) -> String {
    let request = shown.request;
    let body = html! {
        h1 { "Approve this deploy?" }
        dl {
            @if let Some(pipeline) = &request.pipeline { dt { "Pipeline" } dd { (pipeline) } }
            dt { "Stack" } dd { (request.stack_name) }
            dt { "Where" } dd { (request.place) }
            dt { "Change" } dd { (request.summary) }
            dt { "Execution" } dd { small { (shown.execution_arn) } }
            dt { "Decide by" } dd { (shown.expires) }
        }
        @if request.risky {
            p.warn { strong { "Resources would be replaced or removed. " }
                "A replaced resource is a new one: what the old one held (data, its address) may be lost." }
        }
        @if let Some(note) = &request.message { p.note { strong { "Note: " } (note) } }
        @if let Some(url) = &request.review_url {
            // Checked https (`spec::check_url`); maud escapes it in the
            // attribute and the text. noreferrer: the page's own address
            // is the signed link, a secret (server.rs also sends
            // Referrer-Policy: no-referrer).
            p.note { strong { "Review the staging site: " }
                a href=(url) rel="noopener noreferrer" { (url) } }
        }
        @if let Some(kept) = shown.unconfirmed {
            p.warn { strong { (verdict(kept)) " by " (kept.by) " is kept. " }
                "Step Functions did not confirm it, and may not have heard it: "
                (if kept.approved { "approve" } else { "reject" })
                " again to send it again. The other choice cannot follow." }
        }
        div.table {
            table {
                thead { tr { th { "Action" } th { "Resource" } th { "Type" } th { "Replaced" } th { "Why" } } }
                tbody {
                    @for change in &request.changes {
                        tr class=[is_risky(change).then_some("risky")] {
                            td { (change.action_shown()) }
                            td { (change.logical_id) }
                            td { (change.resource_type) }
                            td { (change.replacement.as_deref().unwrap_or("")) }
                            td { (change.causes.join("; ")) }
                        }
                    }
                }
            }
        }
        @if let Some(diff) = &request.template_diff {
            details {
                summary { "Template changes" }
                pre.diff { @for line in diff.lines() {
                    span class=[diff_class(line)] { (line) } "\n"
                } }
            }
        }
        @if request.change_count > request.changes.len() {
            p { small { (request.change_count - request.changes.len()) " more changes are not listed here." } }
        }
        form method="post" action=(action) {
            input type="hidden" name="pageToken" value=(page_token);
            label for="name" { "Your name" }
            input type="text" id="name" name="name" required maxlength="100" autocomplete="name";
            label for="comment" { "Comment" }
            textarea id="comment" name="comment" rows="3" maxlength="1000" {}
            div.buttons {
                button.approve type="submit" name="decision" value="approve" { "Approve" }
                button.reject type="submit" name="decision" value="reject" { "Reject" }
            }
            p { small { "One decision only: the link stops working once it is made." } }
        }
    };
    frame("Approve this deploy?", body)
}

/// A diff line's class: added, removed or neither.
fn diff_class(line: &str) -> Option<&'static str> {
    match line.chars().next() {
        Some('+') if !line.starts_with("+++") => Some("add"),
        Some('-') if !line.starts_with("---") => Some("del"),
        _ => None,
    }
}

/// After the decision this page made.
pub fn answered(decision: &Decision, stack: &str) -> String {
    let (title, next) = if decision.approved {
        ("Approved", format!("The deploy of {stack} goes on."))
    } else {
        (
            "Rejected",
            format!("The deploy of {stack} stops; nothing was changed."),
        )
    };
    frame(
        title,
        html! {
            h1 { (title) }
            p { (next) }
            p { small { "Decided by " (decision.by) "." } }
        },
    )
}

/// "Approved" or "Rejected".
fn verdict(decision: &Decision) -> &'static str {
    if decision.approved {
        "Approved"
    } else {
        "Rejected"
    }
}

/// Why a link opens nothing, for each way it can fail.
pub enum Closed<'a> {
    /// Not a link of this worker's, or altered.
    Tampered,
    Expired {
        at: &'a str,
    },
    /// Someone decided already (a used link, a replayed form).
    Decided(&'a Decision),
    /// The deploy stopped waiting (timed out, or its execution stopped):
    /// what happened.
    Ended(&'a str),
    /// The decision is kept, and Step Functions did not confirm it: the
    /// same one may be sent again.
    Unconfirmed(&'a Decision),
    /// A form not sent from its page (a missing or foreign page token).
    Forged,
    /// The form lacks a name or a decision, or is too long.
    Incomplete(&'a str),
    /// The store or Step Functions did not answer: nothing was decided.
    Unavailable,
}

pub fn closed(why: &Closed) -> String {
    let (title, text): (&str, String) = match why {
        Closed::Tampered => (
            "This link is not valid",
            "It was changed, or it was never issued for an approval. Nothing was changed. \
             Open the link from the message exactly as it was sent."
                .into(),
        ),
        Closed::Expired { at } => (
            "This link has expired",
            format!("It worked until {at}. The deploy stopped waiting; nothing was changed."),
        ),
        Closed::Decided(decision) => (
            "Already decided",
            format!(
                "{} by {}{}. This link works for one decision; nothing more was changed.",
                verdict(decision),
                decision.by,
                if decision.comment.is_empty() {
                    String::new()
                } else {
                    format!(" (\u{201c}{}\u{201d})", decision.comment)
                }
            ),
        ),
        Closed::Ended(what) => (
            "The deploy no longer waits",
            format!("{what} Nothing was changed."),
        ),
        Closed::Unconfirmed(decision) => (
            "Kept, not confirmed yet",
            format!(
                "{} by {} is kept, but Step Functions did not confirm it, and may not have heard it. \
                 Open the link again in a minute and make the same decision to send it again; \
                 the other choice cannot follow.",
                verdict(decision),
                decision.by
            ),
        ),
        Closed::Forged => (
            "This form was not sent from its page",
            "Open the link again and decide there. Nothing was changed.".into(),
        ),
        Closed::Unavailable => (
            "Try again in a minute",
            "The decision could not be kept or passed on just now. Nothing was changed.".into(),
        ),
        Closed::Incomplete(what) => (
            "The decision is incomplete",
            format!("{what} Nothing was changed."),
        ),
    };
    frame(title, html! { h1 { (title) } p { (text) } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::change::Change;

    fn request() -> Request {
        let changes = [
            Change {
                action: "Modify".into(),
                logical_id: "WorkQueue".into(),
                resource_type: "AWS::SQS::Queue".into(),
                replacement: Some("True".into()),
                causes: vec!["Properties.QueueName (requires replacement)".into()],
                policy_action: None,
            },
            Change {
                action: "Modify".into(),
                logical_id: "Greeting<script>".into(),
                resource_type: "AWS::SSM::Parameter".into(),
                replacement: Some("False".into()),
                causes: vec![],
                policy_action: None,
            },
        ];
        crate::approval::ask::test_request(&changes, "Release <b>42</b>")
    }

    #[test]
    fn the_page_shows_the_changes_with_the_replacement_first_and_escapes_everything() {
        let mut request = request();
        request.template_diff = Some("--- running\n+++ revision\n-  Old<b>:\n+  New:\n".into());
        let shown = Shown {
            request: &request,
            execution_arn: "arn:aws:states:x",
            expires: "soon",
            unconfirmed: None,
        };
        let page = ask(&shown, "/approvals/link", "page-token");
        let risky_row = page
            .find("<tr class=\"risky\"><td>Modify</td><td>WorkQueue</td>")
            .expect("risky row");
        let modest_row = page.find("Greeting&lt;script&gt;").expect("escaped row");
        assert!(risky_row < modest_row, "the replacement is listed first");
        assert!(page.contains("Properties.QueueName (requires replacement)"));
        assert!(
            page.contains("Release &lt;b&gt;42&lt;/b&gt;"),
            "the note is escaped"
        );
        assert!(!page.contains("<script>"));
        assert!(page.contains("name=\"pageToken\" value=\"page-token\""));
        assert!(page.contains("<form method=\"post\" action=\"/approvals/link\">"));
        assert!(page.contains("name=\"viewport\""));
        assert!(
            page.contains("<span class=\"del\">-  Old&lt;b&gt;:</span>"),
            "{page}"
        );
        assert!(
            page.contains("<span class=\"add\">+  New:</span>"),
            "{page}"
        );
        assert!(page.contains("<span>+++ revision</span>"), "{page}");
    }

    /// The review URL is a link, escaped in its attribute and its text
    /// even if it reached the page unchecked (`spec::check_url` already
    /// percent-encodes quotes and angle brackets).
    #[test]
    fn the_review_url_is_an_escaped_link_that_sends_no_referrer() {
        let mut request = request();
        let shown = |request: &Request| {
            ask(
                &Shown {
                    request,
                    execution_arn: "arn:aws:states:x",
                    expires: "soon",
                    unconfirmed: None,
                },
                "/approvals/link",
                "page-token",
            )
        };
        assert!(!shown(&request).contains("Review the staging site"));
        request.review_url =
            Some("https://staging.example/?q=\"><script>alert(1)</script>&x='y'".into());
        let page = shown(&request);
        let escaped = "https://staging.example/?q=&quot;&gt;&lt;script&gt;alert(1)\
                       &lt;/script&gt;&amp;x='y'";
        assert!(
            page.contains(&format!(
                "<a href=\"{escaped}\" rel=\"noopener noreferrer\">{escaped}</a>"
            )),
            "{page}"
        );
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("target="), "no new window: {page}");
    }

    #[test]
    fn every_closed_link_says_why_and_that_nothing_changed() {
        let decision = Decision {
            approved: false,
            by: "Ann".into(),
            comment: "not yet".into(),
            at: 0,
            via: "page".into(),
        };
        for why in [
            Closed::Tampered,
            Closed::Expired { at: "noon" },
            Closed::Decided(&decision),
            Closed::Ended("It timed out."),
            Closed::Forged,
            Closed::Incomplete("Give your name."),
            Closed::Unavailable,
        ] {
            assert!(closed(&why).contains("Nothing") || closed(&why).contains("nothing"));
        }
        assert!(
            closed(&Closed::Decided(&decision))
                .contains("Rejected by Ann (\u{201c}not yet\u{201d})")
        );
        let unconfirmed = closed(&Closed::Unconfirmed(&decision));
        assert!(
            unconfirmed.contains("Rejected by Ann is kept")
                && unconfirmed.contains("the other choice cannot follow"),
            "{unconfirmed}"
        );
    }

    /// A kept decision Step Functions did not confirm: the page says who
    /// decided what, and that only the same may be sent again.
    #[test]
    fn the_page_of_an_unconfirmed_decision_says_what_is_kept() {
        let request = request();
        let kept = Decision {
            approved: true,
            by: "Ann".into(),
            comment: String::new(),
            at: 0,
            via: "page".into(),
        };
        let shown = Shown {
            request: &request,
            execution_arn: "arn:aws:states:x",
            expires: "soon",
            unconfirmed: Some(&kept),
        };
        let page = ask(&shown, "/approvals/link", "page-token");
        assert!(page.contains("Approved by Ann is kept."), "{page}");
        assert!(page.contains("approve again to send it again"), "{page}");
    }
}
