//! In-process notices that an execution has moved on. A job follows its
//! execution by checking it, ever less often as it ages (`job/pacing.rs`),
//! so without notices a long execution's end is noticed late. Two sources
//! know better:
//!
//! - the task runner of this process: answering a task (the last one is the
//!   stack wait) is what moves the execution on ([`Nudge::TaskAnswered`]);
//! - Step Functions' own execution status events, read from the events
//!   queue (`events/`), which say it ended ([`Nudge::Ended`]). The job
//!   then describes the execution: an event is a wake-up, never the
//!   report's source (`events/mod.rs`).
//!
//! An end that arrives while no job of this process follows the execution
//! (a continuation is between two jobs) is kept a few minutes, and handed
//! to the next job that follows it here. Only its execution ARN is kept,
//! within [`KEEP_ENDS_BYTES`]: whatever the queue brings, the memory it
//! takes here is bounded.
//!
//! Whether events are flowing is kept here too: while they are, jobs check
//! their executions at a far slower pace (`job/pacing.rs`), and a job wakes
//! at once when they stop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

/// How long an end nobody here followed is kept for the next job.
pub const KEEP_ENDS_FOR: Duration = Duration::from_secs(300);
/// At most this many bytes of such ends are kept, counted by
/// [`kept_bytes`]: about 1,500 ends of typical ARNs (~100 bytes). The
/// ARN comes from the message, which anyone who can edit the events rule
/// shapes (an SQS message takes up to 1 MiB), so the bound is in bytes,
/// not ends.
pub const KEEP_ENDS_BYTES: usize = 256 * 1024;
/// What one kept end costs beyond its ARN's bytes: the map's entry, the
/// string's header and the time (an estimate, on the high side).
const KEPT_END_OVERHEAD: usize = 64;

/// The bytes one kept end of `execution_arn` counts for.
pub fn kept_bytes(execution_arn: &str) -> usize {
    execution_arn.len() + KEPT_END_OVERHEAD
}

/// What a job is told about its execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Nudge {
    /// A task of the execution was just answered: it moves on shortly.
    TaskAnswered,
    /// Step Functions' event says the execution ended: look at it now.
    /// What DescribeExecution then says is what the job reports.
    Ended,
}

/// The executions followed in this process. Cheap to clone.
#[derive(Clone)]
pub struct Nudges {
    inner: Arc<Inner>,
}

struct Inner {
    followed: Mutex<HashMap<String, Arc<Slot>>>,
    /// Ends that arrived while nobody here followed them.
    kept: Mutex<KeptEnds>,
    events_flowing: watch::Sender<bool>,
    /// When a job last saw its execution end with no event for it.
    missed_at: Mutex<Option<Instant>>,
}

/// The executions whose end arrived while nobody here followed them, with
/// when, and the bytes they count for ([`kept_bytes`]).
#[derive(Default)]
struct KeptEnds {
    at: HashMap<String, Instant>,
    bytes: usize,
}

impl KeptEnds {
    /// Keeps `execution_arn`'s end, dropping ends older than
    /// [`KEEP_ENDS_FOR`], then the oldest, to stay within `max_bytes`.
    /// An end that alone exceeds it is not kept.
    fn keep(&mut self, execution_arn: &str, now: Instant, max_bytes: usize) {
        let cost = kept_bytes(execution_arn);
        if cost > max_bytes {
            return;
        }
        self.take(execution_arn);
        let stale: Vec<String> = self
            .at
            .iter()
            .filter(|(_, at)| now.duration_since(**at) >= KEEP_ENDS_FOR)
            .map(|(arn, _)| arn.clone())
            .collect();
        for arn in stale {
            self.take(&arn);
        }
        while self.bytes + cost > max_bytes {
            // The oldest goes: its job, if any, still checks at its own pace.
            let Some(oldest) = self.at.iter().min_by_key(|(_, at)| **at) else {
                break;
            };
            let oldest = oldest.0.clone();
            self.take(&oldest);
        }
        self.at.insert(execution_arn.to_string(), now);
        self.bytes += cost;
    }

    /// Takes `execution_arn`'s end out: whether one was kept.
    fn take(&mut self, execution_arn: &str) -> bool {
        let kept = self.at.remove(execution_arn).is_some();
        if kept {
            self.bytes -= kept_bytes(execution_arn);
        }
        kept
    }
}

/// One job's mailbox: the strongest notice not yet read.
#[derive(Default)]
struct Slot {
    notify: Notify,
    pending: Mutex<Option<Nudge>>,
}

