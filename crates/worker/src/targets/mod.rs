//! One Deploy action, many accounts and regions (issue 17): the rollout's
//! input and decisions, pure (data in, data out; no AWS calls). The states
//! that run a rollout are in statemachines/deploy.asl.json; their task
//! handlers (`tasks/plan_rollout.rs`, `finish_wave.rs`, `bake.rs`) and how
//! a task reaches a target (`reach.rs`) build on this.
//!
//! - `spec.rs`: the deploy input's `targets`, `waves`, `bake` and
//!   `failureTolerance`, checked, every problem at once; `target.rs` and
//!   `bake.rs` read one target and the bake, `names.rs` what AWS accepts as
//!   a region, account, role ARN or alarm name.
//! - `limits.rs`: how many targets one action can report ([`MAX_TARGETS`]),
//!   the longest name and bake, each with the AWS limit behind it;
//!   `budget.rs`: how the rollout's state fits Step Functions' 256 KiB.
//! - `plan.rs`: each target's own deploy input, a wave's outcome, the
//!   progress summary and the output variables.
//! - `rollout.rs`: the plan the states carry (each target's child
//!   execution and its input) and the progress after each wave;
//!   `glance.rs`: where a running rollout is, for the pipeline's summary;
//!   `key.rs`: a target's place as a task handler is given it.
//! - `alarms.rs`: the bake's verdict from DescribeAlarms' answers.
//! - `rollback.rs`: `bake.rollback` as CloudFormation's rollback triggers
//!   on each target's stack operation, the bake as its monitoring period.
//! - `live.rs`: where the worker looks for a deploying target's status,
//!   and the word the pipeline's summary shows for it.
//! - `fair.rs`: lists of names within a message's length limit.
//! - `sources.rs`: where each target read its parameters from other
//!   stacks' outputs, for the finished rollout's summary.

pub mod alarms;
mod bake;
pub mod budget;
mod fair;
pub mod glance;
pub mod key;
pub mod limits;
pub mod live;
pub mod names;
pub mod plan;
pub mod rollback;
pub mod rollout;
pub mod sources;
pub mod spec;
mod target;

pub use limits::MAX_TARGETS;
