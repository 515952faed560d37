//! The bake's verdict (pure): given the alarms it watches and what
//! DescribeAlarms answered in each region baked, does the rollout go on?
//!
//! CloudWatch API reference, DescribeAlarms: `AlarmNames` (up to 100) and
//! `AlarmNamePrefix` cannot be sent in one call, so the edge asks once for
//! each, in each region, and hands every answer here; `StateValue` is `OK`,
//! `ALARM` or `INSUFFICIENT_DATA`.
//!
//! - `ALARM` stops the rollout, naming the alarm, its region and its
//!   `StateReason`.
//! - `INSUFFICIENT_DATA` does not: an alarm has it when its metric has too
//!   few data points to evaluate, which is normal right after a deploy
//!   creates the metric, or for a quiet service. Whether missing data
//!   should breach is the alarm's own `TreatMissingData` (CloudWatch user
//!   guide, "Configuring how CloudWatch alarms treat missing data"), and a
//!   breach shows as `ALARM`.
//! - An alarm the bake names that exists in none of the regions baked, or
//!   a prefix no alarm starts with, stops it too: a misspelt name would
//!   otherwise bake while watching nothing.

use super::fair::{list, units};
use super::plan::not_started;
use super::spec::Bake;
use crate::base::limits::MAX_FAILURE_MESSAGE;
use crate::base::text::cut;

/// One alarm from a DescribeAlarms answer (`MetricAlarms` or
/// `CompositeAlarms`), and the region it was asked in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmState {
    pub name: String,
    pub region: String,
    pub state_value: String,
    pub state_reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BakeVerdict {
    Healthy,
    /// The rollout ends here; `message` fits PutJobFailureResult.
    Stop {
        message: String,
    },
}

