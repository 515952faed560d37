//! The deploy input's `approval` (pure): when a person decides, who is
//! told, how long they have, and what they read first. Every problem is
//! reported at once, each with the exact key and what it takes.

use super::deadline::{RESERVE_SECONDS, max_timeout_minutes};
use crate::base::limits::DEFAULT_TIMEOUT_SECONDS;
use crate::base::spelling::closest;
use crate::base::text::json_kind;
use crate::references::{self, Reference};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The input key.
pub const APPROVAL_KEY: &str = "approval";
/// The keys `approval` takes; any other is refused.
pub const APPROVAL_KEYS: &[&str] = &["when", "notify", "timeoutMinutes", "message", "reviewUrl"];
/// How long a decision may wait at most (and waits by default) with the
/// deploy execution's default 24 h timeout: 23 h. It must end before the
/// execution does (`deadline.rs`); a custom action's 24 h bounds the whole
/// deploy too (design.md).
pub const MAX_TIMEOUT_MINUTES: u32 = max_timeout_minutes(DEFAULT_TIMEOUT_SECONDS);
/// The note shown to the approver, in the page and the notification (an
/// SNS message is at most 256 KiB, a subject 100 characters: the note goes
/// in the body, kept short enough to read).
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// The longest review URL taken, in characters. 2,048 is what browsers
/// and servers reliably take in a URL (a longer one is truncated or
/// refused by some: RFC 9110 §4.1 recommends supporting at least 8,000,
/// and many stop near 2 K), and the URL is short against what it rides
/// in: the request in an SQS message (at most 256 KiB) and a wave's
/// request (`ask::WAVE_REQUEST`, 48 KiB, which `ask::fit_request` keeps
/// whole but for the changes), and the SNS message (256 KiB).
pub const MAX_REVIEW_URL_CHARS: usize = 2048;

/// What the approver may look at before deciding (`reviewUrl`): a
/// literal URL, or another stack's output read where the deploy goes
/// when the request is made (`tasks::asking`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReviewUrl {
    Url(String),
    FromStack(Reference),
}

/// When a person decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// Every deploy that changes something.
    Always,
    /// A change set that replaces or removes a resource (what the safety
    /// gate refuses without `allowReplacements`).
    Risky,
    /// Never: the gate decides alone, as without `approval`.
    Never,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub when: When,
    /// The SNS topic told of each request; None: nobody is told, and
    /// `cpsf approve` decides.
    pub notify: Option<String>,
    pub timeout_minutes: u32,
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_url: Option<ReviewUrl>,
}

/// The input's `approval`, None without one, or every problem with it, in
/// an execution that times out after `execution_timeout_seconds`.
pub fn parse(
    deploy: &Value,
    execution_timeout_seconds: u32,
) -> Result<Option<Approval>, Vec<String>> {
    let Some(value) = deploy.get(APPROVAL_KEY) else {
        return Ok(None);
    };
    let Some(object) = value.as_object() else {
        return Err(vec![format!(
            "approval must be an object like {{\"when\": \"risky\", \"notify\": \"<SNS topic ARN>\"}}; it is {}",
            json_kind(value)
        )]);
    };
    let mut problems = Vec::new();
    for key in object
        .keys()
        .filter(|k| !APPROVAL_KEYS.contains(&k.as_str()))
    {
        let hint = closest(key, APPROVAL_KEYS)
            .map(|k| format!(" (did you mean '{k}'?)"))
            .unwrap_or_default();
        problems.push(format!(
            "approval has an unknown key '{key}'{hint}: approval takes {}",
            APPROVAL_KEYS.join(", ")
        ));
    }
    let when = when(object, &mut problems);
    let notify = notify(object, &mut problems);
    let timeout_minutes = timeout(object, execution_timeout_seconds, &mut problems);
    let message = message(object, &mut problems);
    let review_url = review_url(object, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Some(Approval {
        when,
        notify,
        timeout_minutes,
        message,
        review_url,
    }))
}

fn when(object: &Map<String, Value>, problems: &mut Vec<String>) -> When {
    match object.get("when") {
        None => When::Risky,
        Some(Value::String(s)) if s == "always" => When::Always,
        Some(Value::String(s)) if s == "risky" => When::Risky,
        Some(Value::String(s)) if s == "never" => When::Never,
        Some(other) => {
            problems.push(format!(
                "approval.when is {other}; it must be \"always\" (every deploy that changes \
                 something), \"risky\" (a replacement or removal; the default) or \"never\""
            ));
            When::Risky
        }
    }
}

