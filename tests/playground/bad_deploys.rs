//! The bad deploys corpus (tests/data/bad-input/deploys.json): revisions
//! that reach the deploy state machine and fail there, or a name another
//! job already used. Each ends its pipeline Failed with exactly the message
//! in the corpus, through one worker that keeps serving afterwards.

use crate::deploy_harness::*;
use crate::harness::*;
use cpsf_playground::codepipeline::Config;
use cpsf_worker::job::handle::JobSettings;
use cpsf_worker::job::poller::PollerSettings;
use cpsf_worker::worker::WorkerOptions;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

#[derive(Deserialize)]
struct Case {
    name: String,
    /// Deployed first, and must succeed or fail as `before_status` says.
    before: Option<Revision>,
    before_status: Option<String>,
    #[serde(default)]
    revision: Revision,
    /// Another party starts an execution under the job's name first.
    #[serde(default)]
    collision: bool,
    #[serde(rename = "type")]
    kind: String,
    /// The message, with `{execution}` and `{arn}`, and the parts that
    /// CloudFormation words itself as `{name}`s filled from
    /// `cloudformation_says` for the emulator this run uses: cpsf passes
    /// CloudFormation's words through, and each emulator has its own (a
    /// failed first create ends ROLLBACK_COMPLETE on AWS and MiniStack,
    /// CREATE_FAILED on fakecloud).
    message: String,
    #[serde(default)]
    cloudformation_says:
        std::collections::HashMap<String, std::collections::HashMap<String, String>>,
}

/// Changes to the sample app.
#[derive(Deserialize, Default, Clone)]
struct Revision {
    #[serde(default)]
    parameters: serde_json::Map<String, Value>,
    /// Replaces the whole template.
    template: Option<String>,
    /// `[from, to]`: a text replacement in the template.
    template_replace: Option<(String, String)>,
}

impl Revision {
    fn apply(&self, name: &str) -> App {
        let mut app = App::sample();
        // Under the stack prefix the worker's role may deploy.
        app.deploy["stackName"] = format!("{STACK_PREFIX}{name}").into();
        app.deploy["parameters"]["Environment"] = name.into();
        for (key, value) in &self.parameters {
            app.deploy["parameters"][key] = value.clone();
        }
        if let Some(template) = &self.template {
            app.template = template.clone();
        }
        if let Some((from, to)) = &self.template_replace {
            app.template = app.template.replace(from, to);
        }
        app
    }
}

/// The provider of the action type the collision case runs under, so this
/// test can take its job before the worker does.
const COLLIDING: &str = "Colliding";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_deploy_fails_with_its_exact_message_and_the_worker_keeps_serving() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/bad-input/deploys.json"
    ))
    .unwrap();
    let cases: Vec<Case> = serde_json::from_str(&text).unwrap();
    // The taken job goes back to the queue after 2 s, not AWS's minutes.
    let h = Harness::start_with(Config {
        dispatch_timeout: Duration::from_secs(2),
        ..Config::default()
    })
    .await;
    h.create_worker_type().await;
    h.create_worker_type_for(COLLIDING).await;
    let machine = h.install_deploy(|_| {}).await;
    let worker = h.start_deploy_worker(true, true);

    for case in &cases {
        let provider = if case.collision { COLLIDING } else { PROVIDER };
        let key = format!("{}.zip", case.name);
        h.create_worker_pipeline_with(
            &case.name,
            &key,
            provider,
            &[
                ("StateMachineArn", machine.as_str()),
                ("InputType", "FilePath"),
                ("Input", "deploy.json"),
            ],
        )
        .await;
        if let Some(before) = &case.before {
            let id = h
                .put_app_and_start(&case.name, &key, &before.apply(&case.name))
                .await;
            let status = h.wait_until_done(&case.name, &id).await;
            assert_eq!(Some(&status), case.before_status.as_ref(), "{}", case.name);
        }
        let id = h
            .put_app_and_start(&case.name, &key, &case.revision.apply(&case.name))
            .await;
        let (taken_name, colliding_worker) = if case.collision {
            let name = collide(&h, &machine, &case.name).await;
            (Some(name), Some(start_colliding_worker(&h)))
        } else {
            (None, None)
        };
        assert_eq!(
            h.wait_until_done(&case.name, &id).await,
            "Failed",
            "{}",
            case.name
        );
        let error = h.deploy_error(&case.name).await;
        assert_eq!(error.code(), Some(case.kind.as_str()), "{}", case.name);
        let arn = h
            .deploy_detail(&case.name)
            .await
            .output()
            .and_then(|o| o.execution_result())
            .and_then(|r| r.external_execution_id())
            .unwrap_or_default()
            .to_string();
        // The execution's name: from its ARN, or the name that was taken.
        let execution = taken_name.unwrap_or_else(|| arn.rsplit(':').next().unwrap().to_string());
        let mut expected = case
            .message
            .replace("{arn}", &arn)
            .replace("{execution}", &execution);
        if let Some(says) = case.cloudformation_says.get(emulator().name()) {
            for (name, words) in says {
                expected = expected.replace(&format!("{{{name}}}"), words);
            }
        }
        assert_eq!(error.message(), Some(expected.as_str()), "{}", case.name);
        if let Some(worker) = colliding_worker {
            worker.stop().await;
        }
    }

    crate::figures::record(
        "bad-deploys",
        serde_json::json!({"cases": cases.len(), "kept_serving": true}),
    );
    let good = Revision::default().apply("good");
    h.create_deploy_pipeline("good", &machine).await;
    let (status, detail) = h.deploy("good", &good).await;
    assert_eq!(
        status,
        "Succeeded",
        "the worker keeps serving: {}",
        error_message(&detail)
    );
    worker.stop().await;
}

/// Takes the pipeline's job before any worker and starts an execution under
/// the name cpsf would give it, with another input; the job goes back to
/// the queue when its dispatch times out. Returns the name.
async fn collide(h: &Harness, machine: &str, pipeline: &str) -> String {
    let job = wait_for("the colliding job", || async {
        h.cp.poll_for_jobs()
            .action_type_id(deploy_type_id_for(COLLIDING))
            .send()
            .await
            .unwrap()
            .jobs
            .unwrap_or_default()
            .into_iter()
            .next()
    })
    .await;
    let action_execution_id = action_of(&job).action_execution_id().unwrap().to_string();
    let name = format!("{pipeline}-{action_execution_id}");
    h.sfn
        .start_execution()
        .state_machine_arn(machine)
        .name(&name)
        .input(r#"{"startedBy":"someone else"}"#)
        .send()
        .await
        .unwrap();
    name
}

/// A job poller of the colliding action type only: the case's one job.
fn start_colliding_worker(h: &Harness) -> crate::worker_harness::RunningWorker {
    h.spawn_worker(WorkerOptions {
        poller: Some(PollerSettings {
            action_type: deploy_type_id_for(COLLIDING),
            max_in_flight: 1,
            shutdown_grace: Duration::from_secs(5),
            ..cpsf_playground::preset::poller()
        }),
        job: JobSettings::default(),
        tasks: None,
        listen: None,
        approvals: None,
    })
}
