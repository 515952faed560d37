//! Wall-clock time as the AWS APIs give it: seconds since the Unix epoch.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Now, in seconds since the Unix epoch (0 if the clock is before it).
pub fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// The instant an epoch time (a continuation's next check) falls on: now,
/// if it has passed.
pub fn instant_at(epoch_seconds: f64) -> Instant {
    Instant::now() + Duration::from_secs_f64((epoch_seconds - epoch_now()).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_continuations_next_check_falls_when_it_said() {
        let soon = instant_at(epoch_now() + 10.0) - Instant::now();
        assert!((9.9..=10.0).contains(&soon.as_secs_f64()), "{soon:?}");
        // A time already past (or none: 0) means now.
        assert!(instant_at(0.0) <= Instant::now());
    }
}
