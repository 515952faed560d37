//! The approval page in a real browser (issue 18): headless Chromium
//! opens the link from the SNS message, shows the removed resource,
//! takes a name and a comment, and its Approve and Reject buttons decide;
//! then the used link, a tampered one and an expired one each say so. The
//! staging site (`reviewUrl`) is a link.
//! Screenshots: target/screenshots/approval-*.png.

use crate::approval_harness::*;
use crate::browser::Browser;
use crate::deploy_harness::*;
use fantoccini::Locator;
use serde_json::json;

/// Starts a deploy of `app` and opens its approval's link: `removed`
/// listed as a risky change.
async fn open(a: &Approving, browser: &Browser, app: &App, removed: &str) -> (String, String) {
    let id = a.h.start_deploy("app", app).await;
    let link = a.link_in(&a.next_notification().await);
    browser.client.goto(&link).await.unwrap();
    let risky = browser.client.find(Locator::Css("tr.risky")).await.unwrap();
    let row = risky.text().await.unwrap();
    assert!(row.contains("Remove") && row.contains(removed), "{row}");
    (id, link)
}

async fn decide(browser: &Browser, name: &str, comment: &str, button: &str) {
    let client = &browser.client;
    client
        .find(Locator::Id("name"))
        .await
        .unwrap()
        .send_keys(name)
        .await
        .unwrap();
    client
        .find(Locator::Id("comment"))
        .await
        .unwrap()
        .send_keys(comment)
        .await
        .unwrap();
    client
        .find(Locator::Css(button))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client.wait().for_element(Locator::Css("h1")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_approves_and_rejects_in_a_browser_and_spent_links_say_so() {
    let a = approval_setup().await;
    let browser = Browser::start().await;
    let mut app = App::sample();
    assert_eq!(a.h.deploy("app", &app).await.0, "Succeeded");
    app.template = app.template.replace("WorkQueue", "JobQueue");
    app.deploy["approval"] = json!({"when": "risky", "notify": a.topic, "timeoutMinutes": 30,
                                    "message": "Release 42: the queue gets a new name",
                                    "reviewUrl": "https://staging.shop.example/?release=42"});

    // Approve.
    let (id, link) = open(&a, &browser, &app, "WorkQueue").await;
    // The staging site is a link that sends no referrer (issue 29).
    let review = browser
        .client
        .find(Locator::Css("a[rel=\"noopener noreferrer\"]"))
        .await
        .unwrap();
    assert_eq!(
        review.attr("href").await.unwrap().as_deref(),
        Some("https://staging.shop.example/?release=42")
    );
    browser.screenshot("approval-page").await;
    decide(&browser, "Ann Approver", "ship it", "button.approve").await;
    let said = browser.text().await;
    assert!(said.starts_with("Approved"), "{said}");
    browser.screenshot("approval-approved").await;
    assert_eq!(a.h.wait_until_done("app", &id).await, "Succeeded");
    // The used link shows the decision and offers no form.
    browser.client.goto(&link).await.unwrap();
    let said = browser.text().await;
    assert!(
        said.contains("Already decided") && said.contains("Approved by Ann Approver"),
        "{said}"
    );
    assert!(browser.client.find(Locator::Css("form")).await.is_err());

    // Reject: another new name, refused by a person.
    app.template = App::sample().template.replace("WorkQueue", "LegacyQueue");
    let (id, link) = open(&a, &browser, &app, "JobQueue").await;
    decide(&browser, "Rita", "not before the launch", "button.reject").await;
    let said = browser.text().await;
    assert!(said.starts_with("Rejected"), "{said}");
    browser.screenshot("approval-rejected").await;
    assert_eq!(a.h.wait_until_done("app", &id).await, "Failed");
    let message = error_message(&a.h.deploy_detail("app").await);
    assert!(
        message.contains("rejected by Rita: not before the launch"),
        "{message}"
    );

    // A tampered link.
    browser.client.goto(&format!("{link}x")).await.unwrap();
    let said = browser.text().await;
    assert!(said.contains("This link is not valid"), "{said}");
    browser.screenshot("approval-tampered").await;

    // An expired one.
    app.deploy["approval"]["timeoutMinutes"] = 1.into();
    let (id, link) = open(&a, &browser, &app, "JobQueue").await;
    assert_eq!(
        a.h.wait_until_done_within("app", &id, std::time::Duration::from_secs(150))
            .await,
        "Failed"
    );
    browser.client.goto(&link).await.unwrap();
    let said = browser.text().await;
    assert!(said.contains("This link has expired"), "{said}");
    browser.screenshot("approval-expired").await;
    browser.stop().await;
}
