//! An execution's history made readable. `timeline.rs` is pure: events in,
//! steps out; `rollout.rs` reads a rollout's waves and targets.

pub mod event;
pub mod failure;
pub mod fetch;
pub mod graph;
pub mod rollout;
pub mod timeline;
pub mod view;
