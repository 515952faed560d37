//! `cpsf demo --approval`: README's "Approval by link" walked on the
//! playground (issue 29, item 4). The sample app is deployed, then a risky
//! change (the queue's logical id renamed: CloudFormation replaces it)
//! with an `approval` block in its input. The worker keeps the request,
//! publishes the notification to the playground's approval topic (read
//! here from an SQS queue subscribed to it, as a mail reader would) and
//! serves the page its link opens. The demo prints each step and the
//! command to repeat it by hand, then decides:
//!
//! - by itself (stdin not a terminal, or no `--keep`): it opens the page
//!   and posts its Approve form with the page's token, as a person's
//!   browser would;
//! - by hand (`--keep` on a terminal): it waits for a decision on the page
//!   or through `cpsf approve` from a second terminal that sourced the env
//!   file.
//!
//! The approval links to the staging site (`reviewUrl`), read from the
//! staging stack's `SiteUrl` output (`upstream.rs`), which the
//! notification names and the page shows as a link.
//!
//! Then it follows the deploy to its end and reports what the pipeline's
//! own state says: approved and deployed, or rejected and stopped.

use super::setup::{PIPELINE, SOURCE_BUCKET, SOURCE_KEY};
use super::upstream::{self, STAGING_STACK, STAGING_URL};
use super::watch::{self, Display};
use super::{APP_TEMPLATE, Run, describe_run, run_once, start_with};
use anyhow::Context;
use aws_sdk_sqs::types::QueueAttributeName;
use cpsf_worker::aws::Clients;
use cpsf_worker::probe::Answer;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The queue the demo reads the notifications from.
const NOTES_QUEUE: &str = "cpsf-demo-approval-notes";
/// Who the demo decides as, on the page.
const DEMO_NAME: &str = "cpsf demo";
const DEMO_COMMENT: &str = "approved on the page by the demo";
/// How long the request may take to reach the topic: the deploy makes
/// its change set first.
const NOTICE_WAIT: Duration = Duration::from_secs(180);

/// Run 1: the app as it is.
const CREATE: Run = Run {
    label: "1/2 create",
    greeting: "hello from cpsf",
    rename_queue: false,
    status: "Succeeded",
    expect: "succeeded: created",
};

/// How the demo's approval is decided.
pub struct Decide<'a> {
    /// Wait for a person (the page or `cpsf approve`) instead of posting
    /// the page's form itself.
    pub by_hand: bool,
    /// How a second terminal gets the playground's environment.
    pub env_hint: &'a str,
}