/// `arn:<partition>:sns:<region>:<12-digit account>:<topic>` (SNS API
/// reference, topic names: 1 to 256 letters, digits, hyphens and
/// underscores, `.fifo` for a FIFO topic).
fn notify(object: &Map<String, Value>, problems: &mut Vec<String>) -> Option<String> {
    let value = object.get("notify")?;
    let Some(arn) = value.as_str() else {
        problems.push(format!(
            "approval.notify must be an SNS topic ARN; it is {}",
            json_kind(value)
        ));
        return None;
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let topic_ok = |t: &str| {
        let name = t.strip_suffix(".fifo").unwrap_or(t);
        (1..=256).contains(&t.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let sound = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && topic_ok(parts[5]);
    if !sound {
        problems.push(format!(
            "approval.notify '{arn}' is not an SNS topic ARN; write \
             arn:<partition>:sns:<region>:<12-digit account>:<topic>"
        ));
        return None;
    }
    // A FIFO topic takes only messages with a MessageGroupId (SNS API
    // reference, Publish) and delivers only to queues and endpoints of its
    // own kind, not to the people an approval asks: refused here rather
    // than fail every notification for the approval's whole time.
    if parts[5].ends_with(".fifo") {
        problems.push(format!(
            "approval.notify '{arn}' is a FIFO topic, which cannot tell people (it takes only \
             grouped messages, delivered to FIFO queues); name a standard topic"
        ));
        return None;
    }
    Some(arn.to_string())
}

/// `timeoutMinutes`, 1 to [`max_timeout_minutes`] of the execution's
/// timeout; that maximum when not given.
fn timeout(
    object: &Map<String, Value>,
    execution_timeout_seconds: u32,
    problems: &mut Vec<String>,
) -> u32 {
    let max = max_timeout_minutes(execution_timeout_seconds);
    let why = format!(
        "the deploy execution times out after {execution_timeout_seconds} s (its \
         TimeoutSeconds, bootstrap's DeployTimeoutSeconds), and an approval leaves {} minutes \
         of it for the states before and for DiscardChangeSet, which deletes the change set \
         when no one decides (Step Functions runs no Catch when the execution itself times out)",
        RESERVE_SECONDS / 60
    );
    if max == 0 {
        problems.push(format!(
            "approval cannot be used in this state machine: {why}, which leaves no time for a \
             decision; raise DeployTimeoutSeconds"
        ));
        return 0;
    }
    let Some(value) = object.get("timeoutMinutes") else {
        return max;
    };
    match value.as_u64().filter(|m| (1..=u64::from(max)).contains(m)) {
        Some(minutes) => minutes as u32,
        None => {
            problems.push(format!(
                "approval.timeoutMinutes is {value}; it must be a whole number of minutes from 1 \
                 to {max}: {why}"
            ));
            max
        }
    }
}

fn message(object: &Map<String, Value>, problems: &mut Vec<String>) -> Option<String> {
    let value = object.get("message")?;
    let Some(text) = value.as_str() else {
        problems.push(format!(
            "approval.message must be a string, the note the approver reads; it is {}",
            json_kind(value)
        ));
        return None;
    };
    let chars = text.chars().count();
    if chars > MAX_MESSAGE_CHARS {
        problems.push(format!(
            "approval.message is {chars} characters; at most {MAX_MESSAGE_CHARS}, so the \
             notification and the page stay readable"
        ));
        return None;
    }
    Some(text.to_string())
}

/// `reviewUrl`: a URL ([`check_url`]) or `{"fromStack", "output"}`
/// (`references::shape`).
fn review_url(object: &Map<String, Value>, problems: &mut Vec<String>) -> Option<ReviewUrl> {
    let value = object.get("reviewUrl")?;
    let found = match value {
        Value::String(text) => check_url(text).map(ReviewUrl::Url),
        Value::Object(reference) => references::shape(reference).map(ReviewUrl::FromStack),
        other => Err(format!("it is {}", json_kind(other))),
    };
    found
        .map_err(|problem| {
            problems.push(format!(
                "approval.reviewUrl: {problem}; it is the page the approver reviews (a staging \
                 site), an https URL or another stack's output as {{\"{}\": \"<stack name>\", \
                 \"{}\": \"<output key>\"}}",
                references::FROM_STACK,
                references::OUTPUT
            ))
        })
        .ok()
}

/// A review URL as the notification and the page show it, or what is
/// wrong with it: https, or http to this machine only (127.0.0.1, ::1,
/// localhost: the playground, where nothing travels between machines);
/// no user name or password (a credential would go to every approver's
/// mail); at most [`MAX_REVIEW_URL_CHARS`]. Checked on the input and
/// again on a URL read from a stack output. The URL is returned as the
/// WHATWG URL standard serializes it (the `url` crate): no spaces or line
/// breaks, so it stays one line of the notification.
pub fn check_url(text: &str) -> Result<String, String> {
    let chars = text.chars().count();
    if chars > MAX_REVIEW_URL_CHARS {
        return Err(format!(
            "the URL is {chars} characters; at most {MAX_REVIEW_URL_CHARS}, what browsers and \
             mail reliably carry"
        ));
    }
    let url = url::Url::parse(text).map_err(|e| format!("'{text}' is not a URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        // Not echoed: the text holds a credential.
        return Err(
            "the URL carries a user name or password, which every approver would read; \
             give the address without it"
                .to_string(),
        );
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!(
                "'{text}' is http; it must be https (http only to 127.0.0.1, ::1 or localhost, \
                 on the playground)"
            ));
        }
        scheme => {
            return Err(format!(
                "'{text}' has the scheme '{scheme}'; it must be https (http only to \
                 127.0.0.1, ::1 or localhost, on the playground)"
            ));
        }
    }
    let shown = url.to_string();
    if shown.chars().count() > MAX_REVIEW_URL_CHARS {
        return Err(format!(
            "the URL is over {MAX_REVIEW_URL_CHARS} characters once encoded; at most \
             {MAX_REVIEW_URL_CHARS}, what browsers and mail reliably carry"
        ));
    }
    Ok(shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:deploy-approvals";

    fn problems(approval: Value) -> Vec<String> {
        parse(&json!({"stackName": "app", "approval": approval})).unwrap_err()
    }

    fn parse(deploy: &Value) -> Result<Option<Approval>, Vec<String>> {
        super::parse(deploy, DEFAULT_TIMEOUT_SECONDS)
    }

    #[test]
    fn an_approval_is_read_with_its_defaults() {
        assert_eq!(parse(&json!({"stackName": "app"})), Ok(None));
        assert_eq!(
            parse(&json!({"approval": {"notify": TOPIC}})),
            Ok(Some(Approval {
                when: When::Risky,
                notify: Some(TOPIC.into()),
                timeout_minutes: MAX_TIMEOUT_MINUTES,
                message: None,
                review_url: None,
            }))
        );
        let full = parse(&json!({"approval": {"when": "always", "timeoutMinutes": 30,
                                              "message": "Release 42"}}))
        .unwrap()
        .unwrap();
        assert_eq!((full.when, full.timeout_minutes), (When::Always, 30));
        assert_eq!(full.message.as_deref(), Some("Release 42"));
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let all = problems(
            json!({"when": "sometimes", "notify": "arn:aws:sqs:us-east-1:123456789012:q",
                                  "timeoutMinutes": 0, "mesage": "x"}),
        );
        assert_eq!(all.len(), 4, "{all:#?}");
        assert!(
            all[0].contains("unknown key 'mesage' (did you mean 'message'?)"),
            "{all:#?}"
        );
        assert!(
            all[1].contains("approval.when is \"sometimes\""),
            "{all:#?}"
        );
        assert!(all[2].contains("is not an SNS topic ARN"), "{all:#?}");
        assert!(all[3].contains("from 1 to 1380"), "{all:#?}");
        assert_eq!(
            problems(json!("always")),
            vec!["approval must be an object like {\"when\": \"risky\", \"notify\": \"<SNS topic ARN>\"}; it is a string".to_string()]
        );
        let long = "x".repeat(MAX_MESSAGE_CHARS + 1);
        assert!(problems(json!({"message": long}))[0].contains("at most 1000"));
        assert!(problems(json!({"timeoutMinutes": 1441}))[0].contains("1441"));
    }

    #[test]
    fn a_review_url_is_https_or_a_stack_output() {
        let url = |value: Value| {
            parse(&json!({"approval": {"reviewUrl": value}}))
                .unwrap()
                .unwrap()
                .review_url
                .unwrap()
        };
        assert_eq!(
            url(json!("https://staging.example.com/shop?release=42")),
            ReviewUrl::Url("https://staging.example.com/shop?release=42".into())
        );
        assert_eq!(
            url(json!({"fromStack": "shop-staging", "output": "SiteUrl"})),
            ReviewUrl::FromStack(Reference {
                stack: "shop-staging".into(),
                output: "SiteUrl".into()
            })
        );
        // http to this machine only: the playground.
        for local in [
            "http://127.0.0.1:4566/site",
            "http://localhost:8080/",
            "http://[::1]:3000/",
        ] {
            assert!(check_url(local).is_ok(), "{local}");
        }
        // Written as the URL standard serializes it: quotes, angle
        // brackets and spaces percent-encoded, line breaks dropped.
        assert_eq!(
            check_url("https://Staging.Example/a b?q=\"<x>\"\n").unwrap(),
            "https://staging.example/a%20b?q=%22%3Cx%3E%22"
        );
        assert_eq!(
            url(json!("https://s.example")),
            ReviewUrl::Url("https://s.example/".into())
        );
    }

    #[test]
    fn a_review_url_that_will_not_do_is_refused_saying_why() {
        let refused = |value: Value| {
            let all = problems(json!({"reviewUrl": value}));
            assert_eq!(all.len(), 1, "{all:#?}");
            assert!(all[0].starts_with("approval.reviewUrl: "), "{all:#?}");
            all[0].clone()
        };
        assert!(refused(json!("javascript:alert(1)")).contains("has the scheme 'javascript'"));
        assert!(refused(json!("data:text/html,<b>x</b>")).contains("scheme 'data'"));
        assert!(refused(json!("ftp://staging.example/")).contains("scheme 'ftp'"));
        assert!(refused(json!("http://staging.example/")).contains("is http; it must be https"));
        assert!(refused(json!("http://10.0.0.1/")).contains("is http"));
        assert!(refused(json!("staging.example")).contains("is not a URL"));
        assert!(refused(json!("")).contains("is not a URL"));
        let secret = refused(json!("https://ann:hunter2@staging.example/"));
        assert!(secret.contains("user name or password"), "{secret}");
        assert!(
            !secret.contains("hunter2"),
            "the credential is not echoed: {secret}"
        );
        assert!(refused(json!("https://ann@staging.example/")).contains("user name"));
        let head = "https://staging.example/";
        let longest = format!("{head}{}", "a".repeat(MAX_REVIEW_URL_CHARS - head.len()));
        assert!(check_url(&longest).is_ok());
        assert!(refused(json!(format!("{longest}a"))).contains("at most 2048"));
        // Within the length as given, over it once encoded.
        let spaced = format!(
            "{head}{}",
            " x".repeat((MAX_REVIEW_URL_CHARS - head.len()) / 2)
        );
        assert!(refused(json!(spaced)).contains("once encoded"));
        assert!(refused(json!(42)).contains("it is a number"));
        assert!(refused(json!({"fromStack": "shop-staging"})).contains("'output' is missing"));
        assert!(
            refused(json!({"fromStack": "shop-staging", "output": "Url", "region": "x"}))
                .contains("unknown key 'region'")
        );
        assert!(refused(json!("ftp://x")).contains("{\"fromStack\": \"<stack name>\""));
    }

    #[test]
    fn a_fifo_topic_is_refused_because_it_cannot_tell_people() {
        let fifo = problems(json!({"notify": "arn:aws:sns:us-east-1:123456789012:approvals.fifo"}));
        assert_eq!(fifo.len(), 1, "{fifo:#?}");
        assert!(fifo[0].contains("is a FIFO topic"), "{fifo:#?}");
    }

    /// An approval as long as the execution would outlive it: the
    /// execution's timeout ends it, and DiscardChangeSet never runs.
    #[test]
    fn an_approval_must_end_before_the_execution_does() {
        assert_eq!(MAX_TIMEOUT_MINUTES, 1380);
        let day = problems(json!({"timeoutMinutes": 1440}));
        assert_eq!(day.len(), 1, "{day:#?}");
        assert!(
            day[0].contains(
                "approval.timeoutMinutes is 1440; it must be a whole number of \
                             minutes from 1 to 1380: the deploy execution times out after 86400 s"
            ) && day[0].contains("DiscardChangeSet"),
            "{day:#?}"
        );
        // The execution's own timeout decides, when the state machine says.
        let two_hours =
            |minutes: u32| super::parse(&json!({"approval": {"timeoutMinutes": minutes}}), 7200);
        assert_eq!(two_hours(60).unwrap().unwrap().timeout_minutes, 60);
        assert!(two_hours(61).unwrap_err()[0].contains("from 1 to 60"));
        let default = super::parse(&json!({"approval": {}}), 7200)
            .unwrap()
            .unwrap();
        assert_eq!(default.timeout_minutes, 60);
        let short = super::parse(&json!({"approval": {}}), 3600).unwrap_err();
        assert!(
            short[0].contains("raise DeployTimeoutSeconds"),
            "{short:#?}"
        );
    }
}
