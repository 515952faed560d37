//! The local CodePipeline service: AWS JSON 1.1 over HTTP, wire-compatible
//! with every AWS SDK, covering custom action types, pipelines with an S3
//! source stage, pipeline executions and the whole job-worker lifecycle.
//!
//! - `protocol.rs`: errors, timestamps, pagination of the wire protocol
//! - the wire shapes are `cpsf_worker::pipeline::wire` (`cpsf replay` reads
//!   saved jobs with them too)
//! - `store.rs`: all state, behind one lock; records and [`Config`]
//! - `action_types.rs`, `pipelines.rs`: declarations and their validation
//! - `executions.rs`: the engine that runs stages and actions
//! - `variables.rs`: `#{namespace.key}` references, their checks and
//!   resolution (pure)
//! - `jobs.rs`: PollForJobs, AcknowledgeJob, GetJobDetails, nonces, timeouts
//! - `job_results.rs`: PutJobSuccessResult, PutJobFailureResult
//! - `views.rs`: pipeline state, executions, action executions
//! - `events.rs`: the action state change events put on EventBridge
//! - `server.rs`: the axum route and the runner of network effects

mod action_types;
pub mod events;
mod executions;
mod job_results;
mod jobs;
mod pipelines;
pub mod protocol;
mod server;
mod store;
mod variables;
mod views;

pub use server::LocalCodePipeline;
pub use store::Config;

#[cfg(test)]
mod tests;
