//! `cpsf demo` as a newcomer runs it: a separate process, output not a
//! terminal (plain progress lines), exit code 0 only if every run (or
//! step) did what it should.

use crate::harness::*;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn demo(env: &[(&'static str, String)]) -> Output {
    demo_with(&[], env)
}

fn demo_with(args: &[&str], env: &[(&'static str, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cpsf"));
    command.arg("demo").args(args).stdin(Stdio::null());
    command
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_CODEPIPELINE");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run cpsf demo")
}

/// Runs a demo mode only MiniStack can run: its output when it
/// succeeded there; None on fakecloud, where it must refuse at once
/// saying so.
fn ministack_demo(mode: &str) -> Option<String> {
    let output = demo_with(&[mode], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if emulator() == cpsf_playground::Emulator::Fakecloud {
        assert!(!output.status.success(), "{stdout}");
        assert!(stderr.contains("only MiniStack emulates"), "{stderr}");
        return None;
    }
    assert!(output.status.success(), "{stdout}\n{stderr}");
    Some(stdout)
}

/// The playground an env file's text names.
fn env_in(text: &str) -> cpsf_playground::LocalEnv {
    cpsf_playground::LocalEnv::from_vars(|name| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .map(str::to_string)
    })
    .expect("both endpoints in the env file")
}

fn assert_four_runs_ok(output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("4 of 4 runs did what they should."),
        "{stdout}"
    );
    for expected in [
        "succeeded: created",
        "succeeded: updated",
        "succeeded: no changes",
        "Greeting=hello again from cpsf",
        "Cpsf.UnsafeChange",
        "WorkQueue (AWS::SQS::Queue): removed",
    ] {
        assert!(
            stdout.contains(expected),
            "missing '{expected}' in\n{stdout}"
        );
    }
    // Not a terminal: progress comes as plain lines, one per change.
    assert!(
        stdout.contains("run 1/4 create InProgress · stage Deploy"),
        "{stdout}"
    );
    // Route: one stack or a rollout (statemachines/README.md).
    assert!(stdout.contains("timeline: Route +"), "{stdout}");
    assert!(stdout.contains("→ CheckStack +"), "{stdout}");
}

#[test]
fn the_demo_deploys_four_times_on_its_own_playground() {
    assert_four_runs_ok(&demo(&[]));
}

#[tokio::test]
async fn the_demo_uses_a_running_playground_and_runs_again() {
    let dir = std::env::temp_dir().join(format!("cpsf-demo-up-{}", std::process::id()));
    let env_file = dir.join("local.env");
    let mut up = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_cpsf"))
            .args(["local", "up", "--env-file"])
            .arg(&env_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let text = wait_for("the env file", || async {
        std::fs::read_to_string(&env_file)
            .ok()
            .filter(|t| env_file_complete(t))
    })
    .await;
    let vars: Vec<(&'static str, String)> = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CODEPIPELINE"]
        .into_iter()
        .map(|name| {
            let value = text
                .lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap()
                .to_string();
            (name, value)
        })
        .collect();
    // The first run as README has it: the whole env file sourced, the
    // demo told the same file; the second with the endpoints alone.
    let sourced: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let first = tokio::task::spawn_blocking({
        let (sourced, env_file) = (sourced.clone(), env_file.clone());
        move || {
            let mut command = Command::new(env!("CARGO_BIN_EXE_cpsf"));
            command.args(["demo", "--env-file"]).arg(&env_file);
            command.stdin(Stdio::null()).envs(sourced);
            command.output().unwrap()
        }
    })
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&first.stdout).contains("Using the playground at"));
    assert_four_runs_ok(&first);
    approvals_go_where_the_env_file_says(&env_file).await;
    let output = tokio::task::spawn_blocking({
        let vars = vars.clone();
        move || demo(&vars)
    })
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("Using the playground at"));
    assert_four_runs_ok(&output);
    // The demo's failing case, diagnosed with one call, as a user who
    // sourced the env file would make it.
    let all_vars: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let history = tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cpsf"));
        command.args(["history", "cpsf-demo"]);
        for (name, value) in &all_vars {
            command.env(name, value);
        }
        command.output().unwrap()
    })
    .await
    .unwrap();
    let shown = String::from_utf8_lossy(&history.stdout);
    assert!(
        shown.contains("status     FAILED"),
        "{shown}\n{}",
        String::from_utf8_lossy(&history.stderr)
    );
    assert!(
        shown.contains("caused by task 'UpdateStack': Cpsf.UnsafeChange: the update would remove or replace WorkQueue"),
        "{shown}"
    );
    terminate(&mut up.0, Duration::from_secs(10)).await;
}

