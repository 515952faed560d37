//! `cpsf worker` as a process taking an approval through to its end: the
//! task token, the signing key and the link's signature never reach its
//! logs (at trace level).

use crate::approval_harness::*;
use crate::deploy_harness::*;
use crate::harness::*;
use serde_json::json;
use std::process::Stdio;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_key_or_link_reaches_the_workers_logs() {
    let h = deploy_playground().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log =
        std::env::temp_dir().join(format!("cpsf-approvals-{}-{port}.log", std::process::id()));
    // The env file's CPSF_APPROVALS_QUEUE, CPSF_APPROVAL_STORE and
    // CPSF_APPROVAL_KEY, as `cpsf local up` writes them.
    let mut worker = cpsf_worker(&h.env)
        .args([
            "--follow-for",
            "5s",
            "--poll-max",
            &poll_max_flag(),
            "--approval-listen",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--approval-url", &base])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start cpsf worker");
    let notes = Notes::new(&h).await;
    page_answers(&base).await;

    let mut app = App::sample();
    assert_eq!(h.deploy("app", &app).await.0, "Succeeded");
    app.template = app.template.replace("WorkQueue", "JobQueue");
    app.deploy["approval"] = json!({"when": "risky", "notify": notes.topic});
    let id = h.start_deploy("app", &app).await;
    let link = link_in(&base, &notes.next().await);
    let token = page_token(&http(&link, None).await.body);
    let fields = [
        ("pageToken", token.as_str()),
        ("name", "Ann"),
        ("decision", "approve"),
    ];
    assert_eq!(http(&link, Some(&fields)).await.status, 200);
    assert_eq!(h.wait_until_done("app", &id).await, "Succeeded");
    let tokens = task_tokens(&h).await;
    let _ = worker.kill();
    let _ = worker.wait();

    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(
        text.contains("approval requested"),
        "the log is the worker's: {text:.2000}"
    );
    let signature = link.rsplit('.').next().unwrap();
    let key = h.env.approvals.clone().unwrap().key;
    for (what, secret) in [
        ("the task token", tokens[0].as_str()),
        ("the key", key.as_str()),
        ("the link's signature", signature),
        ("the page token", token.as_str()),
    ] {
        assert!(!text.contains(secret), "{what} reached the worker's logs");
    }
}
