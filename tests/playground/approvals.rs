//! Approval by link (issue 18) on the playground, over real HTTP: the
//! notification read from an SNS topic's SQS subscriber, the page fetched
//! and the form posted as a browser would (the browser tests click through
//! the same page in Chromium).

use crate::approval_harness::*;
use crate::deploy_harness::*;
use serde_json::json;

/// A revision whose change set removes a resource (both emulators report
/// a removal as AWS does): the queue's logical id renamed.
fn risky(app: &mut App, topic: &str, when: &str) {
    app.template = app.template.replace("WorkQueue", "JobQueue");
    app.deploy["approval"] = json!({"when": when, "notify": topic, "timeoutMinutes": 10,
                                    "message": "Release 42: renames the queue"});
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_replacement_is_deployed_and_says_who_approved_it() {
    let a = approval_setup().await;
    let mut app = App::sample();
    let (status, detail) = a.h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));

    risky(&mut app, &a.topic, "risky");
    let id = a.h.start_deploy("app", &app).await;
    let note = a.next_notification().await;
    assert!(
        note.contains("1 added") && note.contains("1 removed: WorkQueue (AWS::SQS::Queue)"),
        "{note}"
    );
    assert!(
        note.contains("Note from the pipeline: Release 42"),
        "{note}"
    );
    let link = a.link_in(&note);
    let page = http(&link, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("<tr class=\"risky\"><td>Remove</td><td>WorkQueue</td>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<summary>Template changes</summary>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<span class=\"add\">+  JobQueue:</span>"),
        "{}",
        page.body
    );
    let token = page_token(&page.body);
    let decided = http(
        &link,
        Some(&[
            ("pageToken", &token),
            ("name", "Ann Approver"),
            ("comment", "ship it"),
            ("decision", "approve"),
        ]),
    )
    .await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    assert!(decided.body.contains("Approved"), "{}", decided.body);

    let status = a.h.wait_until_done("app", &id).await;
    let detail = a.h.deploy_detail("app").await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    let queue = output_variable(&detail, "QueueUrl").unwrap_or_default();
    assert!(queue.contains("JobQueue"), "the renamed queue: {queue}");
    assert!(
        summary(&detail).contains("approved by Ann Approver: ship it"),
        "{}",
        summary(&detail)
    );
    assert_eq!(
        output_variable(&detail, "ApprovedBy").as_deref(),
        Some("Ann Approver")
    );

    // `cpsf history` says who approved.
    let shown = tokio::task::spawn_blocking({
        let env = a.h.env.clone();
        move || crate::history::history_with(&env, &["app"])
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains("approval   approved by Ann Approver: ship it"),
        "{text}"
    );

    // The link is spent: it shows the decision and changes nothing.
    let again = http(&link, None).await;
    assert_eq!(again.status, 409);
    assert!(
        again.body.contains("Approved by Ann Approver"),
        "{}",
        again.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_replacement_fails_naming_who_rejected_and_deletes_the_change_set() {
    let a = approval_setup().await;
    let mut app = App::sample();
    let (status, _) = a.h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded");

    risky(&mut app, &a.topic, "risky");
    let id = a.h.start_deploy("app", &app).await;
    let link = a.link_in(&a.next_notification().await);
    // Control and bidirectional formatting characters do not reach the
    // pipeline (issue 27): the name and comment are plain text.
    let decided = decide_on_page(
        &link,
        "Rita\u{202e}",
        "not before\r\nthe launch\u{7}",
        "reject",
    )
    .await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    assert!(decided.body.contains("Rejected"), "{}", decided.body);

    let status = a.h.wait_until_done("app", &id).await;
    let detail = a.h.deploy_detail("app").await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    assert!(
        message.contains("rejected by Rita: not before the launch; the change set was deleted"),
        "{message}"
    );
    assert_eq!(
        a.h.app_stack_in(None, crate::targets::HERE)
            .await
            .map(|s| s.1)
            .as_deref(),
        Some("demo"),
        "unchanged"
    );
    let change_sets =
        a.h.clients
            .cloudformation()
            .list_change_sets()
            .stack_name("cpsf-demo-app")
            .send()
            .await
            .unwrap();
    assert!(
        change_sets.summaries().is_empty(),
        "{:?}",
        change_sets.summaries()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_asks_even_for_a_modest_change_and_never_leaves_it_to_the_gate() {
    let a = approval_setup().await;
    let mut app = App::sample();
    assert_eq!(a.h.deploy("app", &app).await.0, "Succeeded");

    // `always`: an in-place change waits for a decision too.
    app.deploy["parameters"]["Greeting"] = "hello again".into();
    app.deploy["approval"] = json!({"when": "always", "notify": a.topic});
    let id = a.h.start_deploy("app", &app).await;
    let note = a.next_notification().await;
    assert!(!note.contains("data may be lost"), "{note}");
    let link = a.link_in(&note);
    let decided = decide_on_page(&link, "Ann", "", "approve").await;
    assert_eq!(decided.status, 200);
    assert_eq!(a.h.wait_until_done("app", &id).await, "Succeeded");
    let detail = a.h.deploy_detail("app").await;
    assert_eq!(
        output_variable(&detail, "Greeting").as_deref(),
        Some("hello again")
    );
    assert!(
        summary(&detail).contains("approved by Ann"),
        "{}",
        summary(&detail)
    );

    // `never`: the gate alone decides, and refuses a removal.
    risky(&mut app, &a.topic, "never");
    let (status, detail) = a.h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    assert!(
        error_message(&detail).contains("Cpsf.UnsafeChange"),
        "{}",
        error_message(&detail)
    );
    // No changes never ask, whatever `when` says.
    app.template = App::sample().template;
    app.deploy["approval"] = json!({"when": "always", "notify": a.topic});
    let (status, detail) = a.h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    assert!(
        summary(&detail).contains("no changes"),
        "{}",
        summary(&detail)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_approval_times_out_and_its_link_expires() {
    let a = approval_setup().await;
    let mut app = App::sample();
    assert_eq!(a.h.deploy("app", &app).await.0, "Succeeded");
    risky(&mut app, &a.topic, "risky");
    app.deploy["approval"]["timeoutMinutes"] = 1.into();
    let id = a.h.start_deploy("app", &app).await;
    let link = a.link_in(&a.next_notification().await);
    let status =
        a.h.wait_until_done_within("app", &id, std::time::Duration::from_secs(150))
            .await;
    assert_eq!(status, "Failed");
    let message = error_message(&a.h.deploy_detail("app").await);
    assert!(
        message.contains("approval timed out after 1 minute; the change set was deleted"),
        "{message}"
    );
    let late = http(&link, None).await;
    assert_eq!(late.status, 410, "{}", late.body);
    assert!(late.body.contains("This link has expired"), "{}", late.body);
    assert_eq!(a.h.app_stack_status().await, "CREATE_COMPLETE", "untouched");
}

/// Ann approves, Step Functions takes it, and the answer is lost on its
/// way back (the connection closes): the worker cannot know it was taken
/// (issue 27). Her decision stays kept: the page says so, Rita's
/// rejection after it is refused naming Ann's approval, and the deploy
/// goes on as approved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_whose_answer_is_lost_stays_kept_and_no_other_follows() {
    use cpsf_playground::proxy::{Phase, Verdict};
    use std::sync::atomic::{AtomicBool, Ordering};
    // Armed once the deploy waits for approval: the task handlers answer
    // their tasks with SendTaskSuccess too.
    let armed = std::sync::Arc::new(AtomicBool::new(false));
    let lost = std::sync::Arc::new(AtomicBool::new(false));
    let hook: cpsf_playground::proxy::Hook = {
        let (armed, lost) = (armed.clone(), lost.clone());
        std::sync::Arc::new(move |phase, operation: &str, _: &[u8]| {
            let first = phase == Phase::After
                && operation == "states:SendTaskSuccess"
                && armed.load(Ordering::SeqCst)
                && !lost.swap(true, Ordering::SeqCst);
            if first {
                Verdict::Drop
            } else {
                Verdict::Continue
            }
        })
    };
    let a = approval_setup_with(Some(hook)).await;
    let mut app = App::sample();
    assert_eq!(a.h.deploy("app", &app).await.0, "Succeeded");
    risky(&mut app, &a.topic, "risky");
    let id = a.h.start_deploy("app", &app).await;
    let link = a.link_in(&a.next_notification().await);
    let page = http(&link, None).await;
    let token = page_token(&page.body);
    let decide = |name: &'static str, decision: &'static str| {
        let (link, token) = (link.clone(), token.clone());
        async move {
            http(
                &link,
                Some(&[
                    ("pageToken", token.as_str()),
                    ("name", name),
                    ("decision", decision),
                ]),
            )
            .await
        }
    };
    armed.store(true, Ordering::SeqCst);
    let approved = decide("Ann", "approve").await;
    assert!(lost.load(Ordering::SeqCst), "the answer was lost");
    assert_eq!(approved.status, 503, "{}", approved.body);
    assert!(
        approved.body.contains("Approved by Ann is kept"),
        "{}",
        approved.body
    );
    let shown = http(&link, None).await;
    assert!(
        shown.body.contains("Approved by Ann is kept."),
        "the page says what is kept: {}",
        shown.body
    );
    let rejected = decide("Rita", "reject").await;
    assert_eq!(rejected.status, 409, "{}", rejected.body);
    assert!(
        rejected.body.contains("Already decided") && rejected.body.contains("Approved by Ann"),
        "{}",
        rejected.body
    );
    let status = a.h.wait_until_done("app", &id).await;
    let detail = a.h.deploy_detail("app").await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    assert_eq!(
        output_variable(&detail, "ApprovedBy").as_deref(),
        Some("Ann")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpsf_approve_decides_from_a_shell_once() {
    let a = approval_setup().await;
    let mut app = App::sample();
    assert_eq!(a.h.deploy("app", &app).await.0, "Succeeded");
    risky(&mut app, &a.topic, "risky");
    let id = a.h.start_deploy("app", &app).await;
    let note = a.next_notification().await;
    assert!(
        note.contains("/approvals/"),
        "a page is served, so a link: {note}"
    );
    let store = a.h.env.approvals.clone().unwrap().store;
    // The notification names the execution, as a user would copy it.
    let execution = note
        .lines()
        .find_map(|l| l.strip_prefix("Execution: "))
        .expect("the execution in the notification")
        .to_string();
    let approve = |args: Vec<String>| {
        let env = a.h.env.clone();
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            crate::harness::cpsf(&env)
                .arg("approve")
                .args(args)
                .env("CPSF_APPROVAL_STORE", store)
                .output()
                .unwrap()
        })
    };
    let done = approve(
        [
            execution.as_str(),
            "--name",
            "Ops",
            "--comment",
            "from the shell",
        ]
        .map(String::from)
        .to_vec(),
    )
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(said.contains("approved by Ops: from the shell"), "{said}");
    assert_eq!(a.h.wait_until_done("app", &id).await, "Succeeded");
    // By the pipeline's name, once it shows the execution: decided.
    let again = approve(
        ["app", "--reject", "--name", "Late"]
            .map(String::from)
            .to_vec(),
    )
    .await
    .unwrap();
    assert!(!again.status.success());
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(
        said.contains("already decided (approved by Ops: from the shell)"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_approval_input_is_refused_before_anything_changes() {
    let a = approval_setup().await;
    let mut app = App::sample();
    app.deploy["approval"] =
        json!({"when": "sometimes", "notify": "arn:aws:sqs:us-east-1:123456789012:q"});
    let (status, detail) = a.h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    assert!(
        message.contains("approval.when is \"sometimes\""),
        "{message}"
    );
    assert!(message.contains("is not an SNS topic ARN"), "{message}");
    assert!(
        a.h.app_stack_in(None, crate::targets::HERE).await.is_none(),
        "nothing deployed"
    );
    // As long as the execution's own 24 h: the execution would time out
    // first, and no Catch runs then to delete the change set.
    app.deploy["approval"] = json!({"when": "always", "timeoutMinutes": 1440});
    let (status, detail) = a.h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    assert!(
        message.contains("Cpsf.InputInvalid")
            && message.contains("approval.timeoutMinutes is 1440; it must be a whole number of minutes from 1 to 1380"),
        "{message}"
    );
    assert!(
        a.h.app_stack_in(None, crate::targets::HERE).await.is_none(),
        "nothing deployed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_stack_waits_too_and_a_rejected_one_leaves_nothing_behind() {
    let a = approval_setup().await;
    let mut app = App::sample();
    app.deploy["approval"] = json!({"when": "always", "notify": a.topic});
    // Rejected: the CREATE change set and the empty stack it made go.
    let id = a.h.start_deploy("app", &app).await;
    let note = a.next_notification().await;
    assert!(note.contains("What changes: 2 added"), "{note}");
    let link = a.link_in(&note);
    let decided = decide_on_page(&link, "Rita", "", "reject").await;
    assert_eq!(decided.status, 200);
    assert_eq!(a.h.wait_until_done("app", &id).await, "Failed");
    let message = error_message(&a.h.deploy_detail("app").await);
    assert!(
        message.contains("rejected by Rita; the change set was deleted"),
        "{message}"
    );
    assert_eq!(
        a.h.app_stack_in(None, crate::targets::HERE).await,
        None,
        "no stack left"
    );
    // Approved: created through the change set.
    let id = a.h.start_deploy("app", &app).await;
    let link = a.link_in(&a.next_notification().await);
    let decided = decide_on_page(&link, "Ann", "", "approve").await;
    assert_eq!(decided.status, 200);
    assert_eq!(a.h.wait_until_done("app", &id).await, "Succeeded");
    assert_eq!(a.h.app_stack_status().await, "CREATE_COMPLETE");
    let detail = a.h.deploy_detail("app").await;
    assert!(
        summary(&detail).contains("created; approved by Ann"),
        "{}",
        summary(&detail)
    );
}
