//! The approval link's security (issue 18), over real HTTP: a forged or
//! altered link, a GET that tries to decide, a form without its page's
//! token and a replayed POST all change nothing; the task token appears
//! neither in the page nor in the notification; every answer forbids
//! caching, framing, scripts and referrers.

use crate::approval_harness::*;
use crate::deploy_harness::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_sideways_requests_change_nothing() {
    let a = approval_setup().await;
    let mut app = App::sample();
    assert_eq!(a.h.deploy("app", &app).await.0, "Succeeded");
    app.template = app.template.replace("WorkQueue", "JobQueue");
    app.deploy["approval"] = json!({"when": "risky", "notify": a.topic});
    let id = a.h.start_deploy("app", &app).await;
    let note = a.next_notification().await;
    let link = a.link_in(&note);
    let page = http(&link, None).await;
    assert_eq!(page.status, 200);
    for (header, value) in [
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
    ] {
        assert_eq!(page.header(header), Some(value), "{header}");
    }
    let policy = page.header("content-security-policy").unwrap_or_default();
    assert!(
        policy.starts_with("default-src 'none'; style-src 'sha256-"),
        "{policy}"
    );

    // The task token is in the store only: not in the page, not in the
    // notification.
    let tokens = a.task_tokens().await;
    assert_eq!(tokens.len(), 1);
    assert!(!page.body.contains(&tokens[0]) && !note.contains(&tokens[0]));

    let (path, signature) = link.rsplit_once('.').unwrap();
    let mut forged = signature.to_string();
    forged.replace_range(0..1, if forged.starts_with('A') { "B" } else { "A" });
    let (start, rest) = path.rsplit_once("/approvals/").unwrap();
    let (id_part, expiry) = rest.split_once('.').unwrap();
    let other_id = format!("{}x", &id_part[..id_part.len() - 1]);
    let later = expiry.parse::<u64>().unwrap() + 86_400;
    let token = page_token(&page.body);
    let approve = |t: &str| {
        [
            ("pageToken", t.to_string()),
            ("name", "Mallory".into()),
            ("decision", "approve".into()),
        ]
    };
    for (what, url) in [
        ("a forged signature", format!("{path}.{forged}")),
        (
            "another approval's id",
            format!("{start}/approvals/{other_id}.{expiry}.{signature}"),
        ),
        (
            "a later expiry",
            format!("{start}/approvals/{id_part}.{later}.{signature}"),
        ),
    ] {
        let seen = http(&url, None).await;
        assert_eq!(seen.status, 404, "{what}");
        assert!(
            seen.body.contains("This link is not valid"),
            "{what}: {}",
            seen.body
        );
        let fields = approve(&token);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(http(&url, Some(&fields)).await.status, 404, "{what}");
    }
    // A GET never decides, whatever it carries.
    let sideways = http(
        &format!("{link}?decision=approve&name=Mallory&pageToken={token}"),
        None,
    )
    .await;
    assert_eq!(sideways.status, 200);
    // A form without its page's token decides nothing.
    let fields = [("name", "Mallory"), ("decision", "approve")];
    assert_eq!(http(&link, Some(&fields)).await.status, 403);
    let fields = [
        ("pageToken", "not-the-token"),
        ("name", "Mallory"),
        ("decision", "approve"),
    ];
    assert_eq!(http(&link, Some(&fields)).await.status, 403);
    assert_eq!(
        a.h.execution_status("app", &id).await.as_str(),
        "InProgress",
        "still waiting"
    );

    // The one decision; its replay changes nothing.
    let fields = [
        ("pageToken", token.as_str()),
        ("name", "Rita"),
        ("comment", "no"),
        ("decision", "reject"),
    ];
    assert_eq!(http(&link, Some(&fields)).await.status, 200);
    let fields = [
        ("pageToken", token.as_str()),
        ("name", "Mallory"),
        ("decision", "approve"),
    ];
    let replayed = http(&link, Some(&fields)).await;
    assert_eq!(replayed.status, 409);
    assert!(
        replayed.body.contains("Rejected by Rita"),
        "{}",
        replayed.body
    );
    assert_eq!(a.h.wait_until_done("app", &id).await, "Failed");
    let message = error_message(&a.h.deploy_detail("app").await);
    assert!(message.contains("rejected by Rita: no"), "{message}");
}
