//! Helpers for approval tests (issue 18): a worker that takes approval
//! requests and serves the page on loopback, an SNS topic whose messages
//! land in an SQS queue the test reads (as an email subscriber would read
//! them), and a small HTTP/1.1 client for the page.

use crate::deploy_harness::*;
use crate::harness::*;
use crate::worker_harness::*;
use cpsf_worker::worker::{ApprovalOptions, WorkerOptions};
use std::time::Duration;

pub struct Approving {
    pub h: Harness,
    pub _worker: RunningWorker,
    /// The proxy between the worker and the playground, if one.
    pub _proxy: Option<cpsf_playground::proxy::Proxy>,
    /// http://127.0.0.1:<port>, the page's base URL.
    pub base: String,
    pub topic: String,
    notes: Notes,
}

/// A free loopback port (bound, then let go).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A deploy playground whose worker takes approvals and serves the page.
pub async fn approval_setup() -> Approving {
    approval_setup_with(None).await
}

/// The same, with the worker's AWS calls through a proxy that runs `hook`
/// on each (to lose an answer, say).
pub async fn approval_setup_with(hook: Option<cpsf_playground::proxy::Hook>) -> Approving {
    let h = deploy_playground().await;
    let (proxy, through) = match hook {
        Some(hook) => {
            let (proxy, env) = h
                .proxy(cpsf_playground::proxy::FaultPlan::none(), Some(hook))
                .await;
            (Some(proxy), Some(Harness::on(&env).await))
        }
        None => (None, None),
    };
    let approvals = h
        .env
        .approvals
        .clone()
        .expect("the playground makes approvals");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let worker = through.as_ref().unwrap_or(&h).spawn_worker(WorkerOptions {
        approvals: Some(ApprovalOptions {
            queue: Some(approvals.queue),
            store: approvals.store,
            key: approvals.key,
            url: Some(base.clone()),
            listen: Some(format!("127.0.0.1:{port}").parse().unwrap()),
        }),
        ..deploy_worker_options(true, true, cpsf_playground::preset::job())
    });
    let notes = Notes::new(&h).await;
    page_answers(&base).await;
    Approving {
        h,
        _worker: worker,
        _proxy: proxy,
        base,
        topic: notes.topic.clone(),
        notes,
    }
}

/// Waits until the approval page answers at `base`.
pub async fn page_answers(base: &str) {
    wait_for_long("the approval page", Duration::from_secs(10), || async {
        cpsf_worker::probe::http_status(base, "GET", "/approvals/x")
            .await
            .ok()
    })
    .await;
}

/// The approval tests' SNS topic (the worker's role may publish to it:
/// `harness::worker_grants`).
pub const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:deploy-approvals";

/// An SNS topic whose messages land, raw, in an SQS queue the test reads,
/// as an email subscriber would read them.
pub struct Notes {
    pub topic: String,
    queue: String,
    sqs: aws_sdk_sqs::Client,
}

impl Notes {
    pub async fn new(h: &Harness) -> Notes {
        let sdk = &h.clients.sdk;
        let sns = aws_sdk_sns::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let topic = sns
            .create_topic()
            .name(TOPIC.rsplit(':').next().unwrap())
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let queue = sqs
            .create_queue()
            .queue_name("approval-notes")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        // SNS delivers to a queue whose policy lets the topic send (SNS
        // developer guide, "Subscribing an Amazon SQS queue to an Amazon
        // SNS topic"); MiniStack checking IAM holds to it.
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]});
        sqs.set_queue_attributes()
            .queue_url(&queue)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::Policy,
                policy.to_string(),
            )
            .send()
            .await
            .unwrap();
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .unwrap();
        Notes { topic, queue, sqs }
    }

    /// The next notification's text (SNS's Message, raw).
    pub async fn next(&self) -> String {
        wait_for_long(
            "an approval notification",
            Duration::from_secs(60),
            || async {
                let received = self
                    .sqs
                    .receive_message()
                    .queue_url(&self.queue)
                    .wait_time_seconds(2)
                    .send()
                    .await
                    .ok()?;
                let message = received.messages?.into_iter().next()?;
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue)
                    .receipt_handle(message.receipt_handle()?)
                    .send()
                    .await
                    .ok()?;
                message.body
            },
        )
        .await
    }
}

impl Approving {
    pub async fn next_notification(&self) -> String {
        self.notes.next().await
    }

    /// The task tokens the approval store holds (to show they go nowhere
    /// else).
    pub async fn task_tokens(&self) -> Vec<String> {
        task_tokens(&self.h).await
    }

    /// The approval link in a notification.
    pub fn link_in(&self, notification: &str) -> String {
        link_in(&self.base, notification)
    }
}

/// The approval link in a notification.
pub fn link_in(base: &str, notification: &str) -> String {
    notification
        .lines()
        .find(|l| l.starts_with(&format!("{base}/approvals/")))
        .unwrap_or_else(|| panic!("no link in: {notification}"))
        .trim()
        .to_string()
}

/// The task tokens the playground's approval store holds.
pub async fn task_tokens(h: &Harness) -> Vec<String> {
    approval_records(h)
        .await
        .iter()
        .map(|record| record["taskToken"].as_str().unwrap().to_string())
        .collect()
}

/// The approval records the playground's approval store holds (each
/// request with its task token; not the decisions).
pub async fn approval_records(h: &Harness) -> Vec<serde_json::Value> {
    let store = h.env.approvals.clone().unwrap().store;
    let (bucket, prefix) = store.trim_start_matches("s3://").split_once('/').unwrap();
    let listed =
        h.s3.list_objects_v2()
            .bucket(bucket)
            .prefix(format!("{prefix}/approvals/"))
            .send()
            .await
            .unwrap();
    let mut records = Vec::new();
    for key in listed.contents().iter().filter_map(|o| o.key()) {
        if key.ends_with(".decision.json") {
            continue;
        }
        let object =
            h.s3.get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap();
        let bytes = object.body.collect().await.unwrap().into_bytes();
        records.push(serde_json::from_slice(&bytes).unwrap());
    }
    records
}

/// One answer: status, headers (lowercase names), body.
pub use cpsf_worker::probe::Answer;

/// GET (`form` None) or POST a form to `url` (http://127.0.0.1 only),
/// encoded by [`encode`] (which the security tests rely on).
pub async fn http(url: &str, form: Option<&[(&str, &str)]>) -> Answer {
    let body = form.map(|fields| {
        fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    });
    cpsf_worker::probe::request(url, body).await.unwrap()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Opens `link` and decides there as a person would: `decision` is
/// "approve" or "reject", posted with the page's own token.
pub async fn decide_on_page(link: &str, name: &str, comment: &str, decision: &str) -> Answer {
    let token = page_token(&http(link, None).await.body);
    let fields = [
        ("pageToken", token.as_str()),
        ("name", name),
        ("comment", comment),
        ("decision", decision),
    ];
    http(link, Some(&fields)).await
}

/// The page token in an approval page.
pub fn page_token(page: &str) -> String {
    page.split("name=\"pageToken\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a page token in the page")
        .to_string()
}
