//! Deletes held back so that several share one DeleteMessageBatch (pure).
//!
//! Every job brings two messages at different times: its action's start
//! and its execution's end. Deleting each as it is used costs a call per
//! message; holding the receipt handles until ten are due, or until the
//! oldest has waited [`HOLD_FOR`], lets a job's start and end (and other
//! jobs' messages) go in one call (issue 31: ≤ 8 calls a job).
//!
//! A held message stays invisible because it is received with
//! [`RECEIVE_VISIBILITY_SECONDS`] (ReceiveMessage's `VisibilityTimeout`
//! overrides the queue's for that receive; SQS API reference), longer than
//! any hold: the queue loop flushes what is due after every receive, and a
//! receive returns within its 20 s long poll, so a handle is used by
//! `HOLD_FOR` + 20 s, before it expires (DeleteMessage needs the latest
//! receipt handle of a message still in flight). If the worker dies
//! holding some, they come back after the visibility timeout, stale, and
//! are dropped or cost one more poll: an event is only a wake-up.

use std::time::{Duration, Instant};

/// DeleteMessageBatch takes at most ten entries (SQS API reference).
pub const BATCH: usize = 10;
/// The longest a receipt handle is held before its delete is sent.
pub const HOLD_FOR: Duration = Duration::from_secs(240);
/// Messages are received invisible for this long: `HOLD_FOR`, one long
/// poll (20 s) and room for slow calls.
pub const RECEIVE_VISIBILITY_SECONDS: i32 = 300;

// A held handle is used at most one long poll (20 s) after its hold runs
// out: before its receive's visibility ends.
const _: () = assert!(HOLD_FOR.as_secs() + 20 < RECEIVE_VISIBILITY_SECONDS as u64);

/// Receipt handles of messages that were used, not yet deleted.
#[derive(Debug, Default)]
pub struct HeldDeletes {
    held: Vec<(String, Instant)>,
}

impl HeldDeletes {
    pub fn hold(&mut self, receipt: String, now: Instant) {
        self.held.push((receipt, now));
    }

    /// The batches to send now, taken out: every full batch; the rest too
    /// when the oldest has been held [`HOLD_FOR`], or when `all` (the
    /// worker stops).
    pub fn due(&mut self, now: Instant, all: bool) -> Vec<Vec<String>> {
        let oldest_due = self
            .held
            .first()
            .is_some_and(|(_, at)| now.saturating_duration_since(*at) >= HOLD_FOR);
        let take = if all || oldest_due {
            self.held.len()
        } else {
            self.held.len() / BATCH * BATCH
        };
        let taken: Vec<String> = self.held.drain(..take).map(|(r, _)| r).collect();
        taken.chunks(BATCH).map(<[String]>::to_vec).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(n: usize, at: Instant) -> HeldDeletes {
        let mut held = HeldDeletes::default();
        for i in 0..n {
            held.hold(format!("r{i}"), at);
        }
        held
    }

    #[test]
    fn a_few_fresh_deletes_wait_for_company() {
        let now = Instant::now();
        let mut held = held(2, now);
        assert!(held.due(now + Duration::from_secs(30), false).is_empty());
        assert_eq!(held.held.len(), 2);
    }

    #[test]
    fn a_full_batch_goes_at_once_and_the_rest_waits() {
        let now = Instant::now();
        let mut held = held(13, now);
        let due = held.due(now, false);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].len(), BATCH);
        assert_eq!(due[0][0], "r0", "the oldest go first");
        assert_eq!(held.held.len(), 3);
    }

    #[test]
    fn the_oldest_held_too_long_takes_everything_with_it() {
        let now = Instant::now();
        let mut held = held(1, now);
        held.hold("late".into(), now + Duration::from_secs(200));
        let due = held.due(now + HOLD_FOR, false);
        assert_eq!(due, vec![vec!["r0".to_string(), "late".to_string()]]);
        assert!(held.held.is_empty());
    }

    #[test]
    fn stopping_sends_everything_in_batches_of_ten() {
        let now = Instant::now();
        let mut held = held(23, now);
        let sizes: Vec<usize> = held.due(now, true).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![10, 10, 3]);
        assert!(held.held.is_empty());
    }
}
