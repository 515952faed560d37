//! A staging link on the approval (issue 29, item 2; seed 001): the
//! input's `approval.reviewUrl` names another stack's output, read where
//! the deploy goes when the request is made; the notification names it
//! on its own line, the page links it, the kept request carries it. An
//! output that is no https URL fails the deploy before anyone is asked.

use crate::approval_harness::*;
use crate::deploy_harness::*;
use serde_json::json;

/// The staging stack: the sample app under another name, its Greeting
/// output holding `url` (the staging site's address).
fn staging(url: &str) -> App {
    let mut app = App::sample();
    app.deploy["stackName"] = "cpsf-demo-staging".into();
    app.deploy["parameters"]["Environment"] = "staging".into();
    app.deploy["parameters"]["Greeting"] = url.into();
    app
}

const STAGING_URL: &str = "https://staging.shop.example/?release=42&x=<y>";
/// As the URL standard writes it (`approval::spec::check_url`).
const SHOWN: &str = "https://staging.shop.example/?release=42&x=%3Cy%3E";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approval_links_the_staging_site_read_from_its_stacks_output() {
    let a = approval_setup().await;
    let (status, detail) = a.h.deploy("app", &staging(STAGING_URL)).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));

    let mut app = App::sample();
    app.deploy["approval"] = json!({"when": "always", "notify": a.topic, "timeoutMinutes": 10,
        "reviewUrl": {"fromStack": "cpsf-demo-staging", "output": "Greeting"}});
    let id = a.h.start_deploy("app", &app).await;
    let note = a.next_notification().await;
    assert!(
        note.contains(&format!("\nReview the staging site: {SHOWN}\n")),
        "{note}"
    );
    let records = approval_records(&a.h).await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0]["request"]["reviewUrl"], SHOWN,
        "{:#}",
        records[0]
    );

    let link = a.link_in(&note);
    let page = http(&link, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let escaped = SHOWN.replace('&', "&amp;");
    assert!(
        page.body.contains(&format!(
            "<a href=\"{escaped}\" rel=\"noopener noreferrer\">{escaped}</a>"
        )),
        "{}",
        page.body
    );
    let decided = decide_on_page(&link, "Ann Approver", "staging looks right", "approve").await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    let status = a.h.wait_until_done("app", &id).await;
    let detail = a.h.deploy_detail("app").await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));

    // The staging stack's output moves to a plain http address: the next
    // deploy fails before anyone is asked, naming the stack and output.
    let (status, detail) =
        a.h.deploy("app", &staging("http://staging.shop.example/"))
            .await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    app.deploy["parameters"]["Greeting"] = "hello again".into();
    let (status, failed) = a.h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    let message = error_message(&failed);
    assert!(message.contains("Cpsf.ReviewUrl"), "{message}");
    assert!(
        message
            .contains("approval.reviewUrl: stack cpsf-demo-staging's output Greeting (in account ")
            && message.contains("'http://staging.shop.example/' is http; it must be https"),
        "{message}"
    );
    assert_eq!(
        approval_records(&a.h).await.len(),
        1,
        "no one else was asked"
    );
    // A literal that will not do fails the input check: nothing deployed.
    app.deploy["approval"]["reviewUrl"] = "javascript:alert(1)".into();
    let (status, refused) = a.h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    let message = error_message(&refused);
    assert!(
        message.contains("Cpsf.InputInvalid")
            && message.contains(
                "approval.reviewUrl: 'javascript:alert(1)' has the scheme 'javascript'; it \
                 must be https"
            ),
        "{message}"
    );
    assert_eq!(
        greeting(&a).await,
        "hello from cpsf",
        "neither deploy changed the stack"
    );
}

/// The app stack's Greeting output, as CloudFormation holds it.
async fn greeting(a: &Approving) -> String {
    let described =
        a.h.clients
            .cloudformation()
            .describe_stacks()
            .stack_name("cpsf-demo-app")
            .send()
            .await
            .unwrap();
    described.stacks()[0]
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("Greeting"))
        .and_then(|o| o.output_value())
        .unwrap_or_default()
        .to_string()
}