/// Runs the walk; true when every step did what it should.
pub async fn run(
    clients: &Clients,
    deploy: &Value,
    stack: &str,
    decide: Decide<'_>,
) -> anyhow::Result<bool> {
    let created = run_once(clients, &CREATE, deploy, stack).await?;
    if !created.ok {
        println!("The app was not deployed: {}", created.summary);
        return Ok(false);
    }
    let notes = Notes::new(clients).await?;
    notes.drain().await;
    let topic = cpsf_playground::names::approval_topic_arn();
    upstream::deploy_staging(&clients.sdk).await?;
    println!(
        "The staging site {STAGING_URL} is stack {STAGING_STACK}'s SiteUrl output: the approval \
         links to it."
    );

    // Run 2: the risky change, waiting for a decision.
    let mut risky = deploy.clone();
    risky["parameters"]["Greeting"] = "hello after approval".into();
    risky["approval"] = serde_json::json!({"when": "risky", "notify": topic,
        "timeoutMinutes": 60, "message": "cpsf demo: the queue is renamed",
        "reviewUrl": upstream::from_stack(STAGING_STACK, "SiteUrl")});
    let template = APP_TEMPLATE.replace("WorkQueue", "JobQueue");
    println!();
    println!("run 2/2 risky change: WorkQueue renamed JobQueue (a replacement), deploy.json with");
    println!("  \"approval\": {}", risky["approval"]);
    println!(
        "  By hand: add that block to app/deploy.json, rename WorkQueue in app/template.yaml, zip \
         app/ and: aws s3 cp app.zip s3://{SOURCE_BUCKET}/{SOURCE_KEY} && aws codepipeline \
         start-pipeline-execution --name {PIPELINE}"
    );
    let started = Instant::now();
    let id = start_with(clients, &risky, &template).await?;

    let Some(note) = notes.next(clients, &id, stack).await else {
        let snapshot = watch::snapshot(clients, PIPELINE, &id, stack).await;
        println!(
            "  no notification within {}s; the pipeline says {} ({})",
            NOTICE_WAIT.as_secs(),
            snapshot.status,
            super::action_summary(super::deploy_action(clients, PIPELINE, &id).await.as_ref())
        );
        return Ok(false);
    };
    println!();
    println!("1. The notification, published to {topic}:");
    println!(
        "     Subject: {}",
        note.subject.as_deref().unwrap_or("(none)")
    );
    for line in note.message.lines() {
        println!("     | {line}");
    }
    println!(
        "   By hand: aws sqs receive-message --queue-url {} (this queue is subscribed to the topic)",
        notes.url
    );
    let Some(link) = note.link() else {
        println!("   The notification has no link: the worker serves no page.");
        return Ok(false);
    };
    let page = http(&link, None).await?;
    let token = page_token(&page.body);
    // The page shows the staging site as a link (`approval/page.rs`).
    let staging_link = page.body.contains(&format!("href=\"{STAGING_URL}\""));
    println!();
    println!("2. The page: {link}");
    println!(
        "   GET answered {}{}{}",
        page.status,
        if token.is_some() {
            ", with the Approve and Reject form"
        } else {
            ", without a form"
        },
        if staging_link {
            format!(" and the staging link {STAGING_URL}")
        } else {
            ", WITHOUT the staging link".to_string()
        }
    );
    if !note.message.contains(STAGING_URL) || !staging_link {
        println!("   The notification or the page does not name the staging site.");
        return Ok(false);
    }
    println!("   By hand: open the link in a browser (it works for one decision).");
    println!();
    println!("3. The decision. From a second terminal, instead of the page:");
    println!("     {}", decide.env_hint);
    println!("     cpsf approve {PIPELINE} --comment \"ship it\"     (or --reject)");
    if decide.by_hand {
        println!("   Waiting for your decision (on the page, or with cpsf approve)…");
    } else {
        let Some(token) = token else {
            println!("   The page has no form to decide with.");
            return Ok(false);
        };
        let answer = http(
            &link,
            Some(&[
                ("pageToken", token.as_str()),
                ("name", DEMO_NAME),
                ("comment", DEMO_COMMENT),
                ("decision", "approve"),
            ]),
        )
        .await?;
        println!(
            "   The demo approves on the page as \"{DEMO_NAME}\" (POST of its form with the page's \
             token): {}",
            answer.status
        );
        if answer.status != 200 {
            println!("   The page refused the decision.");
            return Ok(false);
        }
    }

    println!();
    let status = follow(clients, &id, stack).await;
    // What the pipeline says the run did: approved and deployed, or
    // rejected and stopped (only a person rejects).
    let approved = Run {
        label: "2/2 approved",
        greeting: "",
        rename_queue: true,
        status: "Succeeded",
        expect: "approved by",
    };
    let rejected = Run {
        label: "2/2 rejected",
        status: "Failed",
        expect: "rejected by",
        ..approved
    };
    let mut result = describe_run(clients, &approved, &id, status, started.elapsed()).await;
    if !result.ok && decide.by_hand {
        result = describe_run(clients, &rejected, &id, result.status, result.duration).await;
    }
    let verdict = if result.ok { "ok" } else { "NOT OK" };
    println!(
        "4. The deploy: {} in {:.1}s: {} [{verdict}]",
        result.status,
        result.duration.as_secs_f64(),
        result.summary
    );
    if !result.timeline.is_empty() {
        println!("   timeline: {}", result.timeline);
    }
    println!("   By hand: cpsf history {PIPELINE}");
    println!();
    if result.ok {
        println!("The approval by link did what it should.");
    } else {
        println!("The approval by link did NOT do what it should (see above).");
    }
    Ok(result.ok)
}

