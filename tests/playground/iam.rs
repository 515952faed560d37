//! The worker under its own least-privilege role: on MiniStack, which
//! evaluates IAM policies, bootstrap/cpsf.yaml's role as every playground
//! test's worker runs it; on fakecloud, with fakecloud's IAM
//! enforcement on (`--iam strict`). The worker gets the role's credentials
//! from fakecloud's container credential endpoint, the way a Fargate task
//! gets its task role's: no code knows it is being tested.
//!
//! fakecloud 0.51 enforces S3, IAM and STS but not Step Functions or
//! CloudFormation, so this proves the credential path and the role's S3
//! access (templates read from the artifact bucket); the Step Functions and
//! CloudFormation statements are checked statically (crates/worker/src/bootstrap/).

use crate::deploy_harness::*;
use crate::harness::*;
use cpsf::demo::setup::{BOOTSTRAP_STACK, PIPELINE, SOURCE_BUCKET, SOURCE_KEY};
use cpsf_playground::Emulator;
use cpsf_playground::codepipeline::Config;
use cpsf_playground::names::ARTIFACT_BUCKET;
use cpsf_playground::worker_role::{self, RoleTemplate};
use cpsf_worker::bootstrap::{BootstrapOptions, run};
use std::process::Stdio;
use std::time::Duration;

const WORKER_ROLE: &str = "arn:aws:iam::123456789012:role/cpsf-worker";

fn bootstrap(artifact_bucket: &str) -> BootstrapOptions {
    let parameter = |k: &str, v: &str| (k.to_string(), v.to_string());
    BootstrapOptions {
        stack_name: BOOTSTRAP_STACK.into(),
        definition_bucket: ARTIFACT_BUCKET.into(),
        parameters: vec![
            parameter("WorkerImage", "cpsf:test"),
            parameter("VpcId", "vpc-0123456789abcdef0"),
            parameter("Subnets", "subnet-0123456789abcdef0"),
            parameter("DesiredCount", "0"),
            parameter("ArtifactBucketName", artifact_bucket),
            parameter("DeployedStackPrefix", "cpsf-demo-"),
        ],
        resets: Vec::new(),
    }
}

async fn deploy_once(h: &Harness, greeting: &str) -> (String, String) {
    let mut app = App::sample();
    app.deploy["parameters"]["Greeting"] = greeting.into();
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
    let status = h.wait_until_done(PIPELINE, &id).await;
    (status, error_message(&h.deploy_detail(PIPELINE).await))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_deploys_under_its_role_and_a_missing_permission_fails() {
    if !needs(
        Emulator::Fakecloud,
        "it runs the worker on fakecloud's container credential endpoint with `--iam strict`; \
         MiniStack has neither that endpoint nor bootstrap/cpsf.yaml's resource types",
    ) {
        return;
    }
    let args = ["--iam", "strict", "--credentials-role-arn", WORKER_ROLE]
        .map(String::from)
        .to_vec();
    let h = Harness::start_with_fakecloud(Config::default(), args).await;
    // Installation runs as the account's root (the `test` keys bypass IAM).
    cpsf::demo::setup::prepare(&h.clients, "cpsf-demo-app", None)
        .await
        .unwrap();

    let log = std::env::temp_dir().join(format!("cpsf-iam-{}.log", std::process::id()));
    let mut worker = cpsf(&h.env);
    worker
        .args(["worker", "--poll-max", &poll_max_flag()])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/_fakecloud/credentials", h.env.aws_endpoint),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut worker = KillOnDrop(worker.spawn().unwrap());

    let (status, error) = deploy_once(&h, "hello from the worker role").await;
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status, "Succeeded", "{error}\n{logs}");

    // Take the artifact bucket away from the role: the next deploy cannot
    // read its template, and says so.
    run(&h.clients, &bootstrap("some-other-bucket"))
        .await
        .unwrap();
    let (status, error) = deploy_once(&h, "hello again").await;
    assert_eq!(status, "Failed");
    assert!(
        error.contains("Cpsf.Denied") && error.contains("AccessDenied"),
        "{error}"
    );

    terminate(&mut worker.0, Duration::from_secs(20)).await;
    let _ = std::fs::remove_file(&log);
}

/// bootstrap/cpsf.yaml's worker role on MiniStack, which evaluates IAM
/// policies as AWS does: the playground's worker runs as that role (read
/// from the template, `local/worker_role.rs`), so a deploy succeeds on
/// the template's grants alone. Without one statement of the template,
/// the call it granted is refused: the task handler may no longer read the
/// template from the artifact bucket, and the deploy fails with
/// AccessDenied, as it would on AWS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_missing_from_the_template_fails_the_deploy_with_access_denied() {
    if !needs(
        Emulator::Ministack,
        "MiniStack evaluates the worker role's policies on S3, Step Functions and \
         CloudFormation; fakecloud enforces none of them by default",
    ) {
        return;
    }
    let (h, _worker) = deploy_setup().await;
    let (status, detail) = h.deploy("app", &App::sample()).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));

    let template = RoleTemplate::from_bootstrap()
        .unwrap()
        .without_statement("ReadTemplatesFromArtifacts")
        .unwrap();
    worker_role::install(&h.clients.sdk, &template, &worker_grants())
        .await
        .unwrap();
    let mut app = App::sample();
    app.deploy["parameters"]["Greeting"] = "hello again".into();
    let (status, detail) = h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    assert!(
        message.contains("AccessDenied")
            && message.contains("assumed-role/cpsf-worker/")
            && message.contains("s3:GetObject"),
        "{message}"
    );

    // The template's own grant back: the same deploy goes through.
    worker_role::install(
        &h.clients.sdk,
        &RoleTemplate::from_bootstrap().unwrap(),
        &worker_grants(),
    )
    .await
    .unwrap();
    let (status, detail) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
}