/// After `cpsf demo` on a playground `cpsf local up` started, the env
/// file names the queue the demo pipeline's state machine sends approval
/// requests to, so a worker started from it serves them. On fakecloud the
/// demo installs bootstrap/cpsf.yaml, whose ApprovalsQueue is not the one
/// `cpsf local up` made and wrote: the file once named the latter.
async fn approvals_go_where_the_env_file_says(env_file: &std::path::Path) {
    let text = std::fs::read_to_string(env_file).unwrap();
    let env = env_in(&text);
    let queue = env
        .approvals
        .clone()
        .expect("approvals in the env file")
        .queue;
    let h = Harness::on(&env).await;
    let pipeline = h
        .clients
        .codepipeline
        .get_pipeline()
        .name(cpsf::demo::setup::PIPELINE)
        .send()
        .await
        .unwrap();
    let machine = pipeline
        .pipeline()
        .unwrap()
        .stages()
        .iter()
        .flat_map(|s| s.actions())
        .find_map(|a| a.configuration()?.get("StateMachineArn").cloned())
        .expect("the Deploy action names its state machine");
    let definition = h
        .sfn
        .describe_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap()
        .definition;
    assert!(
        definition.contains(&format!("\"{queue}\"")),
        "the env file names {queue}; the state machine sends approval requests elsewhere:\n{definition}"
    );
}

/// `cpsf demo --targets`: one Deploy action rolls the app out to two
/// accounts × two regions in three waves, the progress of each target
/// live, then a table. Two accounts need MiniStack (a 12-digit access key
/// is the account); on fakecloud the demo says so at once.
#[test]
fn the_demo_rolls_the_app_out_to_two_accounts_and_two_regions() {
    let Some(stdout) = ministack_demo("--targets") else {
        return;
    };
    // Live: wave 2's two targets deploy together, after wave 1.
    assert!(
        stdout.contains("tools-use1 Succeeded · tools-usw2 deploying · prod-use1 deploying"),
        "{stdout}"
    );
    assert!(stdout.contains("rollout — Succeeded in"), "{stdout}");
    for (target, wave, place) in [
        ("tools-use1", "1/3", ":us-east-1:123456789012:"),
        ("tools-usw2", "2/3", ":us-west-2:123456789012:"),
        ("prod-use1", "2/3", ":us-east-1:222222222222:"),
        ("prod-usw2", "3/3", ":us-west-2:222222222222:"),
    ] {
        let row = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(target) && l.contains(":stack/"))
            .unwrap_or_else(|| panic!("no row for {target} in {stdout}"));
        assert!(
            row.contains(wave) && row.contains("Succeeded") && row.contains(place),
            "{row}"
        );
        // Each target's Greeting came from the layer stack of its own
        // account and region (`{"fromStack": "cpsf-demo-layer", …}`).
        let (region, account) = place.trim_matches(':').split_once(':').unwrap();
        assert!(
            row.contains(&format!("hello from the layer in {account}/{region}")),
            "{row}"
        );
    }
    // The pipeline's summary says where each target read it.
    let summary = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("The pipeline's summary: "))
        .unwrap_or_else(|| panic!("no summary in {stdout}"));
    assert!(
        summary.ends_with(
            "succeeded: rollout complete: 4 of 4 targets deployed in 3 waves; from \
             stack outputs: Greeting ← cpsf-demo-layer.Greeting at tools-use1 \
             (123456789012/us-east-1), tools-usw2 (123456789012/us-west-2), prod-use1 \
             (222222222222/us-east-1), prod-usw2 (222222222222/us-west-2)"
        ),
        "{summary}"
    );
}

/// `cpsf demo --canary`: release 1 created, release 2 shifted 10% then
/// 50% then all of it with the alias shown live, release 3 rolled back by
/// the alarm the demo fires during its first bake. MiniStack only (Lambda
/// versions and weighted aliases); on fakecloud the demo says so at once.
#[test]
fn the_demo_shifts_an_alias_in_steps_and_rolls_one_back() {
    let Some(stdout) = ministack_demo("--canary") else {
        return;
    };
    for shown in [
        "alias live: version 1, 10% to version 2",
        "alias live: version 1, 50% to version 2",
        "release 2 — Succeeded in",
        "canary on alias Live (from version 1): 10% → 50% → 100%",
        "release 3 — Failed in",
        "alias live on version 2 (as it should)",
        "canary stopped during the bake of step 1/2 (10%), alarm 'cpsf-demo-api-errors' is in ALARM",
    ] {
        assert!(stdout.contains(shown), "{shown}: {stdout}");
    }
}

