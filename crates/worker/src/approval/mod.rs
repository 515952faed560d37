//! Approval by link (issue 18): a person with no AWS access sees what a
//! change set will do and approves or rejects it.
//!
//! The deploy state machine pauses in RequestApproval, a callback state
//! (`arn:aws:states:::sqs:sendMessage.waitForTaskToken`) that sends the
//! request and its task token to the approvals queue; the worker takes it
//! from there, keeps it, tells the `notify` topic with a signed link, and
//! serves the page the link opens. A decision on the page (or through
//! `cpsf approve`) answers the task: SendTaskSuccess goes on to
//! ExecuteChangeSet, SendTaskFailure to DiscardChangeSet, as does the
//! state's timeout.
//!
//! - pure: `spec.rs` (the input's `approval`), `deadline.rs` (how long it
//!   may wait: ends before the execution does), `ask.rs` (whether a change
//!   set asks, the request), `link.rs` (signed links, per-page tokens),
//!   `page.rs` (the HTML), `notice.rs` (the notification), `plain.rs`
//!   (names and comments as plain text).
//! - edges: `store.rs` (requests and decisions kept in S3), `inbox.rs`
//!   (the approvals queue), `decision.rs` (one decision, answered to Step
//!   Functions), `server.rs` (the page's HTTP routes).

pub mod ask;
pub mod deadline;
pub mod decision;
pub mod diff;
pub mod inbox;
pub mod link;
pub mod notice;
pub mod page;
pub mod server;
pub mod service;
pub mod spec;
pub mod store;
pub mod sweep;
pub mod waiting;