impl Default for Nudges {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                followed: Mutex::default(),
                kept: Mutex::default(),
                events_flowing: watch::Sender::new(false),
                missed_at: Mutex::default(),
            }),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere cannot leave these maps half-written: use them anyway.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Nudges {
    /// Listens for nudges of `execution_arn` while the returned watch lives.
    /// An end kept for it is delivered at once.
    pub fn watch(&self, execution_arn: &str) -> Watch {
        let slot = Arc::new(Slot::default());
        lock(&self.inner.followed).insert(execution_arn.to_string(), slot.clone());
        let watch = Watch {
            nudges: self.clone(),
            execution_arn: execution_arn.to_string(),
            slot,
        };
        if lock(&self.inner.kept).take(execution_arn) {
            watch.slot.deliver(Nudge::Ended);
        }
        watch
    }

    /// Tells the job following `execution_arn`, if any, to look at it now;
    /// returns whether one does. An end nobody follows is kept for the
    /// next job that does.
    pub fn nudge(&self, execution_arn: &str, nudge: Nudge) -> bool {
        let slot = lock(&self.inner.followed).get(execution_arn).cloned();
        match (slot, nudge) {
            (Some(slot), nudge) => {
                slot.deliver(nudge);
                true
            }
            (None, Nudge::Ended) => {
                lock(&self.inner.kept).keep(execution_arn, Instant::now(), KEEP_ENDS_BYTES);
                false
            }
            (None, _) => false,
        }
    }

    /// Whether a job of this process follows `execution_arn` now.
    pub fn is_followed(&self, execution_arn: &str) -> bool {
        lock(&self.inner.followed).contains_key(execution_arn)
    }

    /// The events queue answered a receive (`ok`) or failed.
    pub fn queue_answered(&self, ok: bool) {
        let since_miss = lock(&self.inner.missed_at).map(|at| at.elapsed());
        self.set_events_flowing(events_flowing(ok, since_miss));
    }

    /// A job saw its execution's end with no event for it: the rule may be
    /// disabled or its events lost. Jobs keep their own pace for a while.
    pub fn event_missed(&self) {
        *lock(&self.inner.missed_at) = Some(Instant::now());
        self.set_events_flowing(false);
    }

    fn set_events_flowing(&self, flowing: bool) {
        self.inner.events_flowing.send_if_modified(|now| {
            let changed = *now != flowing;
            *now = flowing;
            changed
        });
    }

    pub fn events_flowing(&self) -> bool {
        *self.inner.events_flowing.borrow()
    }

    /// Completes when events stop flowing (at once if they are not).
    pub async fn events_stopped(&self) {
        let mut flowing = self.inner.events_flowing.subscribe();
        // The sender lives as long as `self`: this cannot fail.
        let _ = flowing.wait_for(|flowing| !flowing).await;
    }
}

/// How long jobs keep their own pace after an end came with no event.
pub const QUIET_AFTER_MISS: Duration = Duration::from_secs(600);

/// Whether events are taken to be flowing (pure): the queue answers, and no
/// end was missed lately. Optimistic by design: the bootstrap's rule is
/// there and enabled unless a missed end says otherwise, and one miss
/// costs one late report.
pub fn events_flowing(queue_answers: bool, since_miss: Option<Duration>) -> bool {
    queue_answers && since_miss.is_none_or(|since| since >= QUIET_AFTER_MISS)
}

impl Slot {
    fn deliver(&self, nudge: Nudge) {
        let mut pending = lock(&self.pending);
        // An end is worth more than a hint; a hint never replaces an end.
        if *pending != Some(Nudge::Ended) {
            *pending = Some(nudge);
        }
        // Stores a permit if the job is busy checking: its next wait ends
        // at once, so a nudge between two waits is not lost.
        self.notify.notify_one();
    }
}

/// One job's interest in one execution; dropping it stops listening.
pub struct Watch {
    nudges: Nudges,
    execution_arn: String,
    slot: Arc<Slot>,
}