/// `cpsf demo --environments`: one per-branch pipeline deploys three
/// branches at once, lists them, tears one down through the pipeline, then
/// prunes: a dry run that deletes nothing, and a prune that deletes the
/// stale environment and leaves the protected one. Both emulators.
#[test]
fn the_demo_deploys_lists_tears_down_and_prunes_branch_environments() {
    let output = demo_with(&["--environments"], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // Three environments, each its own stack, tagged with its name.
    for (branch, environment) in [
        ("feature/login", "feature-login"),
        ("feature/search", "feature-search"),
        ("fix/typo-42", "fix-typo-42"),
    ] {
        let created =
            format!("{branch} → cpsf-demo-app-{environment} (cpsf:environment={environment}): ");
        let line = stdout
            .lines()
            .find(|l| l.contains(&created))
            .unwrap_or_else(|| panic!("no '{created}' in {stdout}"));
        assert!(
            line.contains("succeeded: created") && line.ends_with("[ok]"),
            "{line}"
        );
        // The list table names each with its stack and pipeline.
        assert!(
            stdout.lines().any(|l| l.starts_with(environment)
                && l.contains(&format!("cpsf-demo-app-{environment}"))
                && l.contains("cpsf-demo-branches")),
            "no list row for {environment} in {stdout}"
        );
    }
    // All three at once, followed live (plain lines: not a terminal).
    assert!(
        stdout.contains("deploy feature-login InProgress · feature-search InProgress"),
        "{stdout}"
    );
    assert!(stdout.contains("deploy — 3 of 3 Succeeded in"), "{stdout}");
    assert!(stdout.contains("ENVIRONMENT     STACK"), "{stdout}");
    assert!(
        stdout.contains("$ cpsf environments list --stack-prefix cpsf-demo-"),
        "{stdout}"
    );
    // The teardown, by the pipeline's operation variable.
    assert!(
        stdout.contains("name=branch,value=feature/login name=operation,value=delete"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "succeeded: environment feature-login deleted (stack cpsf-demo-app-feature-login); \
             cpsf-demo-app-feature-login is gone, the other two are not [ok]"
        ),
        "{stdout}"
    );
    // The dry run names what would go and deletes nothing.
    assert!(stdout.contains("--older-than 1d --as-of "), "{stdout}");
    assert!(
        stdout.contains("2 selected of 2 environment(s): 0 deleted, 0 failed (dry run)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("nothing deleted, feature-search kept by its protection [ok]"),
        "{stdout}"
    );
    // The prune deletes the stale one and leaves the protected one.
    let pruned = stdout
        .lines()
        .find(|l| l.starts_with("fix-typo-42") && l.contains("deleted"))
        .unwrap_or_else(|| panic!("no prune row in {stdout}"));
    assert!(pruned.contains("cpsf-demo-app-fix-typo-42"), "{pruned}");
    assert!(
        stdout.contains("2 selected of 2 environment(s): 1 deleted, 0 failed\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("fix-typo-42 deleted, feature-search kept by its protection [ok]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("5 of 5 steps did what they should."),
        "{stdout}"
    );
}

/// `cpsf demo --approval` (issue 29, item 4): a risky change walked
/// through approval by link. Not on a terminal, the demo decides by itself
/// on the page; its output names the notification (its subject and the
/// link), the page, the `cpsf approve` command for a second terminal, and
/// the pipeline's run approved and deployed. Both emulators.
#[test]
fn the_demo_walks_a_risky_change_through_approval_by_link() {
    let output = demo_with(&["--approval"], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("run 1/2 create — Succeeded in")
            && stdout.contains("succeeded: created [ok]"),
        "{stdout}"
    );
    // The notification, as the topic's subscriber got it.
    assert!(
        stdout.contains(
            "1. The notification, published to arn:aws:sns:us-east-1:123456789012:deploy-approvals:"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "Subject: Approve? A deploy would replace or remove resources in cpsf-demo-app"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("| Note from the pipeline: cpsf demo: the queue is renamed"),
        "{stdout}"
    );
    // The staging site, read from the staging stack's SiteUrl output
    // (`reviewUrl`), in the notification and as a link on the page.
    assert!(
        stdout.contains("| Review the staging site: https://staging.cpsf-demo.example/"),
        "{stdout}"
    );
    let link = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("| "))
        .find(|l| l.starts_with("http://127.0.0.1:") && l.contains("/approvals/"))
        .unwrap_or_else(|| panic!("no link in the notification: {stdout}"));
    // The page the link opens, served with its form.
    assert!(
        stdout.contains(&format!(
            "2. The page: {link}\n   GET answered 200, with the Approve and Reject form and the \
             staging link https://staging.cpsf-demo.example/"
        )),
        "{stdout}"
    );
    // The command a second terminal could run instead.
    assert!(
        stdout.contains("source .cpsf/local.env")
            && stdout.contains("cpsf approve cpsf-demo --comment \"ship it\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("The demo approves on the page as \"cpsf demo\" (POST of its form with the page's token): 200"),
        "{stdout}"
    );
    // The pipeline's run, approved and deployed.
    let deployed = stdout
        .lines()
        .find(|l| l.starts_with("4. The deploy: "))
        .unwrap_or_else(|| panic!("no deploy line in {stdout}"));
    assert!(
        deployed.starts_with("4. The deploy: Succeeded in")
            && deployed.contains("succeeded: updated")
            && deployed.contains("approved by cpsf demo: approved on the page by the demo")
            && deployed.ends_with("[ok]"),
        "{deployed}"
    );
    assert!(stdout.contains("→ RequestApproval +"), "{stdout}");
    assert!(
        stdout.contains("The approval by link did what it should."),
        "{stdout}"
    );
}

/// README's "Approval by link" on the playground, as a new user walks it:
/// `cpsf demo --keep`, then, from a shell that sourced the env file it
/// writes, a revision whose input has README's `approval` block (its
/// `notify` topic made first) through the demo's pipeline, and a decision
/// with `cpsf approve`. The demo's state machine must send the request to
/// the approvals queue the demo's worker takes (it once sent it to the
/// queue `none`: SQS.QueueDoesNotExist at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_pipeline_waits_for_approval_and_cpsf_approve_decides() {
    use crate::deploy_harness::{App, summary};
    use cpsf::demo::setup::{PIPELINE, SOURCE_BUCKET, SOURCE_KEY};
    let dir = std::env::temp_dir().join(format!("cpsf-demo-approve-{}", std::process::id()));
    let env_file = dir.join("local.env");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_cpsf"));
    demo.args(["demo", "--keep", "--env-file"])
        .arg(&env_file)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_CODEPIPELINE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut demo = KillOnDrop(demo.spawn().unwrap());
    let text = wait_for_long("the demo's env file", Duration::from_secs(180), || async {
        std::fs::read_to_string(&env_file)
            .ok()
            .filter(|t| env_file_complete(t))
    })
    .await;
    let env = env_in(&text);
    let h = Harness::on(&env).await;
    let topic = aws_sdk_sns::Client::new(&h.clients.sdk)
        .create_topic()
        .name("deploy-approvals")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    assert_eq!(
        topic, "arn:aws:sns:us-east-1:123456789012:deploy-approvals",
        "README's example topic"
    );
    // A risky revision of the demo's app: the queue's logical id renamed.
    let mut app = App::sample();
    app.template = app.template.replace("WorkQueue", "JobQueue");
    app.deploy["approval"] = serde_json::json!({"when": "risky", "notify": topic,
        "timeoutMinutes": 60, "message": "Release 42"});
    let zip = crate::worker_harness::zip_of(&[
        ("deploy.json", &app.deploy.to_string()),
        ("template.yaml", &app.template),
    ]);
    h.s3.put_object()
        .bucket(SOURCE_BUCKET)
        .key(SOURCE_KEY)
        .body(zip.into())
        .send()
        .await
        .unwrap();
    let id = h.start_execution(PIPELINE).await;
    let (h, id) = (&h, id.as_str());
    let approved = wait_for_long("cpsf approve to decide", Duration::from_secs(60), || {
        let mut approve = cpsf(&env);
        approve.args(["approve", PIPELINE, "--name", "Ann", "--comment", "ship it"]);
        async move {
            let output = tokio::task::spawn_blocking(move || approve.output().unwrap())
                .await
                .unwrap();
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            if output.status.success() {
                return Some(said);
            }
            // Until the worker keeps the request, "no approval waits"; a
            // deploy that ended instead never asked.
            if h.execution_status(PIPELINE, id).await.as_str() != "InProgress" {
                let detail = h.deploy_detail(PIPELINE).await;
                panic!(
                    "the deploy did not wait for approval: {}",
                    crate::deploy_harness::error_message(&detail)
                );
            }
            None
        }
    })
    .await;
    assert!(approved.contains("approved by Ann: ship it"), "{approved}");
    assert_eq!(h.wait_until_done(PIPELINE, id).await, "Succeeded");
    let detail = h.deploy_detail(PIPELINE).await;
    assert!(
        summary(&detail).contains("approved by Ann: ship it"),
        "{}",
        summary(&detail)
    );
    terminate(&mut demo.0, Duration::from_secs(20)).await;
    let _ = std::fs::remove_dir_all(dir);
}

/// README's "A worker of your own, started from the env file, serves the
/// same approvals": after `cpsf demo --approval --keep` (its env file names
/// the queue the demo's pipeline sends requests to, the store and the
/// key), `cpsf worker` started from that file with a page of its own
/// serves the next approval of the demo's pipeline: its page opens the
/// notification's link (whichever worker took the request: both keep them
/// in the same store, signed with the same key) and decides, and the
/// deploy goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_started_from_the_demos_env_file_serves_its_approvals() {
    use crate::approval_harness::{Notes, decide_on_page, free_port, page_answers};
    use crate::deploy_harness::{App, summary};
    use cpsf::demo::setup::{PIPELINE, SOURCE_BUCKET, SOURCE_KEY};
    let dir = std::env::temp_dir().join(format!("cpsf-demo-hand-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let env_file = dir.join("local.env");
    let demo_log = dir.join("demo.out");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_cpsf"));
    demo.args(["demo", "--approval", "--keep", "--env-file"])
        .arg(&env_file)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_CODEPIPELINE")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&demo_log).unwrap())
        .stderr(Stdio::null());
    let mut demo = KillOnDrop(demo.spawn().unwrap());
    // The walk is over (and the env file written) once the demo keeps the
    // playground running.
    wait_for_long("the demo's walk", Duration::from_secs(240), || async {
        std::fs::read_to_string(&demo_log)
            .ok()
            .filter(|t| t.contains("The playground keeps running"))
    })
    .await;
    let text = std::fs::read_to_string(&env_file).unwrap();
    let env = env_in(&text);
    assert!(env.approvals.is_some(), "no approvals in {text}");

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let worker_log = dir.join("worker.log");
    let mut worker = cpsf_worker(&env);
    worker
        .args(["--poll-max", &poll_max_flag(), "--approval-listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--approval-url", &base])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&worker_log).unwrap());
    let mut worker = KillOnDrop(worker.spawn().unwrap());
    page_answers(&base).await;

    let h = Harness::on(&env).await;
    let notes = Notes::new(&h).await;
    // The demo left JobQueue deployed: the sample app, with WorkQueue,
    // replaces it.
    let mut app = App::sample();
    app.deploy["approval"] = serde_json::json!({"when": "risky", "notify": notes.topic,
        "timeoutMinutes": 60, "message": "by hand"});
    let zip = crate::worker_harness::zip_of(&[
        ("deploy.json", &app.deploy.to_string()),
        ("template.yaml", &app.template),
    ]);
    h.s3.put_object()
        .bucket(SOURCE_BUCKET)
        .key(SOURCE_KEY)
        .body(zip.into())
        .send()
        .await
        .unwrap();
    let id = h.start_execution(PIPELINE).await;
    let note = notes.next().await;
    let path = note
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("http://127.0.0.1:"))
        .find_map(|l| l.find("/approvals/").map(|at| l[at..].to_string()))
        .unwrap_or_else(|| panic!("no link in {note}"));
    let answer = decide_on_page(&format!("{base}{path}"), "Ann", "by hand", "approve").await;
    assert_eq!(
        answer.status,
        200,
        "{}\n{}",
        answer.body,
        std::fs::read_to_string(&worker_log).unwrap_or_default()
    );
    assert_eq!(h.wait_until_done(PIPELINE, &id).await, "Succeeded");
    let detail = h.deploy_detail(PIPELINE).await;
    assert!(
        summary(&detail).contains("approved by Ann: by hand"),
        "{}",
        summary(&detail)
    );
    terminate(&mut worker.0, Duration::from_secs(20)).await;
    terminate(&mut demo.0, Duration::from_secs(20)).await;
    let _ = std::fs::remove_dir_all(dir);
}
