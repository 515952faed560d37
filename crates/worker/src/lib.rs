//! cpsf's worker: a CodePipeline custom "Deploy" action served by a
//! long-running worker that hands the work to an AWS Step Functions state
//! machine. This crate is everything that runs on AWS; the `cpsf` crate
//! (the repository's root) is the command line over it, and
//! `crates/playground` the local stand-in for AWS, which this crate does
//! not depend on (Cargo holds that: it is not among its dependencies).
//!
//! # Layers
//!
//! Imports go one way: a module imports modules of its own layer or of
//! layers below it, never one above, and no two modules import each other,
//! even through others. `base` imports nothing of cpsf's.
//! The workspace's `tests/layering.rs` reads this list and holds the code
//! to it.
//!
//! 1. ground: `base` `shutdown` `metrics` `listen` `nudge` `pickup` `preflight` `probe` `aws` `logging` `health` `artifact`
//! 2. domain: `action_type` `pipeline` `approval` `environments` `references` `targets` `canary` `execution`
//! 3. views: `history` `events` `sfn`
//! 4. handlers: `activity` `reach` `cloudformation` `tasks`
//! 5. runtime: `job` `prune` `bootstrap` `replay` `worker`
//!
//! # Pure
//!
//! These decide and do nothing else: no AWS call, no network, no file, no
//! process, no clock (`base/clock.rs` is the clock), no task spawned; data
//! in, data out. `tests/layering.rs` fails on one that does.
//!
//! - `base/text.rs` `base/plain.rs` `base/hash.rs` `base/spelling.rs` `base/limits.rs` `base/change.rs` `execution.rs` `references.rs`
//! - `targets/` `canary/` `environments/name.rs` `environments/spec.rs` `environments/tags.rs` `environments/teardown.rs` `environments/select.rs` `environments/heads.rs` `environments/table.rs`
//! - `approval/spec.rs` `approval/deadline.rs` `approval/ask.rs` `approval/link.rs` `approval/page.rs` `approval/notice.rs` `approval/waiting.rs` `approval/sweep.rs`
//! - `job/pacing.rs` `job/data.rs` `job/config.rs` `job/input.rs` `job/decide.rs` `job/limits.rs` `job/outputs.rs`
//! - `artifact/read.rs` `artifact/zip_end.rs` `artifact/floor.rs` `artifact/ranged.rs` `cloudformation/unchanged.rs`
//! - `events/event.rs` `events/action.rs` `pickup/decide.rs` `history/timeline.rs` `sfn/classify.rs` `replay/lambda.rs`
//!
//! # Glossary
//!
//! One word for one thing, in code, messages and docs:
//! - **job**: one CodePipeline job of cpsf's action type, from
//!   PollForJobs to PutJob*Result; a long deploy is a chain of jobs linked
//!   by a **continuation token**.
//! - **execution**: one run of the deploy state machine (or of a rollout's
//!   child). One word, a type per thing said of it: what is known of it,
//!   [`execution::ExecutionFacts`] with its [`execution::ExecutionStatus`];
//!   the event that says it ended, [`events::event::ExecutionEvent`]; the
//!   clock an approval must beat, [`approval::deadline::ExecutionClock`];
//!   its line in a job's report, [`pipeline::wire::ExecutionDetails`]
//!   (CodePipeline's own name).
//! - **task**: one activity task Step Functions hands the worker; the
//!   code that serves a kind of task is its **handler** (`tasks/`); the
//!   **activity runtime** (`activity/`) polls, heartbeats and answers.
//! - **deploy input**: the JSON the execution starts with (`stackName`,
//!   `template`, `targets`, `approval`, …), read from the job's
//!   **artifact** (a zip in S3) or the action's configuration.
//! - **stack**, **change set**, **change**: CloudFormation's; a change is
//!   one resource change of a change set ([`base::change::Change`]).
//! - **target**: one account and region a rollout deploys to; its
//!   **place** is [`targets::key::TargetKey`]. A **rollout** deploys its
//!   targets in **waves**, each target by a **child** execution, with a
//!   **bake** (alarms watched) between waves. A target is one word along
//!   its way: as the input asks it, [`targets::spec::Target`]; as the
//!   rollout's state carries it, [`targets::rollout::PlannedTarget`]; as
//!   it ended, [`targets::plan::TargetResult`] (with its
//!   [`targets::plan::TargetStatus`]); as `cpsf history` shows it,
//!   [`history::rollout::TargetView`].
//! - **approval**: a person's decision on a change set, by **link** (the
//!   page) or `cpsf approve`; the **store** keeps requests and decisions.
//! - **environment**: a branch's own copy of a stack; **teardown** deletes
//!   one, **prune** deletes the stale ones.
//! - **events**: Step Functions' execution status changes from the events
//!   queue (`events/`, one is an [`events::event::ExecutionEvent`]; the
//!   playground's queue is `events_queue.rs`). A **history** is what
//!   GetExecutionHistory returns, one [`history::event::Event`] per step
//!   (`history/`); a **saved event** is a file `cpsf replay` runs
//!   (`replay/`, `test_events/`). Only the first is a module named
//!   `events`.
//! - **playground**: the local stand-in for AWS (`crates/playground`): an
//!   **emulator** (MiniStack or fakecloud) plus cpsf's own CodePipeline.
//!
//! # Components and where they live
//!
//! Decision logic is pure (data in, data out); AWS calls sit at the edges.
//!
//! - [`base`] (`src/base/`): the ground floor, importing nothing of cpsf's:
//!   `clock.rs` (seconds since the epoch), `text.rs` (text cut to a
//!   service's limit, JSON type words), `plain.rs` (names and comments as
//!   plain text), `hash.rs` (a stable hash for names and keys),
//!   `spelling.rs` (the key a misspelt one meant), `change.rs` (one
//!   resource change of a change set).
//! - [`execution`] (`src/execution.rs`): what is known of one Step
//!   Functions execution (status, failure, a rollout's progress), in plain
//!   types, gathered by [`sfn`] and read by the job, history and tasks.
//! - [`logging`] sets up tracing and keeps the AWS SDK's secret-bearing
//!   debug output out of the logs.
//! - [`worker`] (`src/worker.rs`): `cpsf worker`, wiring the job poller,
//!   the activity task handlers and the health endpoint ([`health`],
//!   [`metrics`]) together. [`listen`] serves the health endpoint and the
//!   approval page with a cap on connections and time limits, so slow
//!   clients cannot hold the worker's memory. [`nudge`] lets the task handlers and the
//!   events queue tell a job in the same process that its execution moved
//!   on or ended.
//! - [`events`] (`src/events/`): `--events-queue`, Step Functions' execution
//!   status events from an SQS queue an EventBridge rule feeds: `event.rs`
//!   (pure: reading an event, a message's fate), `queue.rs` (the long poll);
//!   the same queue brings CodePipeline's action start events (a second
//!   rule), `action.rs` (pure: reading one, its message's fate).
//! - [`pickup`] (`src/pickup/`): event-driven pickup (issue 31): a start
//!   event wakes the job poller; while events flow, idle polls are a
//!   safety net ten seconds apart. `mod.rs` (the wake-up, the starts
//!   announced, whether events flow), `decide.rs` (pure: the poller's
//!   pauses, unannounced jobs, a missing action type's slow retry).
//! - [`job`] (`src/job/`): the CodePipeline side of the worker.
//!   - `poller.rs`: PollForJobs with adaptive cadence, bounded concurrency,
//!     one supervised task per job (panics become failed jobs), shutdown.
//!   - `handle.rs`: one job from pickup to report, and why the execution is
//!     started before the job is acknowledged; `handle/follow.rs`: following
//!     the started execution and turning its end into a report.
//!   - `recover.rs`: a starting worker answers the jobs a stopped worker
//!     acknowledged and never answered (from executions' inputs and the
//!     journal); `journal/`: continuation jobs recorded between
//!     acknowledgement and report, in S3 or a directory (`location.rs`);
//!     `discover.rs`: the state machines of the pipelines using the action
//!     type, for recovery with no `--recover-from`.
//!   - pure: `pacing.rs` (how often a job checks its execution, how long
//!     each round follows), `data.rs` (the job in plain types, secrets kept
//!     out of `Debug`), `config.rs` (action configuration), `input.rs`
//!     (state machine input, execution name), `decide.rs` (execution facts
//!     → report, continuation tokens), `limits.rs` (a report cut to
//!     CodePipeline's limits), `outputs.rs` (output variables a pipeline
//!     accepts).
//!   - edge: `report.rs` (AcknowledgeJob, PutJob*Result).
//! - [`artifact`] (`src/artifact/`): pipeline artifacts in S3, shared by
//!   the job (its input and output) and the task handlers (a template).
//!   `location.rs` (where one is, and credentials kept out of `Debug`);
//!   pure: `read.rs` (one file out of a zip, safely), `zip_end.rs` (the end
//!   records' entry count and directory size, checked before the directory
//!   is parsed), `floor.rs` (how far back the zip crate may read while it
//!   parses), `ranged.rs` (one file of a zip read through ranged reads);
//!   edges: `s3.rs` (artifacts with the job's credentials), `s3_ranges.rs`
//!   (the ranged GETs, a few at once).
//! - [`activity`] (`src/activity/`): the activity runtime, serving the
//!   deploy state machine's activities whatever the handler: `runner.rs`
//!   (long polls, heartbeats, results; it knows the handlers through
//!   [`activity::runner::Registry`]), `lease.rs` (a task's hold on its
//!   token: stop before a side effect once Step Functions closed the
//!   task), `slots.rs` (tasks at once), `pace.rs` (one describe budget for
//!   all waits), and what a handler receives and returns: `input.rs`,
//!   `error.rs`.
//! - [`tasks`] (`src/tasks/`): the deploy state machine's task handlers,
//!   one file per handler (`check_stack.rs`, `create_stack.rs`,
//!   `update_stack.rs`, `delete_stack.rs`, `wait_stack.rs`; a rollout's
//!   `plan_rollout.rs`, `finish_wave.rs`, `bake.rs`, and with approval
//!   `gather_wave.rs`, `discard_wave.rs`; an environment's teardown
//!   `check_teardown.rs`, `delete_environment.rs`, `wait_teardown.rs`),
//!   listed once in the registry (`mod.rs`: [`tasks::Handler`], a row per
//!   handler with its activity, placeholder and call); shared:
//!   `context.rs` (clients, the waits), `own_change_set.rs` (the change
//!   set a task makes and waits on). Tests only: `asl_eval.rs` applies a
//!   state's paths as deploy.asl.json defines them, so
//!   `wave_size_tests.rs` can measure every state of the largest rollout
//!   against Step Functions' 256 KiB.
//! - [`cloudformation`] (`src/cloudformation/`): the CloudFormation
//!   toolkit the handlers, the job, bootstrap, prune and the demo share,
//!   each call on a client: `stack.rs` (what a status means, describe,
//!   first failed event), `change_set.rs` (names, whose, execute, read),
//!   `template.rs` (the template from the revision, staged when large),
//!   `outputs.rs` (another stack's outputs read for a deploy's
//!   parameters, where the deploy goes); pure: `unchanged.rs` (when an
//!   update provably changes nothing without a change set). [`reach`]
//!   (`src/reach.rs`): a rollout target's region and assumed-role
//!   credentials, for the handlers and the job.
//! - [`targets`] (`src/targets/`): one Deploy action over many accounts and
//!   regions (issue 17), pure: `spec.rs` (the input's `targets`, `waves`,
//!   `bake`, `failureTolerance`, checked), `limits.rs` (at most
//!   [`targets::MAX_TARGETS`], and why), `budget.rs` (how the rollout's
//!   state fits Step Functions' 256 KiB), `plan.rs` (each target's deploy
//!   input, a wave's outcome, progress, output variables), `rollout.rs`
//!   (the plan the states carry, each target a child execution of the
//!   deploy state machine), `glance.rs` (where a running rollout is, for
//!   the pipeline's summary), `alarms.rs` (the bake's verdict), `key.rs`
//!   (a target's place).
//! - [`canary`] (`src/canary/`, pure): a Lambda alias's new version takes
//!   the traffic in steps, each a stack update and a bake watched by
//!   alarms, rolled back on one (issue 30): `spec.rs` (the input's
//!   `canary`), `template.rs` (the alias, the steps' templates), `yaml.rs`
//!   (a YAML template as JSON), `plan.rs` (the progress, what comes next).
//!   Its edges are `tasks/canary.rs` (GetAlias, the start), the handlers
//!   `tasks/canary_step.rs` and `tasks/canary_bake.rs`.
//! - [`references`] (`src/references.rs`, pure): a parameter whose value
//!   is another stack's output (`{"fromStack", "output"}`, issue 29):
//!   its shape, where it is read (the deploy's account and region), the
//!   values put in place, the messages and where each value came from;
//!   `cloudformation/outputs.rs` reads them. An approval's `reviewUrl`
//!   takes the same shape (`approval/spec.rs`), read by `tasks/asking.rs`.
//! - [`approval`] (`src/approval/`): approval by link (issue 18): a
//!   person decides on a change set the deploy state machine waits on in
//!   RequestApproval. Pure: `spec.rs` (the input's `approval`),
//!   `deadline.rs` (it ends before the execution does), `ask.rs`
//!   (whether a change set asks, the request), `link.rs` (signed links,
//!   per-page tokens), `page.rs` (the HTML), `notice.rs` (the SNS
//!   message), `sweep.rs` (when the store is swept), `waiting.rs` (which approval waits in a pipeline, for
//!   `cpsf approve`). Edges: `store.rs` (S3), `inbox.rs` (the approvals queue,
//!   timeouts), `decision.rs` (one decision, answered to Step Functions),
//!   `server.rs` (the page), `service.rs` (what they share). The task
//!   handlers' side: `tasks/asking.rs`, `execute_change_set.rs`,
//!   `discard_change_set.rs`; `cpsf approve` is the root crate's
//!   `src/cli/approve.rs`.
//! - [`environments`] (`src/environments/`): an environment per branch
//!   (issue 19). Pure: `name.rs` (a branch name made stack-name safe),
//!   `spec.rs` (the input's `operation`, `environment`, `ttlHours`),
//!   `tags.rs` (the `cpsf:*` tags), `teardown.rs` (whether a stack may be
//!   deleted: one rule for the state machine and prune), `select.rs` (what
//!   prune takes), `heads.rs` (a repository's branches from `git
//!   ls-remote`'s text, for `--branches-from`), `table.rs`. Edge:
//!   `listing.rs` (DescribeStacks →
//!   environments). [`prune`] (`src/prune.rs`): bounded parallel deletes
//!   with progress, taking the teardown's task handlers' own steps.
//!   `cpsf environments` is the root crate's `src/cli/environments.rs`; the teardown's states
//!   are the task handlers above.
//! - [`replay`] (`src/replay/`): `cpsf replay`: a saved job or task input
//!   through the worker's own code path (dry-run reporter for jobs);
//!   `lambda.rs` (pure) completes a Lambda invoke action's event into a job.
//! - [`sfn`] (`src/sfn.rs`): Step Functions edge: start (idempotent by name),
//!   describe, newest history → facts; `sfn/classify.rs` (pure) sorts a
//!   failed start into a failure type or "try again later".
//! - [`aws`] (`src/aws.rs`): SdkConfig loading (retry, timeouts) and clients;
//!   [`preflight`] (`src/preflight.rs`) turns a missing region, credentials
//!   or a dead endpoint into one or two lines of advice before the first call.
//! - [`bootstrap`] (`src/bootstrap/`): `cpsf bootstrap`: installs
//!   bootstrap/cpsf.yaml with the state machine definition from statemachines/;
//!   `definition.rs` (statemachines/deploy.asl.json compiled in,
//!   placeholders filled, installed through the API for tests and the demo);
//!   `parameters.rs` decides what an update sends (UsePreviousValue),
//!   `text.rs` cuts a template into sections and resources,
//!   `template_tests.rs` checks the template's grants statically, both ways:
//!   every grant is called, and every call `calls_scan.rs` finds in src/ is
//!   granted.
//! - [`action_type`] (`src/action_type.rs`): the custom action type's
//!   definition (id, configuration keys, console URLs); [`pipeline`]
//!   (`src/pipeline.rs`): the S3 source → Deploy pipeline declaration.
//! - [`history`] (`src/history/`): an execution's history made readable;
//!   `timeline.rs` (pure) turns events into states, offsets and durations.
//! - [`shutdown`] (`src/shutdown.rs`): SIGINT/SIGTERM.
//! - [`probe`] (`src/probe.rs`): "does something answer HTTP here yet?",
//!   for `cpsf healthcheck` (the container's HEALTHCHECK) and the tests.
//!
//! Tests: unit tests beside the code; the root crate's `tests/playground/` runs a playground
//! per test on free ports and drives it through the AWS SDK, a file per area
//! (`crash.rs`, `faults.rs`, `scale.rs` and the bad-input corpus are the
//! reliability tests). `benches/worker/` is the benchmark (`cargo bench
//! --bench worker`), `fuzz/` the cargo-fuzz targets (`scripts/fuzz`).

pub mod action_type;
pub mod activity;
pub mod approval;
pub mod artifact;
pub mod aws;
pub mod base;
pub mod bootstrap;
pub mod canary;
pub mod cloudformation;
pub mod environments;
pub mod events;
pub mod execution;
pub mod health;
pub mod history;
pub mod job;
pub mod listen;
pub mod logging;
pub mod metrics;
pub mod nudge;
pub mod pickup;
pub mod pipeline;
pub mod preflight;
pub mod probe;
pub mod prune;
pub mod reach;
pub mod references;
pub mod replay;
pub mod sfn;
pub mod shutdown;
pub mod targets;
pub mod tasks;
pub mod worker;
