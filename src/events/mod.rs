//! Step Functions' own notice that an execution ended: the "Step Functions
//! Execution Status Change" events (source `aws.states`) that EventBridge
//! delivers, through a rule, to an SQS queue the worker long-polls
//! (`--events-queue`). Step Functions developer guide, "Automating Step
//! Functions event delivery with EventBridge".
//!
//! - `event.rs` (pure): reading an event, and what to do with its message.
//! - `queue.rs` (edge): the long poll, deletes and hand-backs in batches.
//!
//! # What an event is trusted with
//!
//! An end event carries what DescribeExecution would say (status, output,
//! error, cause), so the job following that execution reports from it with
//! no call of its own. The trust rests on the queue: its policy lets only
//! the rule send to it and denies everyone else explicitly (the bootstrap
//! and the playground make it so), and only the worker role reads it. An
//! end whose output Step Functions left out is only a hint: the job
//! describes the execution.
//!
//! Everything else stays with the job's own checks: an event that is lost,
//! late or never sent (rule disabled, queue deleted) delays a report, never
//! changes it. While events flow, jobs check at a far slower pace
//! (`job/pacing.rs`); when the queue fails, or a job sees an end that no
//! event announced, they return to their usual pace (`nudge.rs`).
//!
//! # Several workers, one queue
//!
//! A message for an execution this worker follows is acted on and deleted.
//! One for an execution nobody here follows is kept in this process for a
//! few minutes (a continuation between two jobs picks it up) and handed
//! back to the queue, visible again in two seconds, so another worker's
//! poll can take it. After [`event::MAX_RECEIVES`] receives or
//! [`event::STALE_AFTER`], it is dropped: whoever follows that execution
//! has seen its end by its own pace since.

pub mod event;
mod queue;

pub use queue::EventsQueue;
