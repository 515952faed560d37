//! Every file in test_events/ replayed with `cpsf replay`, in order, on a
//! fresh playground, with the outcome its name promises.

use crate::deploy_harness::*;
use crate::harness::*;
use cpsf_playground::codepipeline::Config;
use cpsf_worker::pipeline::wire::SessionCredentials;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where the saved events say the revision is.
const ARTIFACT_BUCKET: &str = "cpsf-demo-artifacts";
const ARTIFACT_KEY: &str = "cpsf-demo/SourceOutput/79e58b4";

fn events() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// The outcome a file's name promises: its last `--` segment.
fn promised(path: &Path) -> String {
    let stem = path.file_stem().unwrap().to_string_lossy().to_string();
    stem.rsplit("--").next().unwrap().to_string()
}

fn check(outcome: &str, result: &Value) -> bool {
    let done = &result["succeeded"];
    match outcome {
        "next-create" => done["next"] == "create",
        "succeeds" => done.is_object(),
        "stable" => done["stable"] == true,
        "changes" => done["changed"] == true,
        "deletes" => done["deleted"].is_string(),
        "reports-success" => {
            result["outcome"] == "succeeded"
                && result["reports"][0]["call"] == "PutJobSuccessResult"
                && result["reports"][0].get("continuationToken").is_none()
        }
        other => panic!("unknown outcome '{other}' in a test event's name"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_saved_event_replays_with_the_outcome_its_name_promises() {
    // The saved events name the demo's pipeline and artifact bucket: the
    // worker's role is granted the demo's names. And the Lambda event's
    // artifact keys, which MiniStack checking IAM must know: the
    // playground makes its service's artifact keys the emulator's (the
    // other events carry the default `test` ones).
    let mut options = options();
    options.worker_role = Some(cpsf_playground::worker_role::Grants::playground());
    options.codepipeline = Config {
        artifact_credentials: SessionCredentials {
            access_key_id: "AKIAREPLAYEDLAMBDA01".into(),
            secret_access_key: "replayed-lambda-secret-never-printed".into(),
            session_token: "replayed-lambda-session-never-printed".into(),
        },
        ..Config::default()
    };
    let h = Harness::start_playground(options).await;
    cpsf::demo::setup::prepare(&h.clients, "cpsf-demo-app", None)
        .await
        .unwrap();
    let app = App::sample();
    let zip = crate::worker_harness::zip_of(&[
        ("deploy.json", &app.deploy.to_string()),
        ("template.yaml", &app.template),
    ]);
    h.s3.put_object()
        .bucket(ARTIFACT_BUCKET)
        .key(ARTIFACT_KEY)
        .body(zip.into())
        .send()
        .await
        .unwrap();
    // Replayed jobs start real executions: their tasks need a worker.
    let tasks = h.start_deploy_worker(false, true);

    let files = events();
    assert_eq!(files.len(), 8);
    for file in files {
        let env = h.env.clone();
        let path = file.clone();
        let output = tokio::task::spawn_blocking(move || {
            let mut command = cpsf(&env);
            command.arg("replay").arg(&path);
            command.output().unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let name = file.file_name().unwrap().to_string_lossy();
        // The events' artifact credentials never reach the output.
        for secret in [
            "cpsf-local-artifact-session",
            "replayed-lambda-secret-never-printed",
            "replayed-lambda-session-never-printed",
            "AKIAREPLAYEDLAMBDA01",
        ] {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "{name} printed a credential"
            );
        }
        assert!(output.status.success(), "{name}: {stdout}\n{stderr}");
        let result: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{name}: {e}\n{stdout}"));
        if name.contains("-lambda--") {
            let filled = result["filled"].as_array().map_or(0, Vec::len);
            assert_eq!(filled, 2, "{name} says what it filled in: {result:#}");
        }
        let outcome = promised(&file);
        assert!(
            check(&outcome, &result),
            "{name} promised '{outcome}', got {result:#}"
        );
    }
    tasks.stop().await;
}
