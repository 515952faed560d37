//! `cpsf bootstrap` as a user runs it, against the playground's
//! CloudFormation: the template deploys, its parameters flow through, and
//! the state machine is the one in statemachines/ with its placeholders filled.

use crate::harness::*;
use cpsf::local::Emulator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_installs_the_template_on_the_playground() {
    if !needs(
        Emulator::Fakecloud,
        "bootstrap/cpsf.yaml declares AWS::StepFunctions::Activity and \
         AWS::CodePipeline::CustomActionType, which MiniStack 1.5.33's CloudFormation \
         does not know (AWS and fakecloud do)",
    ) {
        return;
    }
    let h = Harness::start().await;
    h.s3.create_bucket()
        .bucket("cpsf-install")
        .send()
        .await
        .unwrap();
    let env = h.env.clone();
    let output = tokio::task::spawn_blocking(move || {
        let mut command = cpsf(&env);
        command.args([
            "bootstrap",
            "--definition-bucket",
            "cpsf-install",
            "--stack-name",
            "team-cpsf",
        ]);
        for parameter in [
            "NamePrefix=team",
            "WorkerImage=cpsf:test",
            "VpcId=vpc-0123456789abcdef0",
            "Subnets=subnet-0123456789abcdef0",
            "ArtifactBucketName=cpsf-artifacts",
        ] {
            command.args(["--parameter", parameter]);
        }
        command.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("stack team-cpsf is ready"), "{stdout}");
    assert!(
        stdout.contains("arn:aws:states:us-east-1:123456789012:stateMachine:team-deploy"),
        "{stdout}"
    );

    let activities = h.sfn.list_activities().send().await.unwrap();
    let mut names: Vec<&str> = activities.activities().iter().map(|a| a.name()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "team-check-stack",
            "team-create-stack",
            "team-delete-stack",
            "team-update-stack",
            "team-wait-stack"
        ]
    );
    let machine = h
        .sfn
        .describe_state_machine()
        .state_machine_arn("arn:aws:states:us-east-1:123456789012:stateMachine:team-deploy")
        .send()
        .await
        .unwrap();
    let definition: serde_json::Value = serde_json::from_str(machine.definition()).unwrap();
    assert_eq!(
        definition["States"]["CheckStack"]["Resource"],
        "arn:aws:states:us-east-1:123456789012:activity:team-check-stack"
    );
    assert!(
        !machine.definition().contains("${"),
        "every placeholder is filled"
    );
}