impl Watch {
    /// Completes with the next nudge of the execution.
    pub async fn nudged(&self) -> Nudge {
        loop {
            self.slot.notify.notified().await;
            if let Some(nudge) = lock(&self.slot.pending).take() {
                return nudge;
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut followed = lock(&self.nudges.inner.followed);
        // Only our own entry: a later watch of the same execution replaced it.
        if followed
            .get(&self.execution_arn)
            .is_some_and(|s| Arc::ptr_eq(s, &self.slot))
        {
            followed.remove(&self.execution_arn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn next(watch: &Watch) -> Option<Nudge> {
        tokio::time::timeout(Duration::from_millis(50), watch.nudged())
            .await
            .ok()
    }

    #[tokio::test]
    async fn a_nudge_reaches_the_watch_of_its_execution_only() {
        let nudges = Nudges::default();
        let a = nudges.watch("arn:a");
        let b = nudges.watch("arn:b");
        assert!(nudges.nudge("arn:a", Nudge::TaskAnswered));
        assert_eq!(next(&a).await, Some(Nudge::TaskAnswered));
        assert_eq!(next(&b).await, None);
        assert_eq!(next(&a).await, None, "one nudge, one wake-up");
    }

    #[tokio::test]
    async fn a_nudge_while_the_job_is_busy_wakes_its_next_wait() {
        let nudges = Nudges::default();
        let watch = nudges.watch("arn:a");
        nudges.nudge("arn:a", Nudge::Ended); // nobody waiting yet
        assert_eq!(next(&watch).await, Some(Nudge::Ended));
    }

    #[tokio::test]
    async fn an_end_is_not_overwritten_by_a_later_hint() {
        let nudges = Nudges::default();
        let watch = nudges.watch("arn:a");
        nudges.nudge("arn:a", Nudge::Ended);
        nudges.nudge("arn:a", Nudge::TaskAnswered);
        assert_eq!(next(&watch).await, Some(Nudge::Ended));
    }

    #[tokio::test]
    async fn an_end_nobody_follows_is_kept_for_the_next_job_once() {
        let nudges = Nudges::default();
        assert!(!nudges.nudge("arn:a", Nudge::Ended));
        assert!(!nudges.nudge("arn:b", Nudge::TaskAnswered));
        let a = nudges.watch("arn:a");
        assert_eq!(next(&a).await, Some(Nudge::Ended));
        drop(a);
        let again = nudges.watch("arn:a");
        assert_eq!(next(&again).await, None, "an end is handed over once");
        let b = nudges.watch("arn:b");
        assert_eq!(next(&b).await, None, "hints are not kept");
    }

    #[test]
    fn events_flow_while_the_queue_answers_and_no_end_was_missed_lately() {
        assert!(events_flowing(true, None));
        assert!(!events_flowing(false, None));
        assert!(!events_flowing(true, Some(Duration::from_secs(1))));
        assert!(events_flowing(true, Some(QUIET_AFTER_MISS)));
        let nudges = Nudges::default();
        nudges.queue_answered(true);
        nudges.event_missed();
        assert!(!nudges.events_flowing());
        nudges.queue_answered(true);
        assert!(!nudges.events_flowing(), "quiet for a while after a miss");
    }

    /// The ends kept for later jobs stay within [`KEEP_ENDS_BYTES`]
    /// whatever the ARNs the queue brings: the newest are kept, and an ARN
    /// larger than the bound alone is not.
    #[test]
    fn kept_ends_are_bounded_in_bytes() {
        let nudges = Nudges::default();
        let long = |i: usize| format!("arn:{i}:{}", "x".repeat(10_000));
        for i in 0..1_000 {
            nudges.nudge(&long(i), Nudge::Ended);
        }
        {
            let kept = lock(&nudges.inner.kept);
            let bytes: usize = kept.at.keys().map(|arn| kept_bytes(arn)).sum();
            assert_eq!(bytes, kept.bytes);
            assert!(bytes <= KEEP_ENDS_BYTES, "{bytes} bytes kept");
            assert!(kept.at.contains_key(&long(999)), "the newest is kept");
            assert!(!kept.at.contains_key(&long(0)), "the oldest went");
        }
        nudges.nudge(&"x".repeat(KEEP_ENDS_BYTES), Nudge::Ended);
        assert!(
            lock(&nudges.inner.kept).at.len() > 1,
            "a huge ARN pushes nothing out"
        );
        let typical = "arn:aws:states:us-east-1:123456789012:execution:cpsf-deploy:shop-1";
        let fits = KEEP_ENDS_BYTES / kept_bytes(typical);
        assert!(fits >= 1_024, "as many typical ends as before: {fits}");
    }

    /// An end kept, taken by its job, and kept again counts once.
    #[test]
    fn a_kept_end_taken_gives_its_bytes_back() {
        let mut kept = KeptEnds::default();
        let now = Instant::now();
        kept.keep("arn:a", now, 1_000);
        kept.keep("arn:a", now, 1_000);
        assert_eq!(kept.bytes, kept_bytes("arn:a"));
        assert!(kept.take("arn:a"));
        assert_eq!(kept.bytes, 0);
        kept.keep("arn:b", now, 1_000);
        kept.keep("arn:c", now + KEEP_ENDS_FOR, 1_000);
        assert_eq!(
            kept.at.keys().collect::<Vec<_>>(),
            ["arn:c"],
            "a stale end goes"
        );
    }

    #[tokio::test]
    async fn a_dropped_watch_stops_listening_without_removing_a_newer_one() {
        let nudges = Nudges::default();
        let old = nudges.watch("arn:a");
        let new = nudges.watch("arn:a");
        drop(old);
        nudges.nudge("arn:a", Nudge::TaskAnswered);
        assert_eq!(next(&new).await, Some(Nudge::TaskAnswered));
        drop(new);
        assert!(lock(&nudges.inner.followed).is_empty());
        assert!(!nudges.nudge("arn:a", Nudge::TaskAnswered));
    }

    #[tokio::test]
    async fn stopping_events_wakes_who_waits_for_it() {
        let nudges = Nudges::default();
        assert!(!nudges.events_flowing(), "not before the queue answers");
        nudges.queue_answered(true);
        assert!(nudges.events_flowing());
        let waiter = tokio::spawn({
            let nudges = nudges.clone();
            async move { nudges.events_stopped().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        nudges.queue_answered(false);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken")
            .unwrap();
    }
}
