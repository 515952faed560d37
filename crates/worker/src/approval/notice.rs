//! The notification of an approval request (pure): the SNS subject and
//! message. It says what will change and gives the link; never the task
//! token, parameter values or anything of the record beyond the request.

use super::ask::Request;

/// SNS `Subject`: printable ASCII, no line breaks, and "must be less than
/// 100 characters long" (SNS API reference, Publish, `Subject`): at most 99.
/// A subject of exactly 100 fails Publish, and the inbox retries the
/// request every minute for the rest of the approval's time.
pub const MAX_SUBJECT_CHARS: usize = 99;

pub fn subject(request: &Request) -> String {
    let verb = if request.risky {
        "replace or remove resources in"
    } else {
        "change"
    };
    let text = format!("Approve? A deploy would {verb} {}", request.stack_name);
    let ascii: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(MAX_SUBJECT_CHARS)
        .collect();
    ascii
}

/// The message: who asks, what changes, the note, and where to decide.
/// `link` is None when the worker serves no page (no `--approval-url`).
pub fn message(
    request: &Request,
    execution_arn: &str,
    link: Option<&str>,
    expires: &str,
) -> String {
    let mut text = String::new();
    match &request.pipeline {
        Some(pipeline) => text.push_str(&format!(
            "Pipeline {pipeline} wants to deploy stack {} in {}.\n\n",
            request.stack_name, request.place
        )),
        None => text.push_str(&format!(
            "A deploy wants to change stack {} in {}.\n\n",
            request.stack_name, request.place
        )),
    }
    text.push_str(&format!("What changes: {}\n", request.summary));
    if request.risky {
        text.push_str("It replaces or removes resources: their data may be lost.\n");
    }
    if let Some(note) = &request.message {
        text.push_str(&format!("\nNote from the pipeline: {note}\n"));
    }
    if let Some(url) = &request.review_url {
        // On its own line, as checked (`spec::check_url`): one https URL
        // with no spaces, which mail clients make a link.
        text.push_str(&format!("\nReview the staging site: {url}\n"));
    }
    match link {
        Some(link) => text.push_str(&format!(
            "\nSee every change, then approve or reject:\n{link}\n\nThe link works for one \
             decision, until {expires}. Without one by then, the deploy stops and nothing \
             changes.\n"
        )),
        None => text.push_str(&format!(
            "\nDecide with AWS access, until {expires}:\n  cpsf approve {execution_arn} --comment \"...\"\n  \
             cpsf approve {execution_arn} --reject --comment \"...\"\n"
        )),
    }
    text.push_str(&format!("\nExecution: {execution_arn}\n"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::change::Change;

    fn request(risky: bool) -> Request {
        let change = Change {
            action: "Modify".into(),
            logical_id: "WorkQueue".into(),
            resource_type: "AWS::SQS::Queue".into(),
            replacement: Some(if risky { "True" } else { "False" }.into()),
            causes: vec!["Properties.QueueName (requires replacement)".into()],
            policy_action: None,
        };
        crate::approval::ask::test_request(&[change], "Release 42")
    }

    #[test]
    fn the_message_says_what_changes_and_where_to_decide() {
        let text = message(
            &request(true),
            "arn:aws:states:x",
            Some("https://approve.example/a/l"),
            "2026-12-01 14:00 UTC",
        );
        assert!(
            text.starts_with("Pipeline shop wants to deploy stack app in us-east-1."),
            "{text}"
        );
        assert!(
            text.contains("What changes: 1 replaced: WorkQueue (AWS::SQS::Queue)"),
            "{text}"
        );
        assert!(
            text.contains("Note from the pipeline: Release 42"),
            "{text}"
        );
        assert!(text.contains("https://approve.example/a/l\n"), "{text}");
        assert!(text.contains("until 2026-12-01 14:00 UTC"), "{text}");
        let without = message(&request(false), "arn:aws:states:x", None, "later");
        assert!(
            without.contains("cpsf approve arn:aws:states:x --reject"),
            "{without}"
        );
        assert!(!without.contains("data may be lost"));
        assert!(!without.contains("Review the staging site"), "{without}");
    }

    #[test]
    fn the_message_names_the_review_url_on_its_own_line() {
        let mut asked = request(false);
        asked.review_url = Some("https://staging.example/shop?release=42".into());
        let text = message(
            &asked,
            "arn:aws:states:x",
            Some("https://approve.example/a/l"),
            "later",
        );
        assert!(
            text.contains("\n\nReview the staging site: https://staging.example/shop?release=42\n"),
            "{text}"
        );
        assert!(
            text.find("Review the staging site").unwrap()
                < text.find("https://approve.example/a/l").unwrap(),
            "read before deciding: {text}"
        );
    }

    #[test]
    fn the_subject_fits_sns() {
        assert_eq!(
            subject(&request(true)),
            "Approve? A deploy would replace or remove resources in app"
        );
        let mut long = request(false);
        long.stack_name = "é".repeat(300);
        let s = subject(&long);
        assert!(s.len() < 100 && s.is_ascii(), "{s}");
        // The longest stack name CloudFormation takes (128) still gives a
        // subject SNS accepts: fewer than 100 characters.
        long.stack_name = format!("a{}", "b".repeat(127));
        assert_eq!(subject(&long).len(), 99);
    }
}
