//! The activity runtime: how `cpsf worker` serves the deploy state
//! machine's activities, whatever the handler. A **task** is what Step
//! Functions hands the worker; the code that serves it is its handler
//! (`tasks/`, which lists them in its registry).
//!
//! - `runner.rs`: one long-poll loop per activity, bounded concurrency,
//!   heartbeats while a handler works, SendTaskSuccess/SendTaskFailure;
//!   it knows the handlers only through [`runner::Registry`].
//! - `lease.rs`: a task's hold on its token: a handler stops before a side
//!   effect once Step Functions closed the task.
//! - `slots.rs`: how many tasks of an activity run at once, and what the
//!   worker says when they are all busy; `pace.rs`: one describe budget
//!   for all waits.
//! - what a handler receives and returns: `input.rs` (the task's input,
//!   idempotency tokens), `error.rs` (error names a Catch can match).

pub mod error;
pub mod input;
pub mod lease;
pub mod pace;
pub mod runner;
pub mod slots;
