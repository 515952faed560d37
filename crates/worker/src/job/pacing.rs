//! How a job paces itself while it follows an execution: when to check it
//! and how long each round follows, as pure functions of the execution's
//! age and the job's round (see `handle.rs` for why). When a
//! continuation's next check falls reads the clock: `base::clock`.

use super::handle::JobSettings;

use std::time::Duration;

/// Each round follows this many times longer than the one before...
pub const WINDOW_GROWTH: u32 = 8;
/// ...up to this many times `follow_for`: the longest a stopped worker's
/// journaled job waits before another worker takes it over.
pub const MAX_WINDOW_FACTOR: u32 = 32;
/// CodePipeline hands out an unacknowledged job again after a while (60 s
/// on the playground; AWS does not document it): a job followed before its
/// acknowledgement must be answered well before.
pub const UNACKNOWLEDGED_WINDOW: Duration = Duration::from_secs(30);

/// While execution events flow (`events/`), a check only stands in for a
/// lost event: at least this long apart (so an execution of a few minutes
/// is checked about once: the events benchmark's 5 min jobs made 1.45
/// DescribeExecution calls each with a one-minute floor)...
pub const EVENTS_CHECK_MIN: Duration = Duration::from_secs(120);
/// ...and four times the execution's age: sixteen times as slow as without.
const EVENTS_AGE_FACTOR: f64 = 4.0;

/// A quarter of the execution's age, within the settings' bounds; four
/// times its age, and at least a minute, while events flow.
pub fn check_pause(age_seconds: f64, settings: &JobSettings, events_flowing: bool) -> Duration {
    if events_flowing {
        let floor = EVENTS_CHECK_MIN.max(settings.check_min);
        Duration::from_secs_f64(age_seconds * EVENTS_AGE_FACTOR)
            .clamp(floor, settings.check_max.max(floor))
    } else {
        Duration::from_secs_f64(age_seconds / 4.0).clamp(settings.check_min, settings.check_max)
    }
}

/// How long a job of `round` follows its execution: `follow_for`, then
/// eight times as long each round, up to 32 times. Without a journal a
/// continuation job is followed before its acknowledgement, so its window
/// stays within [`UNACKNOWLEDGED_WINDOW`]. While execution events flow, the
/// longest window from the first round: the event tells the end, and
/// handing the job back would only cost calls.
pub fn follow_window(
    follow_for: Duration,
    round: u32,
    journaled: bool,
    events_flowing: bool,
) -> Duration {
    let factor = if events_flowing {
        MAX_WINDOW_FACTOR
    } else {
        WINDOW_GROWTH.saturating_pow(round).min(MAX_WINDOW_FACTOR)
    };
    let grown = follow_for * factor;
    if round == 0 || journaled {
        grown
    } else {
        grown.min(UNACKNOWLEDGED_WINDOW.max(follow_for))
    }
}

/// How long after a nudge (`nudge.rs`) a job checks its execution: Step
/// Functions runs the states after an answered task (a Choice, a Pass, the
/// end) in well under this.
pub const NUDGE_SETTLE: Duration = Duration::from_millis(300);

/// An end this much older than the check that found it should have come
/// as an event (they arrive within a second; one handed between workers
/// sharing a queue, within seconds): the events are not flowing after all.
pub const EVENT_GRACE: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_come_every_half_second_then_at_a_quarter_of_the_age() {
        let settings = JobSettings::default();
        let pause = |age: f64| check_pause(age, &settings, false).as_secs_f64();
        assert_eq!(pause(0.0), 0.5);
        assert_eq!(pause(1.9), 0.5);
        assert_eq!(pause(40.0), 10.0);
        assert_eq!(pause(3600.0), 600.0);
    }

    #[test]
    fn each_round_follows_eight_times_as_long_up_to_thirty_two_times() {
        let ten = Duration::from_secs(10);
        let windows: Vec<u64> = (0..5)
            .map(|round| follow_window(ten, round, true, false).as_secs())
            .collect();
        assert_eq!(windows, [10, 80, 320, 320, 320]);
        // No overflow however many rounds a day-long execution takes.
        assert_eq!(follow_window(ten, 300, true, false).as_secs(), 320);
    }

    #[test]
    fn without_a_journal_an_unacknowledged_job_is_answered_within_thirty_seconds() {
        let ten = Duration::from_secs(10);
        let windows: Vec<u64> = (0..4)
            .map(|round| follow_window(ten, round, false, false).as_secs())
            .collect();
        assert_eq!(windows, [10, 30, 30, 30]);
        // A first job is acknowledged before it follows: any follow_for.
        assert_eq!(
            follow_window(Duration::from_secs(60), 0, false, false).as_secs(),
            60
        );
    }

    #[test]
    fn while_events_flow_checks_are_sixteen_times_slower_and_two_minutes_apart_at_least() {
        let settings = JobSettings::default();
        let pause = |age: f64| check_pause(age, &settings, true).as_secs_f64();
        assert_eq!(pause(0.0), 120.0);
        assert_eq!(pause(40.0), 160.0);
        assert_eq!(pause(3600.0), 600.0);
        // A 5 min execution is checked once, at 2 min, and next past its
        // end: one check where the quarter-age pace makes ~20.
        let (mut age, mut checks) = (0.0, 0);
        while age < 300.0 {
            age += pause(age);
            checks += 1;
        }
        assert_eq!((checks, age), (2, 600.0));
        assert_eq!(pause(0.0) + pause(pause(0.0)), 600.0);
    }

    #[test]
    fn while_events_flow_every_round_follows_the_longest_window() {
        let ten = Duration::from_secs(10);
        assert_eq!(follow_window(ten, 0, true, true).as_secs(), 320);
        assert_eq!(follow_window(ten, 1, true, true).as_secs(), 320);
        // Without a journal an unacknowledged job is still answered in 30 s.
        assert_eq!(follow_window(ten, 1, false, true).as_secs(), 30);
    }
}
