//! With a fifth of every AWS call failing — throttled, a 5xx, the
//! connection dropped after the call took effect, or answered a second
//! late — fifty pipelines each deploy their stack: all Succeeded, one Step
//! Functions execution and one stack create each.
//!
//! The faults come from the fault proxy between a `cpsf worker` process and
//! the playground, so they hit CodePipeline, Step Functions (activities
//! included), S3 and CloudFormation calls alike. The worker runs as
//! deployed, with `--aws-max-attempts 8`.

use crate::deploy_harness::*;
use crate::figures;
use crate::harness::*;
use cpsf_playground::codepipeline::Config;
use cpsf_playground::proxy::FaultPlan;
use std::time::{Duration, Instant};

const PIPELINES: usize = 50;
const FAULT_RATE: f64 = 0.2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_deploys_succeed_once_each_with_a_fifth_of_calls_failing() {
    let h = Harness::start_with(Config {
        // Jobs whose PollForJobs answer was dropped come back quickly.
        dispatch_timeout: Duration::from_secs(2),
        ..Config::default()
    })
    .await;
    h.create_worker_type().await;
    // A task whose GetActivityTask answer was dropped is lost until its
    // heartbeat times out: 6 s here, not 60.
    let machine = h
        .install_deploy(|definition| short_heartbeats(definition, 6))
        .await;
    let (proxy, through_proxy) = h
        .proxy(FaultPlan::all_kinds_on(FAULT_RATE, emulator()), None)
        .await;
    let _worker = KillOnDrop(
        cpsf_worker(&through_proxy)
            .args(["--aws-max-attempts", "8", "--follow-for", "2s"])
            .args(["--poll-max", &poll_max_flag(), "--heartbeat-every", "2s"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start cpsf worker"),
    );

    let started = Instant::now();
    let mut runs = Vec::new();
    for i in 0..PIPELINES {
        // Under the stack prefix the worker's role may deploy.
        let name = format!("{STACK_PREFIX}faults-{i}");
        let key = format!("{name}.zip");
        h.create_worker_pipeline_from(
            &name,
            &key,
            &[
                ("StateMachineArn", machine.as_str()),
                ("InputType", "FilePath"),
                ("Input", "deploy.json"),
            ],
        )
        .await;
        let mut app = App::sample();
        app.deploy["stackName"] = name.clone().into();
        app.deploy["parameters"]["Environment"] = name.clone().into();
        let deploy = serde_json::to_string(&app.deploy).unwrap();
        h.put_source_zip_at(
            &key,
            &[("deploy.json", &deploy), ("template.yaml", &app.template)],
        )
        .await;
        runs.push((name.clone(), h.start_execution(&name).await));
    }

    let (mut wrong, mut repeated) = (Vec::new(), Vec::new());
    for (name, id) in &runs {
        let status = h
            .wait_until_done_within(name, id, Duration::from_secs(300))
            .await;
        if status != "Succeeded" {
            wrong.push(format!(
                "{name}: {status}: {:?}",
                h.deploy_detail(name).await.output()
            ));
        }
        let creates = h.stack_operations(name).await;
        if creates != 1 {
            repeated.push(format!("{name}: {creates} stack operations"));
        }
    }
    let elapsed = started.elapsed();
    let executions = h.execution_names(&machine).await.len();
    let stats = proxy.stats();
    let share = stats.total_faults() as f64 / stats.total_calls() as f64;
    figures::record(
        "faults",
        serde_json::json!({
            "pipelines": PIPELINES,
            "fault_rate": FAULT_RATE,
            "calls": stats.total_calls(),
            "faults_injected": stats.total_faults(),
            "faults_by_kind": stats.faults,
            "lost": wrong.len(),
            "duplicates": executions.saturating_sub(PIPELINES) + repeated.len(),
            "seconds": elapsed.as_secs_f64(),
        }),
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(repeated.is_empty(), "{repeated:#?}");
    assert_eq!(executions, PIPELINES, "one execution per pipeline");
    // Every kind of fault happened, on about a fifth of the calls.
    assert_eq!(stats.faults.len(), 4, "{stats:?}");
    assert!((0.15..0.25).contains(&share), "{stats:?}");
}
