//! When the approvals inbox sweeps its store for approvals past their
//! time (pure). It used to every 15 s, a LIST and a GET per pending
//! approval each time, even with none pending (issue 31's idle cost). Now
//! it sweeps when the earliest approval it knows of falls due, and with
//! none known, every [`SWEEP_IDLE`]: another worker's approvals are swept
//! by that worker, and this slow sweep covers one that stopped.

use std::time::Duration;

/// Never sooner than this after a sweep that failed, or found an approval
/// whose timeout Step Functions did not confirm.
pub const SWEEP_RETRY: Duration = Duration::from_secs(15);
/// The sweep with no approval known to be pending.
pub const SWEEP_IDLE: Duration = Duration::from_secs(300);

/// How long after `now` (epoch seconds) to sweep, given the earliest
/// expiry of the approvals pending (`None`: none), or `Err` for a sweep
/// that failed.
pub fn next_sweep(now: u64, earliest_expiry: Result<Option<u64>, ()>) -> Duration {
    match earliest_expiry {
        Err(()) => SWEEP_RETRY,
        Ok(None) => SWEEP_IDLE,
        // One already past its time is kept (its timeout unconfirmed):
        // try again shortly.
        Ok(Some(at)) if at <= now => SWEEP_RETRY,
        // A second past the expiry, so the record is due when read.
        Ok(Some(at)) => Duration::from_secs(at - now + 1).min(SWEEP_IDLE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_nothing_pending_the_store_is_swept_every_five_minutes() {
        assert_eq!(next_sweep(1_000, Ok(None)), SWEEP_IDLE);
        assert!(
            SWEEP_IDLE >= Duration::from_secs(20 * 15),
            "20× fewer sweeps"
        );
    }

    #[test]
    fn a_pending_approval_is_swept_a_second_after_its_time() {
        assert_eq!(next_sweep(1_000, Ok(Some(1_030))), Duration::from_secs(31));
        assert_eq!(next_sweep(1_000, Ok(Some(100_000))), SWEEP_IDLE);
        assert_eq!(next_sweep(1_000, Ok(Some(1_000))), SWEEP_RETRY);
        assert_eq!(next_sweep(1_000, Err(())), SWEEP_RETRY);
    }
}
