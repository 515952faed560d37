//! Step Functions' own notice that an execution ended: the "Step Functions
//! Execution Status Change" events (source `aws.states`) that EventBridge
//! delivers, through a rule, to an SQS queue the worker long-polls
//! (`--events-queue`). Step Functions developer guide, "Automating Step
//! Functions event delivery with EventBridge".
//!
//! The same queue carries CodePipeline's action start events ("CodePipeline
//! Action Execution State Change", source `aws.codepipeline`, from a second
//! rule: issue 31), which wake the job poller (`pickup/`): one long poll
//! for both.
//!
//! - `event.rs` (pure): reading an execution event, and what to do with
//!   its message.
//! - `action.rs` (pure): reading an action start, and its message's fate.
//! - `held.rs` (pure): deletes held back to share a batch.
//! - `queue.rs` (edge): the long poll, deletes and hand-backs in batches.
//!
//! # What an event is trusted with
//!
//! Only with a wake-up. An end event carries what DescribeExecution would
//! say (status, output, error, cause), but the queue's policy, which lets
//! only the rule send to it, cannot stop whoever may edit the rule from
//! sending any event through it: a forged success would report chosen
//! output variables, and a forged failure would fail an action whose
//! deploy goes on (issue 27). So an end event wakes the job following that
//! execution, and the job describes the execution once and reports what
//! Step Functions says (`job/handle/follow.rs`); an "end" of an execution
//! Step Functions says is running is ignored. The cost is one
//! DescribeExecution per job that ends by an event, and the event still
//! brings the report within a second of the end.
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
//! One for an execution nobody here follows is noted in this process for a
//! few minutes (its ARN, within a bound in bytes: `nudge.rs`; a
//! continuation between two jobs picks it up) and handed
//! back to the queue, visible again in two seconds, so another worker's
//! poll can take it. After [`event::MAX_RECEIVES`] receives or
//! [`event::STALE_AFTER`], it is dropped: whoever follows that execution
//! has seen its end by its own pace since.

pub mod action;
pub mod event;
mod held;
mod queue;

pub use queue::EventsQueue;
