//! `cpsf environments list` and `prune` (issue 19) as a user runs them,
//! against environments one pipeline deployed on the playground.

use crate::deploy_harness::*;
use crate::environments::{branch_app, tag};
use crate::harness::*;
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// `cpsf environments <args>` under the test stacks' prefix: (exit
/// success, stdout, stderr).
fn environments(h: &Harness, args: &[&str]) -> (bool, String, String) {
    let output = cpsf(&h.env)
        .arg("environments")
        .args(args)
        .args(["--stack-prefix", "cpsf-env-"])
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn json_of(h: &Harness, args: &[&str]) -> Vec<Value> {
    let (ok, stdout, stderr) = environments(h, &[args, &["--json"]].concat());
    assert!(ok, "{stdout}{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn field(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[key].as_str().unwrap_or_default().to_string())
        .collect()
}

/// RFC 3339 for `now + ahead`: the clock `--as-of` sets.
fn later(ahead: Duration) -> String {
    humantime::format_rfc3339_seconds(SystemTime::now() + ahead).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_every_environment_and_prune_takes_only_the_stale_unprotected_ones() {
    let (h, worker) = deploy_setup().await;
    let mut short_lived = branch_app("feature-1");
    short_lived.deploy["ttlHours"] = 1.into();
    for app in [short_lived, branch_app("feature-2"), branch_app("main")] {
        let (status, detail) = h.deploy("app", &app).await;
        assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    }
    // An untagged stack under the prefix is never an environment.
    h.clients
        .cloudformation()
        .create_stack()
        .stack_name("cpsf-env-app-untagged")
        .template_body(APP_TEMPLATE)
        .send()
        .await
        .unwrap();

    let listed = json_of(&h, &["list"]);
    assert_eq!(
        field(&listed, "environment"),
        ["feature-1", "feature-2", "main"]
    );
    assert_eq!(field(&listed, "pipeline"), ["app", "app", "app"]);
    assert_eq!(listed[0]["ttlHours"], 1);
    assert!(
        listed
            .iter()
            .all(|l| l["revision"].as_str().is_some_and(|r| !r.is_empty()))
    );
    assert!(
        listed
            .iter()
            .all(|l| humantime::parse_rfc3339(l["lastDeploy"].as_str().unwrap()).is_ok())
    );
    let (ok, table, _) = environments(&h, &["list"]);
    assert!(ok);
    for expected in [
        "ENVIRONMENT",
        "LAST DEPLOY",
        "cpsf-env-app-feature-2",
        "3 environment(s)",
    ] {
        assert!(table.contains(expected), "{expected}: {table}");
    }

    // By TTL, two hours from now: only feature-1, and a dry run deletes nothing.
    let dry = json_of(&h, &["prune", "--as-of", &later(Duration::from_secs(7200))]);
    assert_eq!(field(&dry, "environment"), ["feature-1"]);
    assert!(
        dry[0]["result"]
            .as_str()
            .unwrap()
            .starts_with("would delete")
    );
    assert!(h.stack("cpsf-env-app-feature-1").await.is_some());

    // By age, two days on, feature-* only; feature-2 is protected.
    h.clients
        .cloudformation()
        .update_termination_protection()
        .stack_name("cpsf-env-app-feature-2")
        .enable_termination_protection(true)
        .send()
        .await
        .unwrap();
    let two_days = later(Duration::from_secs(2 * 86_400));
    let age = [
        "prune",
        "--older-than",
        "1d",
        "--match",
        "feature-*",
        "--as-of",
        &two_days,
    ];
    let dry = json_of(&h, &age);
    assert_eq!(field(&dry, "environment"), ["feature-1", "feature-2"]);
    assert_eq!(dry[1]["result"], "skipped: termination protection");
    let (ok, stdout, stderr) = environments(&h, &[&age[..], &["--yes"]].concat());
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stderr.contains("[1/1] feature-1 (cpsf-env-app-feature-1, us-east-1): deleting"),
        "{stderr}"
    );
    assert!(stdout.contains("RESULT"), "{stdout}");
    assert!(
        stdout.contains("2 selected of 3 environment(s): 1 deleted, 0 failed"),
        "{stdout}"
    );
    assert!(h.stack("cpsf-env-app-feature-1").await.is_none(), "pruned");
    let kept = h
        .stack("cpsf-env-app-feature-2")
        .await
        .expect("protected: kept");
    assert_eq!(tag(&kept, "cpsf:environment"), Some("feature-2"));
    assert!(
        h.stack("cpsf-env-app-main").await.is_some(),
        "not matched: kept"
    );
    assert!(
        h.stack("cpsf-env-app-untagged").await.is_some(),
        "untagged: kept"
    );
    assert_eq!(
        field(&json_of(&h, &["list"]), "environment"),
        ["feature-2", "main"]
    );
    worker.stop().await;
}

/// `git <args>` in `dir`, which must succeed.
fn git(dir: &std::path::Path, args: &[&str]) {
    let output = std::process::Command::new("git")
        .args(["-c", "user.name=cpsf", "-c", "user.email=cpsf@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Issue 29, item 3: an environment goes when its branch does. A local
/// repository stands for the team's; branches are compared as stack-safe
/// names (`feature/Login-2` keeps `feature-login-2`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_branches_from_takes_only_the_environments_of_deleted_branches() {
    let repo = std::env::temp_dir().join(format!("cpsf-branches-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&repo);
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "start"]);
    for branch in ["feature/Login-2", "feature/old-1"] {
        git(&repo, &["branch", branch]);
    }
    let (h, worker) = deploy_setup().await;
    for branch in ["feature/Login-2", "feature/old-1"] {
        let (status, detail) = h.deploy("app", &branch_app(branch)).await;
        assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    }
    git(&repo, &["branch", "-q", "-D", "feature/old-1"]);
    let path = repo.to_str().unwrap();

    let dry = json_of(&h, &["prune", "--branches-from", path]);
    assert_eq!(field(&dry, "environment"), ["feature-old-1"]);
    let result = dry[0]["result"].as_str().unwrap();
    assert!(result.starts_with("would delete"), "{result}");
    let (ok, _, said) = environments(&h, &["prune", "--branches-from", path]);
    assert!(ok, "{said}");
    assert!(
        said.contains(&format!(
            "would prune feature-old-1 (cpsf-env-app-feature-old-1): no branch of {path} has \
             this name (branches compared as stack-safe names)"
        )),
        "{said}"
    );
    assert!(
        h.stack("cpsf-env-app-feature-old-1").await.is_some(),
        "dry run"
    );

    let (ok, stdout, stderr) = environments(&h, &["prune", "--branches-from", path, "--yes"]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("1 selected of 2 environment(s): 1 deleted, 0 failed"),
        "{stdout}"
    );
    assert!(
        h.stack("cpsf-env-app-feature-old-1").await.is_none(),
        "pruned"
    );
    assert!(
        h.stack("cpsf-env-app-feature-login-2").await.is_some(),
        "its branch is a head: kept"
    );

    // Heads that cannot be read delete nothing.
    let (ok, _, stderr) = environments(
        &h,
        &["prune", "--branches-from", "/nonexistent/repo", "--yes"],
    );
    assert!(!ok);
    assert!(stderr.contains("nothing was deleted"), "{stderr}");
    assert!(h.stack("cpsf-env-app-feature-login-2").await.is_some());
    std::fs::remove_dir_all(&repo).unwrap();
    worker.stop().await;
}
