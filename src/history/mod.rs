//! An execution's history made readable. `timeline.rs` is pure: events in,
//! steps out.

pub mod events;
pub mod failure;
pub mod fetch;
pub mod graph;
pub mod timeline;
pub mod view;