/// What the bake after wave `wave` of `waves` (counted from 1) decides,
/// from the answers of `regions`.
pub fn verdict(
    wave: usize,
    waves: usize,
    bake: &Bake,
    regions: &[String],
    alarms: &[AlarmState],
) -> BakeVerdict {
    let watched: Vec<&AlarmState> = alarms.iter().filter(|a| bake.watches(&a.name)).collect();
    let mut firing: Vec<&AlarmState> = watched
        .iter()
        .copied()
        .filter(|a| a.state_value == "ALARM")
        .collect();
    firing.sort_by(|a, b| (&a.name, &a.region).cmp(&(&b.name, &b.region)));
    firing.dedup_by(|a, b| (&a.name, &a.region) == (&b.name, &b.region));
    let mut unseen: Vec<String> = Vec::new();
    for name in &bake.alarms {
        let named = format!("alarm '{name}'");
        if !watched.iter().any(|a| a.name == *name) && !unseen.contains(&named) {
            unseen.push(named);
        }
    }
    if let Some(prefix) = &bake.alarm_prefix
        && !watched.iter().any(|a| a.name.starts_with(prefix.as_str()))
    {
        unseen.push(format!("any alarm starting with '{prefix}'"));
    }
    if firing.is_empty() && unseen.is_empty() {
        return BakeVerdict::Healthy;
    }
    let mut message = format!(
        "the bake after wave {wave}/{waves} stopped the rollout{}: ",
        not_started(wave, waves)
    );
    let missing = (!unseen.is_empty()).then(|| {
        let items: Vec<(String, String)> = unseen.into_iter().map(|u| (u, String::new())).collect();
        // Alarms in ALARM matter most: beside them, what is missing gets
        // at most 1,000 characters.
        let budget = if firing.is_empty() {
            MAX_FAILURE_MESSAGE
        } else {
            1000
        };
        format!(
            "the bake watches {}, found in none of the regions baked ({}): a missing alarm \
             watches nothing; check the name, or create the alarm",
            list(&items, budget.saturating_sub(units(&message) + 200)),
            regions.join(", ")
        )
    });
    if !firing.is_empty() {
        let lead = format!(
            "{} watched alarm{} in ALARM: ",
            firing.len(),
            if firing.len() == 1 { " is" } else { "s are" }
        );
        let items: Vec<(String, String)> = firing
            .iter()
            .map(|a| {
                (
                    format!("'{}' in {}", a.name, a.region),
                    format!(": {}", a.state_reason),
                )
            })
            .collect();
        let room = MAX_FAILURE_MESSAGE
            .saturating_sub(units(&message) + units(&lead))
            .saturating_sub(missing.as_deref().map_or(0, |m| units(m) + 2));
        message.push_str(&lead);
        message.push_str(&list(&items, room));
    }
    if let Some(missing) = missing {
        if !firing.is_empty() {
            message.push_str("; ");
        }
        message.push_str(&missing);
    }
    if bake.rollback && !firing.is_empty() {
        // Which path rolled back: not CloudFormation's (`rollback.rs`).
        message = cut(&message, MAX_FAILURE_MESSAGE - 220);
        message.push_str(&format!(
            ". Not rolled back: CloudFormation's rollback triggers watch a stack only during its \
             operation and monitoring period, which had ended, so wave {wave} stays deployed"
        ));
    }
    BakeVerdict::Stop {
        message: cut(&message, MAX_FAILURE_MESSAGE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bake(alarms: &[&str], prefix: Option<&str>) -> Bake {
        Bake {
            seconds: 300,
            alarms: alarms.iter().map(|a| a.to_string()).collect(),
            alarm_prefix: prefix.map(str::to_string),
            rollback: false,
        }
    }

    fn alarm(name: &str, region: &str, state: &str, reason: &str) -> AlarmState {
        AlarmState {
            name: name.into(),
            region: region.into(),
            state_value: state.into(),
            state_reason: reason.into(),
        }
    }

    fn regions() -> Vec<String> {
        vec!["us-east-1".into(), "eu-west-1".into()]
    }

    #[test]
    fn with_rollback_an_alarm_read_after_the_monitoring_says_the_wave_stayed() {
        let answers = [alarm(
            "app-errors",
            "us-east-1",
            "ALARM",
            "Threshold Crossed",
        )];
        let mut watched = bake(&["app-errors"], None);
        watched.rollback = true;
        let BakeVerdict::Stop { message } = verdict(1, 3, &watched, &regions(), &answers) else {
            panic!("an alarm in ALARM stops the rollout");
        };
        assert!(
            message.contains("'app-errors' in us-east-1: Threshold Crossed"),
            "{message}"
        );
        assert!(message.ends_with("so wave 1 stays deployed"), "{message}");
        watched.rollback = false;
        let BakeVerdict::Stop { message } = verdict(1, 3, &watched, &regions(), &answers) else {
            panic!("an alarm in ALARM stops the rollout");
        };
        assert!(!message.contains("rolled back"), "{message}");
    }

    #[test]
    fn quiet_alarms_and_insufficient_data_let_the_rollout_go_on() {
        let answers = [
            alarm("app-errors", "us-east-1", "OK", "fine"),
            alarm(
                "app-latency",
                "eu-west-1",
                "INSUFFICIENT_DATA",
                "no data yet",
            ),
            // Not watched: its state does not matter.
            alarm("billing", "us-east-1", "ALARM", "over budget"),
        ];
        let verdict = verdict(
            1,
            3,
            &bake(&["app-errors"], Some("app-")),
            &regions(),
            &answers,
        );
        assert_eq!(verdict, BakeVerdict::Healthy);
    }

    #[test]
    fn an_alarm_in_alarm_is_named_with_its_region_and_reason() {
        let answers = [
            alarm("app-errors", "us-east-1", "OK", "fine"),
            alarm(
                "app-errors",
                "eu-west-1",
                "ALARM",
                "Threshold Crossed: 3 datapoints > 1",
            ),
        ];
        let BakeVerdict::Stop { message } =
            verdict(1, 3, &bake(&["app-errors"], None), &regions(), &answers)
        else {
            panic!("the alarm must stop the rollout");
        };
        assert_eq!(
            message,
            "the bake after wave 1/3 stopped the rollout; waves 2 to 3 were not started: 1 watched \
             alarm is in ALARM: 'app-errors' in eu-west-1: Threshold Crossed: 3 datapoints > 1"
        );
    }

    #[test]
    fn a_watched_name_or_prefix_that_matches_nothing_stops_the_rollout() {
        let answers = [alarm("app-errors", "us-east-1", "OK", "fine")];
        let BakeVerdict::Stop { message } = verdict(
            2,
            3,
            &bake(&["app-errors", "app-erors"], Some("web-")),
            &regions(),
            &answers,
        ) else {
            panic!("a missing alarm must stop the rollout");
        };
        assert_eq!(
            message,
            "the bake after wave 2/3 stopped the rollout; wave 3 was not started: the bake watches \
             alarm 'app-erors'; any alarm starting with 'web-', found in none of the regions baked \
             (us-east-1, eu-west-1): a missing alarm watches nothing; check the name, or create the alarm"
        );
    }

    #[test]
    fn many_alarms_with_long_reasons_fit_and_are_named_as_far_as_they_go() {
        let answers: Vec<AlarmState> = (0..40)
            .map(|i| {
                alarm(
                    &format!("app-{i:02}"),
                    "us-east-1",
                    "ALARM",
                    &"why ".repeat(300),
                )
            })
            .collect();
        let BakeVerdict::Stop { message } =
            verdict(1, 2, &bake(&[], Some("app-")), &regions(), &answers)
        else {
            panic!("alarms must stop the rollout");
        };
        assert!(message.chars().count() <= MAX_FAILURE_MESSAGE);
        assert!(
            message.contains("40 watched alarms are in ALARM"),
            "{message}"
        );
        for i in 0..40 {
            assert!(
                message.contains(&format!("'app-{i:02}' in us-east-1: why")),
                "{i}: {message}"
            );
        }
    }
}
