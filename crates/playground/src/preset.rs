//! The worker as the playground runs it: `cpsf demo` and the playground
//! tests start their workers here, so both run one worker. Each setting is
//! `cpsf worker`'s default (its settings struct's `Default`) unless it
//! differs for the reason given beside it; a test that needs another value
//! overrides that one field and says why.

use cpsf_worker::job::handle::JobSettings;
use cpsf_worker::job::poller::PollerSettings;
use cpsf_worker::tasks::RunnerSettings;
use cpsf_worker::worker::{TaskOptions, WorkerOptions};
use std::time::Duration;

/// Jobs and task handlers in one worker, as `cpsf worker` serves them,
/// deploying only stacks named under `stack_prefix` (the playground worker
/// role's DeployedStackPrefix). No health endpoint, no approvals.
pub fn worker(stack_prefix: &str) -> WorkerOptions {
    WorkerOptions {
        poller: Some(poller()),
        job: job(),
        tasks: Some(tasks(stack_prefix)),
        listen: None,
        approvals: None,
    }
}

/// The job poller.
pub fn poller() -> PollerSettings {
    PollerSettings {
        // A playground serves a handful of pipelines; a small bound keeps
        // a runaway test from flooding the one emulator process.
        max_in_flight: 8,
        // Polls of the local CodePipeline service cost nothing: a job is
        // picked up within 0.3 s, not after an idle pause of 1.5 s.
        poll_min: Duration::from_millis(50),
        poll_max: Duration::from_millis(300),
        // Stopping a test's or the demo's worker takes seconds, not half
        // a minute.
        shutdown_grace: Duration::from_secs(10),
        ..PollerSettings::default()
    }
}

/// Following executions.
pub fn job() -> JobSettings {
    JobSettings {
        // The playground's deploys take seconds to a minute: 5 s hands the
        // longer ones back as continuations, so they cross a hand-over.
        follow_for: Duration::from_secs(5),
        // The emulator answers DescribeExecution for free: an end is
        // noticed within 0.3 s, even with no task handler to nudge the job.
        check_min: Duration::from_millis(50),
        check_max: Duration::from_millis(300),
        ..JobSettings::default()
    }
}

/// The task handlers, deleting only stacks named under `stack_prefix`.
pub fn tasks(stack_prefix: &str) -> TaskOptions {
    TaskOptions {
        runner: RunnerSettings {
            // The emulator is one process on a machine the tests share.
            max_concurrent: 4,
            // Tests shorten a task's HeartbeatSeconds to a few seconds to
            // see a dead handler timed out (deploy_harness::short_heartbeats):
            // a live one beats every second.
            heartbeat_every: Duration::from_secs(1),
            // A stopping wait hands its task back at once; a working
            // handler's step is one or two emulator calls.
            shutdown_grace: Duration::from_secs(5),
            ..RunnerSettings::default()
        },
        // A wait hands its task back within a minute, so the playground's
        // longer deploys go through the state machine's ask-again loop.
        wait_cap: Duration::from_secs(60),
        // The emulator's describes cost nothing: a stack's end is noticed
        // within half a second.
        watch_min: Duration::from_millis(100),
        watch_max: Duration::from_millis(500),
        stack_prefix: Some(stack_prefix.into()),
        ..TaskOptions::default()
    }
}
