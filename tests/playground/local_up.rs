//! `cpsf local up` as a user runs it: a separate process, an env file,
//! nothing listening beyond loopback, and no emulator left behind however
//! cpsf ends.

use crate::harness::*;
use aws_sdk_codepipeline::types::PipelineExecutionStatus;
use cpsf_playground::LocalEnv;
use cpsf_worker::probe::http_status;
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
            .filter(|t| env_file_complete(t))
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
    let has = |name: &str| text.contains(&format!("export {name}="));
    assert_eq!(var("AWS_REGION"), "us-east-1");
    assert_eq!(var("AWS_DEFAULT_REGION"), "us-east-1");
    // On MiniStack the keys are in the AWS config files, with the worker's
    // profile (keys in the environment would win over AWS_PROFILE).
    let profiles = (emulator() == cpsf_playground::Emulator::Ministack).then(|| {
        assert!(!has("AWS_ACCESS_KEY_ID") && !has("AWS_SECRET_ACCESS_KEY"), "{text}");
        let config = PathBuf::from(var("AWS_CONFIG_FILE"));
        assert_eq!(
            Path::new(&var("AWS_SHARED_CREDENTIALS_FILE")).parent(),
            config.parent()
        );
        let profile = std::fs::read_to_string(&config).unwrap();
        assert!(profile.contains("[profile cpsf-worker]\nrole_arn = arn:aws:iam::123456789012:role/cpsf-worker\nsource_profile = default\n"), "{profile}");
        cpsf_playground::env::Profiles {
            dir: config.parent().unwrap().to_path_buf(),
            worker: cpsf_playground::worker_role::WorkerRole {
                arn: "arn:aws:iam::123456789012:role/cpsf-worker".into(),
                stack_prefix: var("CPSF_STACK_PREFIX"),
            },
        }
    });
    if profiles.is_none() {
        assert!(!var("AWS_ACCESS_KEY_ID").is_empty() && !var("AWS_SECRET_ACCESS_KEY").is_empty());
    }
    let env = LocalEnv {
        aws_endpoint: var("AWS_ENDPOINT_URL"),
        codepipeline_endpoint: var("AWS_ENDPOINT_URL_CODEPIPELINE"),
        events_queue: text
            .lines()
            .find_map(|l| l.strip_prefix("export CPSF_EVENTS_QUEUE="))
            .map(str::to_string),
        approvals: None,
        profiles,
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

/// The Python SDK (botocore, which MiniStack's venv carries) configured by
/// nothing but the env file's variables: a pipeline's job flow and a
/// CloudFormation deploy (tests/data/env_file_client.py).
#[tokio::test]
async fn the_python_sdk_with_the_env_file_runs_a_job_and_a_deploy() {
    let up = local_up("python").await;
    let text = std::fs::read_to_string(&up.env_file).unwrap();
    let vars = text
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect::<Vec<_>>();
    python_says_ok("env_file_client.py", vars).await;
}

#[tokio::test]
async fn sigterm_stops_the_emulator_and_removes_the_env_file() {
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
async fn the_emulator_does_not_outlive_a_killed_cpsf() {
    let up = local_up("kill").await;
    let health = format!("/_{}/health", emulator());
    assert_eq!(
        http_status(&up.env.aws_endpoint, "GET", &health)
            .await
            .unwrap(),
        200
    );
    let emulator_pids = descendants(up.child.id());
    assert!(!emulator_pids.is_empty(), "the emulator is cpsf's child");
    signal(&up.child, libc::SIGKILL);
    wait_until_gone(&up.env.aws_endpoint).await;
    wait_for("the emulator's processes to end", || async {
        emulator_pids
            .iter()
            .all(|pid| !Path::new(&format!("/proc/{pid}")).exists())
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn nothing_of_the_playground_listens_beyond_loopback() {
    let up = local_up("ports").await;
    // The emulator's optional listeners open as it starts: give them time.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut pids = descendants(up.child.id());
    pids.push(up.child.id());
    let sockets: Vec<_> = pids.iter().flat_map(|&pid| open_sockets(pid)).collect();
    let endpoint_port = |e: &str| e.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    for port in [&up.env.aws_endpoint, &up.env.codepipeline_endpoint].map(|e| endpoint_port(e)) {
        assert!(
            sockets.iter().any(|s| s.port == port),
            "port {port} is found among the sockets: {sockets:?}"
        );
    }
    let exposed: Vec<_> = sockets.iter().filter(|s| !s.loopback).collect();
    assert!(exposed.is_empty(), "listening beyond loopback: {exposed:?}");
}

/// A socket a process listens on (TCP) or is bound to (UDP), from /proc.
#[derive(Debug)]
#[allow(dead_code)] // `protocol` and `address` are read through Debug.
struct OpenSocket {
    protocol: &'static str,
    address: String,
    port: u16,
    loopback: bool,
}

/// Every process below `root`, by their parent ids in /proc.
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The field after the ")" that closes the command name is the
            // state, then the parent id.
            let after_name = &stat[stat.rfind(')')? + 2..];
            Some((pid, after_name.split(' ').nth(1)?.parse().ok()?))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// The listening TCP and bound UDP sockets `pid` holds open.
fn open_sockets(pid: u32) -> Vec<OpenSocket> {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(|fd| {
                let target = std::fs::read_link(fd.ok()?.path()).ok()?;
                let target = target.to_str()?;
                Some(
                    target
                        .strip_prefix("socket:[")?
                        .strip_suffix(']')?
                        .to_string(),
                )
            })
            .collect()
        })
        .unwrap_or_default();
    let mut sockets = Vec::new();
    for (protocol, listening_state) in
        [("tcp", "0A"), ("tcp6", "0A"), ("udp", "07"), ("udp6", "07")]
    {
        let table =
            std::fs::read_to_string(format!("/proc/{pid}/net/{protocol}")).unwrap_or_default();
        for line in table.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            if *state != listening_state || !inodes.contains(*inode) {
                continue;
            }
            let (address, port) = local.split_once(':').unwrap();
            sockets.push(OpenSocket {
                protocol,
                loopback: is_loopback(address),
                address: address.to_string(),
                port: u16::from_str_radix(port, 16).unwrap(),
            });
        }
    }
    sockets
}

/// /proc/net writes addresses as hex of the in-memory words: 127.0.0.1 is
/// `0100007F`; ::1 is `00000000000000000000000001000000`; an IPv4-mapped
/// 127.x address ends in `…FFFF0000` then `…7F`.
fn is_loopback(hex: &str) -> bool {
    match hex.len() {
        8 => hex.ends_with("7F"),
        32 => {
            hex == "00000000000000000000000001000000"
                || (hex.starts_with("0000000000000000FFFF0000") && hex.ends_with("7F"))
        }
        _ => false,
    }
}
