//! One budget of describe calls per second for all of a worker's waits.
//!
//! Each wait on a stack (or a change set) re-describes it from every half
//! second up to every 5 s. That is cheap for one wait, but a worker may
//! hold hundreds (`--wait-concurrency`), and CloudFormation throttles
//! DescribeStacks per account and region: "Rate exceeded" once the calls
//! exceed the allowed request rate, with fewer concurrent calls and
//! exponential backoff as AWS's advice
//! (<https://repost.aws/knowledge-center/cloudformation-rate-exceeded-error>).
//! AWS publishes no figure for DescribeStacks, and the console, CDK and
//! other workers share it, so the budget is a flag (`--describe-rate`).
//!
//! `n` waits that each pause `p` make `n / p` calls a second, so each
//! pauses at least `n / budget`: with the default budget of 10 a second,
//! up to 50 waits poll as before; 100 pause 10 s, 500 pause 50 s. A stack
//! is then noticed stable later, never later than one pause; the
//! heartbeats that keep the task alive do not depend on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Describe calls a second all waits of one worker make together, at most.
pub const DEFAULT_PER_SECOND: f64 = 10.0;

/// The pause before a wait's next describe: its own `pause` (backoff), or
/// longer when `waiting` waits would together exceed `per_second`.
pub fn pause_for(waiting: usize, pause: Duration, per_second: f64) -> Duration {
    if !(per_second.is_finite() && per_second > 0.0) {
        return pause;
    }
    pause.max(Duration::from_secs_f64(waiting as f64 / per_second))
}

/// The waits in progress, shared by all of a worker's handlers.
#[derive(Debug, Clone)]
pub struct Pace {
    waiting: Arc<AtomicUsize>,
    per_second: f64,
}

impl Default for Pace {
    fn default() -> Self {
        Self::new(DEFAULT_PER_SECOND)
    }
}

impl Pace {
    pub fn new(per_second: f64) -> Self {
        Self {
            waiting: Arc::default(),
            per_second,
        }
    }

    /// Counts a wait until the returned guard is dropped.
    pub fn enter(&self) -> Waiting {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting(self.waiting.clone())
    }

    /// Waits in progress now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// `pause`, stretched to keep all waits within the budget. A stretched
    /// pause gets up to half again at random: waits that began together
    /// (a burst of deploys) would otherwise describe together, in bursts
    /// a token bucket throttles even when the average rate is fine.
    pub fn stretch(&self, pause: Duration) -> Duration {
        let paced = pause_for(self.waiting(), pause, self.per_second);
        if paced > pause {
            paced.mul_f64(1.0 + rand::random::<f64>() / 2.0)
        } else {
            pause
        }
    }
}

/// One wait in progress; dropping it ends the count.
#[derive(Debug)]
pub struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(f64) -> Duration = Duration::from_secs_f64;

    #[test]
    fn few_waits_keep_their_own_pace() {
        assert_eq!(pause_for(1, S(0.5), 10.0), S(0.5));
        assert_eq!(pause_for(5, S(0.5), 10.0), S(0.5));
        assert_eq!(pause_for(50, S(5.0), 10.0), S(5.0));
    }

    #[test]
    fn the_pause_grows_with_the_waits_so_the_rate_stays_within_the_budget() {
        assert_eq!(pause_for(100, S(0.5), 10.0), S(10.0));
        assert_eq!(pause_for(500, S(5.0), 10.0), S(50.0));
        for waiting in [1, 7, 50, 100, 256, 1000] {
            let pause = pause_for(waiting, S(0.5), 10.0);
            let rate = waiting as f64 / pause.as_secs_f64();
            assert!(rate <= 10.0 + 1e-9, "{waiting} waits: {rate} a second");
        }
    }

    #[test]
    fn no_budget_means_no_pacing() {
        assert_eq!(pause_for(1000, S(0.5), 0.0), S(0.5));
        assert_eq!(pause_for(1000, S(0.5), f64::INFINITY), S(0.5));
        assert_eq!(pause_for(1000, S(0.5), f64::NAN), S(0.5));
    }

    #[test]
    fn waits_are_counted_while_they_last() {
        let pace = Pace::new(1.0);
        let a = pace.enter();
        let b = pace.enter();
        assert_eq!(pace.waiting(), 2);
        let stretched = pace.stretch(S(0.5));
        assert!(stretched >= S(2.0) && stretched <= S(3.0), "{stretched:?}");
        drop((a, b));
        assert_eq!(pace.waiting(), 0);
        assert_eq!(pace.stretch(S(0.5)), S(0.5));
    }
}
