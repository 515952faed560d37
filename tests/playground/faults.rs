//! With a fifth of the worker's CodePipeline calls failing (throttled,
//! server errors, responses lost after the call took effect), fifty
//! pipelines all end Succeeded, each with exactly one execution.
//!
//! The faults come from the local CodePipeline service (`fault_rate`);
//! fakecloud's calls are not faulted here.

use crate::harness::*;
use aws_config::retry::RetryConfig;
use cpsf::job::handle::JobSettings;
use cpsf::job::poller::PollerSettings;
use cpsf::local::codepipeline::Config;
use cpsf::metrics::Metrics;
use cpsf::worker::WorkerOptions;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const PIPELINES: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_pipelines_succeed_once_each_with_a_fifth_of_calls_failing() {
    let h = Harness::start_with(Config {
        fault_rate: 0.2,
        // Jobs whose PollForJobs answer was lost come back quickly.
        dispatch_timeout: Duration::from_secs(2),
        ..Config::default()
    })
    .await;
    h.create_worker_type().await;
    let machine = h.create_slow_machine("quick", 0).await;
    let mut runs = Vec::new();
    for i in 0..PIPELINES {
        let name = format!("p-{i}");
        h.create_worker_pipeline(&name, &[("StateMachineArn", &machine)])
            .await;
        runs.push((name.clone(), h.start_execution(&name).await));
    }

    // The worker as deployed with --aws-max-attempts 8.
    let mut clients = h.clients.clone();
    let config = aws_sdk_codepipeline::config::Builder::from(&clients.sdk)
        .endpoint_url(&h.env.codepipeline_endpoint)
        .retry_config(RetryConfig::standard().with_max_attempts(8))
        .build();
    clients.codepipeline = aws_sdk_codepipeline::Client::from_conf(config);
    let options = WorkerOptions {
        poller: Some(PollerSettings {
            action_type: deploy_type_id(),
            query: None,
            max_in_flight: 16,
            poll_min: Duration::from_millis(50),
            poll_max: Duration::from_millis(300),
            shutdown_grace: Duration::from_secs(10),
        }),
        job: JobSettings {
            follow_for: Duration::from_secs(2),
            check_min: Duration::from_millis(50),
            check_max: Duration::from_millis(300),
            ..JobSettings::default()
        },
        tasks: None,
        listen: None,
    };
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(cpsf::worker::run(
        clients,
        options,
        Metrics::default(),
        shutdown.clone(),
    ));

    for (name, id) in &runs {
        let status = h
            .wait_until_done_within(name, id, Duration::from_secs(180))
            .await;
        assert_eq!(
            status,
            "Succeeded",
            "{name}: {:?}",
            h.deploy_detail(name).await.output()
        );
    }
    let names = h.execution_names(&machine).await;
    assert_eq!(names.len(), PIPELINES, "one execution per pipeline");
    // About a fifth of the worker's calls really failed.
    let stats = codepipeline_stats(&h.env).await;
    let faults = stats["faults_injected"].as_u64().unwrap();
    let worker_calls: u64 = [
        "PollForJobs",
        "AcknowledgeJob",
        "PutJobSuccessResult",
        "PutJobFailureResult",
    ]
    .iter()
    .map(|op| stats["calls"][op].as_u64().unwrap_or(0))
    .sum();
    let share = faults as f64 / worker_calls as f64;
    assert!(
        (0.1..0.3).contains(&share),
        "{faults} faults in {worker_calls} calls\n{stats}"
    );
    shutdown.cancel();
    worker.await.unwrap().unwrap();
}
