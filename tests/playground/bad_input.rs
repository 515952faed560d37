//! The bad input corpus (tests/data/bad-input/cases.json): each case ends
//! its pipeline Failed with exactly the message a user sees, and the worker
//! keeps serving afterwards.

use crate::harness::*;
use crate::worker_harness::*;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::time::Duration;

#[derive(Deserialize)]
struct Case {
    name: String,
    config: BTreeMap<String, String>,
    source: Option<Value>,
    #[serde(rename = "type")]
    kind: String,
    message: Option<String>,
    message_starts: Option<String>,
    message_ends: Option<String>,
}

/// The case's source object, by its kind (see the corpus README).
fn source(case: &Case) -> Vec<u8> {
    let Some(source) = &case.source else {
        return zip_of(&[("deploy.json", "{}")]);
    };
    if let Some(files) = source.get("files").and_then(Value::as_object) {
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
            .collect();
        return zip_of(&files);
    }
    if let Some(bytes) = source.get("bytes").and_then(Value::as_str) {
        return bytes.as_bytes().to_vec();
    }
    if let Some(encoded) = source.get("base64").and_then(Value::as_str) {
        use base64::Engine;
        return base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
    }
    if let Some(zeros) = source.get("zeros") {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        writer
            .start_file(
                zeros["name"].as_str().unwrap(),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
        writer
            .write_all(&vec![0u8; zeros["bytes"].as_u64().unwrap() as usize])
            .unwrap();
        return writer.finish().unwrap().into_inner();
    }
    if let Some(size) = source.get("filler_bytes").and_then(Value::as_u64) {
        return vec![b'x'; size as usize];
    }
    if let Some(size) = source.get("large_input").and_then(Value::as_u64) {
        let deploy = serde_json::json!({"blob": "x".repeat(size as usize)}).to_string();
        return zip_of(&[("deploy.json", &deploy)]);
    }
    panic!("{}: unknown source kind {source}", case.name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_fails_with_its_exact_message_and_the_worker_keeps_serving() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/bad-input/cases.json"
    ))
    .unwrap();
    let cases: Vec<Case> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 20, "the corpus has {} cases", cases.len());
    let h = Harness::start().await;
    h.create_worker_type().await;
    let machine = h.create_slow_machine("ok", 0).await;
    // The worker's role may start the absent machine, so StartExecution
    // answers that it does not exist, as AWS does to a caller allowed to
    // start it (to one that is not: AccessDenied, a PermissionError).
    h.let_the_worker_run(
        "arn:aws:states:us-east-1:123456789012:stateMachine:absent",
        &[],
    )
    .await;

    let mut runs = Vec::new();
    for case in &cases {
        let key = format!("{}.zip", case.name);
        h.s3.put_object()
            .bucket(SOURCE_BUCKET)
            .key(&key)
            .body(source(case).into())
            .send()
            .await
            .unwrap();
        let config: Vec<(String, String)> = case
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.replace("{machine}", &machine)))
            .collect();
        let config: Vec<(&str, &str)> = config
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        h.create_worker_pipeline_from(&case.name, &key, &config)
            .await;
        runs.push(h.start_execution(&case.name).await);
    }
    let worker = h.start_worker(Duration::from_secs(5));
    for (case, id) in cases.iter().zip(&runs) {
        assert_eq!(
            h.wait_until_done(&case.name, id).await,
            "Failed",
            "{}",
            case.name
        );
        let error = h.deploy_error(&case.name).await;
        assert_eq!(
            error.code(),
            Some(case.kind.as_str()),
            "{}: {error:?}",
            case.name
        );
        let message = error.message().unwrap();
        if let Some(expected) = &case.message {
            assert_eq!(message, expected, "{}", case.name);
        }
        if let Some(start) = &case.message_starts {
            assert!(message.starts_with(start), "{}: {message}", case.name);
        }
        if let Some(end) = &case.message_ends {
            assert!(message.ends_with(end), "{}: {message}", case.name);
        }
    }

    crate::figures::record(
        "bad-input",
        serde_json::json!({"cases": cases.len(), "kept_serving": true}),
    );
    h.put_source_zip(&[("deploy.json", "{}")]).await;
    h.create_worker_pipeline(
        "good",
        &[
            ("StateMachineArn", &machine),
            ("InputType", "FilePath"),
            ("Input", "deploy.json"),
        ],
    )
    .await;
    let id = h.start_execution("good").await;
    assert_eq!(
        h.wait_until_done("good", &id).await,
        "Succeeded",
        "the worker keeps serving"
    );
    worker.stop().await;
}
