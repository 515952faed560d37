//! `cpsf local up` as a user runs it: a separate process, an env file, and
//! no fakecloud left behind however cpsf ends.

use crate::harness::*;
use aws_sdk_codepipeline::types::PipelineExecutionStatus;
use cpsf::local::LocalEnv;
use cpsf::local::probe::http_status;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct LocalUp {
    child: Child,
    env_file: PathBuf,
    env: LocalEnv,
}

impl Drop for LocalUp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn local_up(name: &str) -> LocalUp {
    let dir = std::env::temp_dir().join(format!("cpsf-local-up-{name}-{}", std::process::id()));
    let env_file = dir.join("local.env");
    let _ = std::fs::remove_file(&env_file);
    let child = Command::new(env!("CARGO_BIN_EXE_cpsf"))
        .args(["local", "up", "--env-file"])
        .arg(&env_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start cpsf local up");
    let text = wait_for("the env file", || async {
        std::fs::read_to_string(&env_file)
            .ok()
            .filter(|t| t.lines().count() == 6)
    })
    .await;
    let env = parse_env_file(&text);
    LocalUp {
        child,
        env_file,
        env,
    }
}

fn parse_env_file(text: &str) -> LocalEnv {
    let var = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .unwrap_or_else(|| panic!("{name} in env file:\n{text}"))
            .to_string()
    };
    assert_eq!(var("AWS_REGION"), "us-east-1");
    assert_eq!(var("AWS_DEFAULT_REGION"), "us-east-1");
    assert!(!var("AWS_ACCESS_KEY_ID").is_empty() && !var("AWS_SECRET_ACCESS_KEY").is_empty());
    let env = LocalEnv {
        aws_endpoint: var("AWS_ENDPOINT_URL"),
        codepipeline_endpoint: var("AWS_ENDPOINT_URL_CODEPIPELINE"),
    };
    for endpoint in [&env.aws_endpoint, &env.codepipeline_endpoint] {
        assert!(
            endpoint.starts_with("http://127.0.0.1:"),
            "loopback only: {endpoint}"
        );
    }
    env
}

async fn wait_until_gone(endpoint: &str) {
    wait_for(&format!("{endpoint} to stop answering"), || async {
        http_status(endpoint, "GET", "/")
            .await
            .is_err()
            .then_some(())
    })
    .await;
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: a plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
}

#[tokio::test]
async fn a_client_of_the_env_file_runs_a_pipeline_end_to_end() {
    let up = local_up("e2e").await;
    let h = Harness::connect(&up.env).await;
    let execution_id = h.start_app(vec![deploy_action("Deploy", 1, "blue")]).await;
    let job = h.poll_job().await;
    h.acknowledge(&job).await;
    h.succeed(&job).await;
    h.wait_for_status("app", &execution_id, PipelineExecutionStatus::Succeeded)
        .await;
}

#[tokio::test]
async fn sigterm_stops_fakecloud_and_removes_the_env_file() {
    let mut up = local_up("term").await;
    let status = terminate(&mut up.child, Duration::from_secs(10)).await;
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    wait_until_gone(&up.env.aws_endpoint).await;
    assert!(
        !Path::new(&up.env_file).exists(),
        "a stale env file is removed"
    );
}

#[tokio::test]
async fn fakecloud_does_not_outlive_a_killed_cpsf() {
    let up = local_up("kill").await;
    assert!(
        http_status(&up.env.aws_endpoint, "GET", "/_fakecloud/health")
            .await
            .is_ok()
    );
    signal(&up.child, libc::SIGKILL);
    wait_until_gone(&up.env.aws_endpoint).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        http_status(&up.env.aws_endpoint, "GET", "/_fakecloud/health")
            .await
            .is_err()
    );
}