/// Follows pipeline execution `id` to its end; its status.
async fn follow(clients: &Clients, id: &str, stack: &str) -> String {
    let mut display = Display::new();
    loop {
        let snapshot = watch::snapshot(clients, PIPELINE, id, stack).await;
        display.update("run 2/2", snapshot.line());
        if snapshot.is_done() {
            display.finish(format!("run 2/2 — {}", snapshot.status));
            return snapshot.status;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The queue subscribed to the approval topic, as a mailbox.
struct Notes {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

/// One notification: SNS's subject and message.
struct Note {
    subject: Option<String>,
    message: String,
}

impl Note {
    /// The page link in the message (the worker's `--approval-url`).
    fn link(&self) -> Option<String> {
        self.message
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("http") && l.contains("/approvals/"))
            .map(str::to_string)
    }

    /// SNS delivers to SQS an envelope with `Subject` and `Message` (SNS
    /// developer guide, "Amazon SNS message and JSON formats"); without
    /// one (raw delivery), the body is the message.
    fn from_body(body: &str) -> Note {
        match serde_json::from_str::<Value>(body) {
            Ok(envelope) if envelope["Message"].is_string() => Note {
                subject: envelope["Subject"].as_str().map(str::to_string),
                message: envelope["Message"].as_str().unwrap_or_default().to_string(),
            },
            _ => Note {
                subject: None,
                message: body.to_string(),
            },
        }
    }
}

impl Notes {
    /// Makes the topic, the queue and the subscription (each call is
    /// idempotent, so a running playground takes it again).
    async fn new(clients: &Clients) -> anyhow::Result<Notes> {
        let sns = aws_sdk_sns::Client::new(&clients.sdk);
        let sqs = aws_sdk_sqs::Client::new(&clients.sdk);
        let topic = sns
            .create_topic()
            .name(cpsf_playground::names::APPROVAL_TOPIC)
            .send()
            .await
            .context("CreateTopic")?
            .topic_arn
            .context("CreateTopic answered no ARN")?;
        let url = sqs
            .create_queue()
            .queue_name(NOTES_QUEUE)
            .send()
            .await
            .context("CreateQueue")?
            .queue_url
            .context("CreateQueue answered no URL")?;
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .context("GetQueueAttributes")?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .context("the notes queue has no ARN")?;
        // SNS delivers only to a queue whose policy lets the topic send
        // (SNS developer guide, "Subscribing an Amazon SQS queue to an
        // Amazon SNS topic").
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]});
        sqs.set_queue_attributes()
            .queue_url(&url)
            .attributes(QueueAttributeName::Policy, policy.to_string())
            .send()
            .await
            .context("SetQueueAttributes")?;
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(arn)
            .send()
            .await
            .context("Subscribe")?;
        Ok(Notes { sqs, url })
    }

    /// Drops what an earlier demo on this playground left.
    async fn drain(&self) {
        while let Some(message) = self.receive(0).await {
            self.delete(&message).await;
        }
    }

    async fn receive(&self, wait: i32) -> Option<aws_sdk_sqs::types::Message> {
        self.sqs
            .receive_message()
            .queue_url(&self.url)
            .wait_time_seconds(wait)
            .send()
            .await
            .ok()?
            .messages?
            .into_iter()
            .next()
    }

    async fn delete(&self, message: &aws_sdk_sqs::types::Message) {
        if let Some(receipt) = message.receipt_handle() {
            let _ = self
                .sqs
                .delete_message()
                .queue_url(&self.url)
                .receipt_handle(receipt)
                .send()
                .await;
        }
    }

    /// The notification of pipeline execution `id`'s approval, showing
    /// the run's progress meanwhile; None if the run ends first or none
    /// comes in time.
    async fn next(&self, clients: &Clients, id: &str, stack: &str) -> Option<Note> {
        let mut display = Display::new();
        let deadline = Instant::now() + NOTICE_WAIT;
        while Instant::now() < deadline {
            let snapshot = watch::snapshot(clients, PIPELINE, id, stack).await;
            display.update("run 2/2", snapshot.line());
            if let Some(message) = self.receive(1).await {
                self.delete(&message).await;
                display.finish(format!(
                    "run 2/2 — {} · waiting for approval",
                    snapshot.status
                ));
                return Some(Note::from_body(message.body().unwrap_or_default()));
            }
            if snapshot.is_done() {
                display.finish(format!("run 2/2 — {}", snapshot.status));
                return None;
            }
        }
        display.finish("run 2/2 — no notification".into());
        None
    }
}

/// GET `url` (`form` None) or POST `form` to it, as a browser would: the
/// page is the worker's, on loopback http (`--approval-url`).
async fn http(url: &str, form: Option<&[(&str, &str)]>) -> anyhow::Result<Answer> {
    let body = form.map(|fields| {
        fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    });
    cpsf_worker::probe::request(url, body)
        .await
        .with_context(|| format!("the approval page at {url}"))
}

/// application/x-www-form-urlencoded (WHATWG URL, "urlencoded
/// serializing"), as the worker's own `form_urlencoded` writes it.
fn form_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The page's own token, from its form's hidden field.
fn page_token(page: &str) -> Option<String> {
    page.split("name=\"pageToken\" value=\"")
        .nth(1)?
        .split('"')
        .next()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_is_read_from_snss_envelope_or_raw() {
        let envelope = serde_json::json!({"Type": "Notification", "Subject": "Approve?",
            "Message": "See every change:\nhttp://127.0.0.1:1/approvals/a.b.c\n"});
        let note = Note::from_body(&envelope.to_string());
        assert_eq!(note.subject.as_deref(), Some("Approve?"));
        assert_eq!(
            note.link().as_deref(),
            Some("http://127.0.0.1:1/approvals/a.b.c")
        );
        let raw = Note::from_body("no link here");
        assert_eq!((raw.link(), raw.subject), (None, None));
    }

    #[test]
    fn the_form_is_encoded_as_a_browser_posts_it() {
        assert_eq!(form_encode("ship it & go"), "ship+it+%26+go");
        assert_eq!(
            page_token("<input type=\"hidden\" name=\"pageToken\" value=\"t.1\">").as_deref(),
            Some("t.1")
        );
    }
}
