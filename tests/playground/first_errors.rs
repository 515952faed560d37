//! A newcomer's first error reads like advice: every command that talks to
//! AWS, run with no region, no credentials, or a playground that has
//! stopped, prints one or two lines that say what is missing and what to
//! do, and exits 1. The SDK's own account of each provider it tried shows
//! only at `RUST_LOG=debug`.
//!
//! These need no emulator: nothing is reached.

use std::path::Path;
use std::process::Command;

const PLAYGROUND_HINT: &str =
    "  For the local playground: run `cpsf local up`, then `source .cpsf/local.env`.\n";

/// Every command that talks to AWS, with the arguments a user would give.
fn commands() -> Vec<Vec<String>> {
    let job = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_events/5-job-new--filepath-input--reports-success.json");
    [
        vec!["worker"],
        vec!["history", "cpsf-demo"],
        vec!["replay", job.to_str().unwrap()],
        vec!["bootstrap", "--definition-bucket", "my-bucket"],
    ]
    .into_iter()
    .map(|args| args.into_iter().map(String::from).collect())
    .collect()
}

/// cpsf with nothing of the caller's AWS set-up: an empty home (no
/// profiles), no AWS variables, instance metadata off (not on EC2).
fn cpsf(home: &Path, args: &[String], vars: &[(&str, &str)]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cpsf"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command.output().expect("run cpsf");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn empty_home(name: &str) -> std::path::PathBuf {
    let home =
        std::env::temp_dir().join(format!("cpsf-first-errors-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    home
}

/// A loopback port nothing listens on.
fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[test]
fn no_credentials_is_one_line_of_advice_for_every_command() {
    let home = empty_home("credentials");
    let expected = format!(
        "error: no AWS credentials found: configure them the standard way (AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY, `aws configure`, `aws sso login`, or an instance or task role); \
         RUST_LOG=debug shows every place that was tried.\n{PLAYGROUND_HINT}"
    );
    for args in commands() {
        let (code, stderr) = cpsf(&home, &args, &[("AWS_REGION", "us-east-1")]);
        assert_eq!(
            (code, stderr.as_str()),
            (1, expected.as_str()),
            "cpsf {args:?}"
        );
    }
}

#[test]
fn the_whole_credential_chain_shows_at_debug() {
    let home = empty_home("debug");
    let vars = [("AWS_REGION", "us-east-1"), ("RUST_LOG", "debug")];
    let (code, stderr) = cpsf(&home, &["worker".to_string()], &vars);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("the credential provider chain found no credentials"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Environment"),
        "each provider is named: {stderr}"
    );
}

#[test]
fn no_region_is_one_line_of_advice_for_every_command() {
    let home = empty_home("region");
    let expected = format!(
        "error: no AWS region is set: set AWS_REGION (e.g. `export AWS_REGION=us-east-1`) or a \
         region in your AWS profile.\n{PLAYGROUND_HINT}"
    );
    let vars = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "example"),
    ];
    for args in commands() {
        let (code, stderr) = cpsf(&home, &args, &vars);
        assert_eq!(
            (code, stderr.as_str()),
            (1, expected.as_str()),
            "cpsf {args:?}"
        );
    }
}

#[test]
fn a_stopped_playground_is_named_with_what_to_do_for_every_command() {
    let home = empty_home("endpoint");
    let dead = dead_endpoint();
    let unreachable = |variable: &str| {
        format!(
            "error: nothing answers at {dead} ({variable}): if that is the playground, it has \
             stopped.\n  Start it again with `cpsf local up` and `source .cpsf/local.env`, or \
             unset {variable} to use AWS.\n"
        )
    };
    let vars = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL", dead.as_str()),
        ("AWS_ENDPOINT_URL_CODEPIPELINE", dead.as_str()),
    ];
    let mut all = commands();
    all.push(vec!["demo".to_string()]);
    for args in all {
        let (code, stderr) = cpsf(&home, &args, &vars);
        assert_eq!(
            (code, stderr.as_str()),
            (1, unreachable("AWS_ENDPOINT_URL").as_str()),
            "cpsf {args:?}"
        );
    }
}
